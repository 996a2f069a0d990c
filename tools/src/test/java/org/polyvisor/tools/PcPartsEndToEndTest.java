package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The PC parts of issue 4 (apic/apic-v, pit8254, rtc, i8042, fwcfg) found through their DS
 * descriptors and assembled by the real core around the interpreter and the demo guest.
 */
class PcPartsEndToEndTest {

    private static final String DEVICES = "uart16550, debug-exit, pit8254, rtc, i8042, fwcfg";
    private VmManagerImpl manager;

    @BeforeEach
    void setUp() throws Exception {
        manager = new VmManagerImpl();
        for (PartLoader.Found f : PartLoader.load(getClass().getClassLoader())) {
            manager.addPart(f.kind(), f.part());
        }
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    private VmConfig config(String name, String irqchip, String rom) throws Exception {
        return VmConfig.builder(name).cpu("interpreter").irqchip(irqchip).devices(DEVICES)
                .memory(16L << 20).firmware(RunGuest.bundledRom(rom).toString()).build();
    }

    private static String output(Vm vm) {
        return new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
    }

    @Test
    void partsAreRegisteredUnderTheirNames() {
        for (String n : List.of("apic", "apic-v")) {
            assertTrue(manager.parts().stream().anyMatch(p -> p.kind() == PartKind.IRQCHIP && p.name().equals(n)), n);
        }
        for (String n : List.of("pit8254", "rtc", "i8042", "fwcfg")) {
            assertTrue(manager.parts().stream().anyMatch(p -> p.kind() == PartKind.DEVICE && p.name().equals(n)), n);
        }
    }

    @Test
    void demoTestGuestPassesWithTheApicAndThePcDevices() throws Exception {
        for (String chip : List.of("apic", "apic-v")) {
            Vm vm = manager.define(config("pc-" + chip, chip, "demo-test.rom"));
            vm.start();
            VmStatus st = vm.awaitState(Duration.ofSeconds(120), VmState.STOPPED, VmState.CRASHED);
            String out = output(vm);
            assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
            assertTrue(out.contains("all self-checks passed"), out);
            assertFalse(out.contains("FAIL"), out);
            manager.destroy(vm.name());
        }
    }

    @Test
    void swapsBetweenPlainAndVirtualDeliveryWhileTheGuestRuns() throws Exception {
        Vm vm = manager.define(config("pc-swap", "apic", "demo.rom"));
        vm.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!output(vm).contains("count: 2\r\n")) {
            if (System.nanoTime() > deadline) {
                fail("no count: " + output(vm));
            }
            Thread.sleep(5);
        }
        for (int i = 0; i < 10; i++) {
            vm.swap(PartKind.IRQCHIP, i % 2 == 0 ? "apic-v" : "apic");
            Thread.sleep(10);
        }
        long before = DemoGuestEndToEndTest.countLines(output(vm));
        while (DemoGuestEndToEndTest.countLines(output(vm)) < before + 2) {
            if (System.nanoTime() > deadline || vm.status().state() != VmState.RUNNING) {
                fail("stopped counting: " + vm.status().describe() + " " + output(vm));
            }
            Thread.sleep(5);
        }
        String devices = vm.devices().toString();
        for (String r : List.of("fee00000", "fec00000", "0x40-0x43", "0x70-0x71", "0x92", "0x510")) {
            assertTrue(devices.contains(r), r + " in " + devices);
        }
        Map<String, Map<String, Long>> parts = vm.stats().parts();
        assertTrue(parts.containsKey("device pit8254"), parts.keySet().toString());
        assertEquals(0L, parts.get("irqchip apic").get("mode-virtual"), "after an even number of swaps");
        vm.stop();
        DemoGuestEndToEndTest.assertContinuousCount(output(vm));
    }
}
