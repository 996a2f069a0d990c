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
 * CPU with a reference rather than with our own reading of the manual. Each kernel runs with the
 * engine's own page walk and under both MMU strategies ({@code shadow}, {@code slat}).
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

    @ParameterizedTest(name = "{0} on {2} with mmu [{3}]")
    @CsvSource({"gates, 10, interpreter, ''", "gates, 10, interpreter, shadow", "gates, 10, interpreter, slat",
        "gates, 10, binary-translation, ''", "tasks, 9, interpreter, ''", "tasks, 9, interpreter, shadow",
        "tasks, 9, interpreter, slat", "tasks, 9, binary-translation, ''", "v86, 6, interpreter, ''",
        "v86, 6, interpreter, shadow", "v86, 6, interpreter, slat", "v86, 6, binary-translation, ''",
        "paging, 7, interpreter, ''", "paging, 7, interpreter, shadow", "paging, 7, interpreter, slat",
        "paging, 7, binary-translation, ''", "iobitmap, 6, interpreter, ''", "iobitmap, 6, interpreter, shadow",
        "iobitmap, 6, interpreter, slat", "iobitmap, 6, binary-translation, ''"})
    void kernelPassesAllItsTests(String suite, int tests, String cpu, String mmu) throws Exception {
        runKernel(suite, tests, cpu, "pic", "", mmu);
    }

    /**
     * The cpu suite (CPUID, CR4 feature bits, RDTSC, SYSENTER/SYSEXIT, NMI through the local APIC)
     * under each built-in CPU model and a model with overrides; the CPUID line it prints must show
     * what the VM's configuration says.
     */
    @ParameterizedTest(name = "cpu model [{0}]")
    @CsvSource(delimiter = ';', value = {
        "'';                                  GenuineIntel; 0x00000633; 0x0100a979; 0x00000000",
        "pentium-pro;                         GenuineIntel; 0x00000619; 0x0000a179; 0x00000000",
        "pentium3;                            GenuineIntel; 0x00000686; 0x0100a979; 0x00000000",
        "pentium2,vendor=AuthenticAMD,family=6,model=10,stepping=0,brand=Polyvisor Test CPU,features=-sep;"
            + " AuthenticAMD; 0x000006a0; 0x0100a179; 0x80000004"})
    void cpuKernelSeesTheConfiguredModel(String model, String vendor, String signature, String edx, String maxExt)
            throws Exception {
        String out = runKernel("cpu", 6, "interpreter", "apic", model, "");
        // EDX with the APIC bit (9): the VM has a local APIC.
        int withApic = Integer.parseUnsignedInt(edx.substring(2), 16) | 1 << 9;
        assertTrue(out.contains(String.format("CPUID vendor=%s signature=%s edx=0x%08x ecx=0x00000000 max-extended=%s\r\n",
                vendor, signature, withApic, maxExt)), out);
        assertEquals(maxExt.equals("0x80000004"), out.contains("CPUID brand=Polyvisor Test CPU\r\n"), out);
    }

    private String runKernel(String suite, int tests, String cpu, String irqchip, String model, String mmu)
            throws Exception {
        String rom = "cputest-" + suite + ".rom";
        VmConfig config = VmConfig.builder("cputest-" + suite).cpu(cpu).mmu(mmu).irqchip(irqchip)
                .cpuModel(model)
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
        return out;
    }
}
