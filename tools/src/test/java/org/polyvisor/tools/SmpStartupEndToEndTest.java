package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
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
 * The MP start-up sequence end to end (guests/smp): on the interpreter with two vCPUs and a local
 * APIC, the BSP finds the APIC in CPUID, sends INIT and a startup IPI through the xAPIC ICR at
 * 0xFEE00300, and the AP, woken from wait-for-SIPI by the chip's kick, prints on COM1 from real
 * mode at F000:0000 (SIPI vector 0xF0). Both APIC delivery modes.
 */
class SmpStartupEndToEndTest {

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

    @ParameterizedTest(name = "irqchip={0} mmu={1}")
    @CsvSource({"apic, ''", "apic-v, ''", "apic, shadow", "apic, slat"})
    void bspStartsTheApWithInitAndSipi(String irqchip, String mmu) throws Exception {
        VmConfig config = VmConfig.builder("smp-" + irqchip).cpu("interpreter").mmu(mmu).irqchip(irqchip).vcpus(2)
                .devices("uart16550, debug-exit").memory(16L << 20)
                .firmware(RunGuest.bundledRom("smp-initsipi.rom").toString()).build();
        Vm vm = manager.define(config);
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(60), VmState.STOPPED, VmState.CRASHED);
        String out = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
        assertTrue(out.contains("SMP: APIC in CPUID\r\n"), out);
        assertTrue(out.contains("SMP: AP 1 up in real mode at F000:0000\r\n"), out);
        assertTrue(out.contains("SMP: PASS\r\n"), out);
    }
}
