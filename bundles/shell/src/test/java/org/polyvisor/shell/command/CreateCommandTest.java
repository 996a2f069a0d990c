package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.time.ClockMode;
import org.polyvisor.vm.VmConfig;

class CreateCommandTest {

    private static CreateCommand demo() {
        CreateCommand c = new CreateCommand();
        c.name = "demo2";
        c.irqchip = "pic";
        c.devices = "uart16550, debug-exit";
        c.memory = "16M";
        c.firmware = "guests/demo.rom";
        return c;
    }

    @Test
    void buildsTheConfigurationFromTheOptions() {
        CreateCommand c = demo();
        c.clock = "Deterministic";
        VmConfig config = c.toConfig();
        assertEquals("demo2", config.name());
        assertEquals("interpreter", config.cpu());
        assertEquals("pic", config.irqchip());
        assertEquals(2, config.devices().size());
        assertEquals("debug-exit", config.devices().get(1).model());
        assertEquals(16L << 20, config.memoryBytes());
        assertEquals(ClockMode.DETERMINISTIC, config.clock());
        assertEquals("guests/demo.rom", config.firmware());
        assertEquals("", config.cpuModel(), "the strategy's default model");
    }

    @Test
    void takesTheCpuModelAlsoAfterTheName() {
        CreateCommand c = demo();
        c.trailing = java.util.List.of("--cpu-model", "pentium3,brand=Polyvisor CPU");
        TrailingOptions.apply(c, c.trailing);
        assertEquals("pentium3,brand=Polyvisor CPU", c.toConfig().cpuModel());
    }

    @Test
    void refusesBadMemoryWithAClearMessage() {
        CreateCommand c = demo();
        c.memory = "lots";
        CommandFailure e = assertThrows(CommandFailure.class, c::toConfig);
        assertTrue(e.getMessage().contains("vm 'demo2'"), e.getMessage());
        assertTrue(e.getMessage().contains("invalid memory size 'lots'"), e.getMessage());

        c.memory = "512K";
        e = assertThrows(CommandFailure.class, c::toConfig);
        assertTrue(e.getMessage().contains("must be between 1M and 3G"), e.getMessage());
    }

    @Test
    void refusesBadDevicesClockNameAndNothingToBoot() {
        CreateCommand c = demo();
        c.devices = "uart16550(port";
        assertTrue(assertThrows(CommandFailure.class, c::toConfig).getMessage().contains("invalid --devices"));

        c = demo();
        c.clock = "fast";
        assertTrue(assertThrows(CommandFailure.class, c::toConfig).getMessage().contains("invalid clock mode 'fast'"));

        c = demo();
        c.name = "no spaces";
        assertTrue(assertThrows(CommandFailure.class, c::toConfig).getMessage().contains("invalid VM name"));

        c = demo();
        c.firmware = "";
        assertTrue(assertThrows(CommandFailure.class, c::toConfig).getMessage().contains("nothing to boot"));
    }
}
