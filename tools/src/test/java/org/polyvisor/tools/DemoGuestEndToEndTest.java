package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The demo guest on the real parts (interpreter, 8259 PIC, 16550 UART, debug-exit), assembled by
 * the real core, outside OSGi.
 */
class DemoGuestEndToEndTest {

    private VmManagerImpl manager;

    @BeforeEach
    void setUp() throws Exception {
        manager = new VmManagerImpl();
        List<PartLoader.Found> parts = PartLoader.load(getClass().getClassLoader());
        for (PartLoader.Found f : parts) {
            manager.addPart(f.kind(), f.part());
        }
        assertTrue(manager.parts().stream().anyMatch(p -> p.kind() == PartKind.CPU && p.name().equals("interpreter")),
                "the interpreter is found on the class path: " + manager.parts());
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    private VmConfig config(String name, String rom) throws Exception {
        return config(name, rom, "interpreter");
    }

    private VmConfig config(String name, String rom, String cpu) throws Exception {
        return VmConfig.builder(name).cpu(cpu).irqchip("pic").devices("uart16550, debug-exit")
                .memory(16L << 20).firmware(RunGuest.bundledRom(rom).toString()).build();
    }

    private static String output(Vm vm) {
        return new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
    }

    private static void awaitOutput(Vm vm, String text) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!output(vm).contains(text)) {
            if (System.nanoTime() > deadline || vm.status().state() != VmState.RUNNING) {
                fail("waited for '" + text + "'; vm " + vm.status().describe() + " printed: " + output(vm));
            }
            Thread.sleep(5);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"interpreter", "binary-translation"})
    void testVariantPassesItsSelfChecksAndExitsThroughPort0xF4(String cpu) throws Exception {
        Vm vm = manager.define(config("demo-test", "demo-test.rom", cpu));
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(120), VmState.STOPPED, VmState.CRASHED);
        String out = output(vm);
        assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
        assertTrue(out.contains("Polyvisor demo guest: real mode\r\nIVT ok\r\nIDT ok\r\n"), out);
        assertTrue(out.contains("Polyvisor demo guest: 32-bit protected mode\r\ncount: 1\r\ncount: 2\r\ncount: 3\r\n"), out);
        assertTrue(out.contains("all self-checks passed"), out);
        assertFalse(out.contains("FAIL"), out);
        assertEquals(8, out.lines().filter(l -> l.startsWith("PASS: ")).count(), out);
        assertTrue(vm.stats().instructionsRetired() > 0);
    }

    @Test
    void countsEchoesAndSurvivesSwapsWithoutGapOrRepeat() throws Exception {
        Vm vm = manager.define(config("demo", "demo.rom"));
        vm.start();
        awaitOutput(vm, "count: 2\r\n");
        vm.console().send("hello\r".getBytes(StandardCharsets.US_ASCII));
        awaitOutput(vm, "hello\r\n");
        for (int i = 0; i < 10; i++) {
            vm.swap(PartKind.CPU, "interpreter");
            Thread.sleep(20);
        }
        long before = countLines(output(vm));
        awaitOutput(vm, "count: " + (before + 2) + "\r\n");
        vm.stop();
        assertContinuousCount(output(vm));
    }

    /** Hot swap stress: the CPU engine alternates between the interpreter and binary translation. */
    @Test
    void swapsBetweenInterpreterAndBinaryTranslationManyTimesASecond() throws Exception {
        Vm vm = manager.define(config("demo-bt", "demo.rom", "binary-translation"));
        vm.start();
        awaitOutput(vm, "count: 2\r\n");
        long t0 = System.nanoTime();
        int swaps = 0;
        while (swaps < 200 || swaps % 2 != 0 || System.nanoTime() - t0 < Duration.ofSeconds(2).toNanos()) {
            vm.swap(PartKind.CPU, swaps % 2 == 0 ? "interpreter" : "binary-translation");
            swaps++;
            Thread.sleep(2);
            if (swaps == 100) {
                vm.console().send("swap\r".getBytes(StandardCharsets.US_ASCII));
            }
        }
        awaitOutput(vm, "swap\r\n");
        long before = countLines(output(vm));
        awaitOutput(vm, "count: " + (before + 2) + "\r\n");
        assertEquals("binary-translation", vm.config().cpu(), "after an even number of swaps");
        vm.stop();
        assertContinuousCount(output(vm));
    }

    static long countLines(String out) {
        Matcher m = Pattern.compile("count: (\\d+)\r\n").matcher(out);
        long last = 0;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last;
    }

    static void assertContinuousCount(String out) {
        Matcher m = Pattern.compile("count: (\\d+)").matcher(out);
        long expect = 1;
        while (m.find()) {
            assertEquals(expect, Long.parseLong(m.group(1)), "count sequence in " + out);
            expect++;
        }
        assertTrue(expect > 3, out);
    }
}
