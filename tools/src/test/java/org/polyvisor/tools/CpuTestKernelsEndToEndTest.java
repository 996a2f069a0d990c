package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The CPU test kernels (guests/cputest: gates, task switches, virtual-8086 mode, paging faults,
 * the I/O permission bitmap) on the interpreter and on binary translation, assembled by the real core outside OSGi. Each
 * kernel checks itself and reports PASS/FAIL lines on COM1; it passes here when it powers off with
 * exit status 1, printed no FAIL line and ran all its tests. The same ROMs pass under
 * {@code qemu-system-i386 -accel tcg} (see guests/cputest/README.md), so these results compare our
 * CPU with a reference rather than with our own reading of the manual.
 */
class CpuTestKernelsEndToEndTest {

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

    @ParameterizedTest(name = "{0} on {2}")
    @CsvSource({"gates, 10, interpreter", "tasks, 9, interpreter", "v86, 6, interpreter", "paging, 7, interpreter",
        "iobitmap, 6, interpreter", "gates, 10, binary-translation", "tasks, 9, binary-translation",
        "v86, 6, binary-translation", "paging, 7, binary-translation", "iobitmap, 6, binary-translation"})
    void kernelPassesAllItsTests(String suite, int tests, String cpu) throws Exception {
        String rom = "cputest-" + suite + ".rom";
        VmConfig config = VmConfig.builder("cputest-" + suite).cpu(cpu).irqchip("pic")
                .devices("uart16550, debug-exit").memory(16L << 20).firmware(RunGuest.bundledRom(rom).toString())
                .build();
        Vm vm = manager.define(config);
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(120), VmState.STOPPED, VmState.CRASHED);
        String out = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
        assertTrue(out.contains("Polyvisor CPU test kernel: " + suite + "\r\n"), out);
        assertFalse(out.contains("FAIL"), out);
        List<String> passes = out.lines().filter(l -> l.startsWith("PASS: ")).toList();
        assertEquals(tests, passes.size(), out);
        Matcher m = Pattern.compile(Pattern.quote(suite) + ": (\\d+) passed, (\\d+) failed").matcher(out);
        assertTrue(m.find(), out);
        assertEquals(tests, Integer.parseInt(m.group(1)), out);
        assertEquals(0, Integer.parseInt(m.group(2)), out);
    }
}
