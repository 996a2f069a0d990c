package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The A20 gate end to end (guests/a20): the i8042 tells the core through VmControl.setA20, the
 * core publishes the mask, and the interpreter applies it from the instruction after the OUT, so
 * FFFF:0010 wraps to physical 0 with the gate closed and reaches 0x100000 with it open.
 */
class A20GateEndToEndTest {

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

    @ParameterizedTest(name = "mmu ''{0}''")
    @ValueSource(strings = {"", "shadow", "slat"})
    void gateFollowsTheI8042AndPort92(String mmu) throws Exception {
        VmConfig config = VmConfig.builder("a20").cpu("interpreter").mmu(mmu).irqchip("pic")
                .devices("uart16550, debug-exit, i8042").memory(16L << 20)
                .firmware(RunGuest.bundledRom("a20-gate.rom").toString()).build();
        Vm vm = manager.define(config);
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(60), VmState.STOPPED, VmState.CRASHED);
        String out = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
        for (String step : new String[] {"open at power-on", "closed by i8042 output port", "opened by port 0x92",
            "closed by port 0x92", "opened by i8042 output port"}) {
            assertTrue(out.contains("A20: " + step + " ok\r\n"), out);
        }
        assertTrue(out.contains("A20: PASS\r\n"), out);
    }
}
