package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.time.ClockMode;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The PC test kernels (guests/pctest: Multiboot kernels in the kvm-unit-tests conventions) on the
 * interpreter with the real interrupt controllers and devices, booted by the real multiboot loader
 * and core outside OSGi: the RTC (IRQ 8 through the 8259 pair and through the IOAPIC), the local
 * APIC timer, the IOAPIC with the PIT and the RTC as sources, and IPIs between two vCPUs, each with
 * the emulated and the virtual-delivery APIC. The same kernels pass under
 * {@code qemu-system-i386 -accel tcg} (guests/pctest/README.md), so these results compare our parts
 * with a reference. The VM clock counts instructions ({@code deterministic}), so the kernels' timing
 * checks hold however busy the host is; the kernels halt where they wait long, and the clock skips
 * the halted time.
 */
class PcTestKernelsEndToEndTest {

    private VmManagerImpl manager;
    @TempDir
    Path tmp;

    @BeforeEach
    void setUp() throws Exception {
        manager = new VmManagerImpl();
        for (PartLoader.Found f : PartLoader.load(getClass().getClassLoader())) {
            manager.addPart(f.kind(), f.part());
        }
        for (BootLoader l : PartLoader.bootLoaders(getClass().getClassLoader())) {
            manager.registerBootLoader(l);
        }
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    private Path kernel(String test) throws IOException {
        String name = "org/polyvisor/guests/pctest/" + test + ".elf";
        try (InputStream in = getClass().getClassLoader().getResourceAsStream(name)) {
            assertTrue(in != null, "no bundled test kernel " + name);
            Path p = tmp.resolve(test + ".elf");
            Files.write(p, in.readAllBytes());
            return p;
        }
    }

    /**
     * Runs a test kernel and checks its report: powered off with status 1 (all passed), no FAIL
     * line, and as many PASS lines and SKIP lines as expected.
     */
    private String run(String test, String irqchip, int vcpus, int passes, int skips) throws Exception {
        VmConfig config = VmConfig.builder("pctest-" + test + "-" + irqchip).cpu("interpreter").irqchip(irqchip)
                .devices("uart16550, debug-exit, pit8254, rtc").memory(32L << 20).vcpus(vcpus)
                .clock(ClockMode.DETERMINISTIC).kernel(kernel(test).toString()).build();
        Vm vm = manager.define(config);
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(900), VmState.STOPPED, VmState.CRASHED);
        String out = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        manager.destroy(vm.name());
        assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
        assertFalse(out.contains("FAIL:"), out);
        Matcher m = Pattern.compile("SUMMARY: (\\d+) tests, (\\d+) unexpected failures, (\\d+) skipped").matcher(out);
        assertTrue(m.find(), out);
        assertEquals(0, Integer.parseInt(m.group(2)), out);
        assertEquals(passes, Integer.parseInt(m.group(1)), out);
        assertEquals(passes, out.lines().filter(l -> l.startsWith("PASS: ")).count(), out);
        assertEquals(skips, Integer.parseInt(m.group(3)), out);
        return out;
    }

    /**
     * Time and date in both formats and hour modes, the leap-day rollover, UIP, update-ended,
     * alarm and periodic interrupts and NVRAM with the memory sizes; IRQ 8 through the 8259 pair,
     * and with an APIC also through IOAPIC pin 8 (the {@code pic} chip has none: one skip).
     */
    @ParameterizedTest(name = "irqchip {0}")
    @CsvSource({"pic, 23, 1", "apic, 30, 0", "apic-v, 30, 0"})
    void rtc(String irqchip, int passes, int skips) throws Exception {
        String out = run("rtc", irqchip, 1, passes, skips);
        assertTrue(out.contains("extended 31744 KiB"), out);
    }

    /** One-shot, periodic, divide configuration, current count, masked LVT; TSC deadline skipped
     * (the interpreter's CPU model does not report it). */
    @ParameterizedTest(name = "irqchip {0}")
    @CsvSource({"apic, 22, 1", "apic-v, 22, 1"})
    void lapicTimer(String irqchip, int passes, int skips) throws Exception {
        String out = run("lapic", irqchip, 1, passes, skips);
        assertTrue(out.contains("bus 1000"), "the timer counts at the 1 GHz bus clock against the PIT\n" + out);
    }

    /** PIT on pin 2 and RTC on pin 8, edge and level, remote IRR with both EOIs, masking. */
    @ParameterizedTest(name = "irqchip {0}")
    @CsvSource({"apic, 20, 0", "apic-v, 20, 0"})
    void ioapic(String irqchip, int passes, int skips) throws Exception {
        run("ioapic", irqchip, 1, passes, skips);
    }

    /** INIT/SIPI/SIPI, fixed IPIs both ways, self, shorthands, logical, lowest priority, NMI. */
    @ParameterizedTest(name = "irqchip {0}")
    @CsvSource({"apic, 18, 0", "apic-v, 18, 0"})
    void ipi(String irqchip, int passes, int skips) throws Exception {
        run("ipi", irqchip, 2, passes, skips);
    }
}
