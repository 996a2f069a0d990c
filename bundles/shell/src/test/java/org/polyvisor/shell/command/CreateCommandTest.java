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

    @Test
    void partOptionsGoIntoTheConfigurationAndMalformedOnesAreRefused() {
        CreateCommand c = demo();
        c.mmu = "shadow";
        c.options = java.util.List.of("mmu.shadow.max-pages=64", "mmu.shadow.max-roots = 8");
        VmConfig config = c.toConfig();
        assertEquals(java.util.Map.of("max-pages", "64", "max-roots", "8"), config.optionsOf("mmu", "shadow"));
        assertEquals(java.util.Map.of(), config.optionsOf("mmu", "slat"));

        c.options = java.util.List.of("max-pages=64");
        CommandFailure e = assertThrows(CommandFailure.class, c::toConfig);
        assertTrue(e.getMessage().contains("invalid --option 'max-pages=64'"), e.getMessage());
    }
}
