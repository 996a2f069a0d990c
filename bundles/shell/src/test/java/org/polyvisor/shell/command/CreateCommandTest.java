package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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

    @Test
    void linuxPresetTakesItsImagesFromTheGuestCacheAndLetsOptionsOverrideIt(@TempDir Path home) throws Exception {
        Path cache = Files.createDirectories(home.resolve("guests/cache"));
        Files.write(cache.resolve("vmlinuz-686"), new byte[] {1});
        Files.write(cache.resolve("initramfs-686.cpio.gz"), new byte[] {2});
        String before = System.getProperty("karaf.home");
        System.setProperty("karaf.home", home.toString());
        try {
            CreateCommand c = new CreateCommand();
            c.name = "linux";
            c.preset = "linux-i386";
            c.memory = "256M";
            VmConfig config = c.toConfig();
            assertEquals("interpreter", config.cpu());
            assertEquals("pic", config.irqchip());
            assertEquals(java.util.List.of("uart16550", "pit8254", "rtc", "i8042"),
                    config.devices().stream().map(d -> d.model()).toList());
            assertEquals(256L << 20, config.memoryBytes()); // the option wins over the preset's 128M
            assertEquals(cache.resolve("vmlinuz-686").toString(), config.kernel());
            assertEquals(cache.resolve("initramfs-686.cpio.gz").toString(), config.initrd());
            assertTrue(config.cmdline().contains("console=ttyS0"), config.cmdline());

            Files.delete(cache.resolve("initramfs-686.cpio.gz"));
            CreateCommand missing = new CreateCommand();
            missing.name = "linux";
            missing.preset = "linux-i386";
            String m = assertThrows(CommandFailure.class, missing::toConfig).getMessage();
            assertTrue(m.contains("initramfs-686.cpio.gz") && m.contains("run guests/fetch") && m.contains(cache.toString()), m);

            CreateCommand unknown = new CreateCommand();
            unknown.name = "x";
            unknown.preset = "windows-95";
            m = assertThrows(CommandFailure.class, unknown::toConfig).getMessage();
            assertTrue(m.contains("unknown preset 'windows-95'") && m.contains("linux-i386"), m);
        } finally {
            if (before == null) {
                System.clearProperty("karaf.home");
            } else {
                System.setProperty("karaf.home", before);
            }
        }
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
