package org.polyvisor.guests;

import static org.polyvisor.guests.GuestImages.onPath;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks the committed SMP start-up ROM (smp/README.md) and A20 ROM (a20/README.md): the firmware-ROM
 * boot convention, that the jar ships them, and, where GNU binutils are installed, that each
 * build.sh reproduces its ROM byte for byte.
 */
class SmpGuestBinaryTest {

    private static final String ROM = "smp-initsipi.rom";
    private static final String A20_ROM = "a20-gate.rom";

    @Test
    void a20RomIsShippedAndReproducible(@TempDir Path out) throws Exception {
        Path dir = smpDir().resolveSibling("a20");
        byte[] rom = Files.readAllBytes(dir.resolve(A20_ROM));
        assertEquals(0x1_0000, rom.length, "size");
        assertEquals(0xEA, rom[0xFFF0] & 0xFF, "reset vector: far jump");
        try (InputStream in = SmpGuestBinaryTest.class.getResourceAsStream(A20_ROM)) {
            assertNotNull(in, "resource org/polyvisor/guests/" + A20_ROM + " is missing from the class path");
            assertArrayEquals(rom, in.readAllBytes());
        }
        Assumptions.assumeTrue(onPath("as") && onPath("ld") && onPath("objcopy"), "GNU binutils not installed");
        Process p = new ProcessBuilder("sh", dir.resolve("build.sh").toString(), out.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        Assumptions.assumeTrue(p.waitFor(120, TimeUnit.SECONDS));
        Assumptions.assumeFalse(log.contains("emulation"), "the installed GNU ld has no elf_i386 emulation");
        assertEquals(0, p.exitValue(), log);
        assertArrayEquals(rom, Files.readAllBytes(out.resolve(A20_ROM)),
                "rebuilding differs: run guests/a20/build.sh and commit the ROM\n" + log);
    }

    @Test
    void committedRomKeepsTheBootConvention() throws IOException {
        byte[] rom = Files.readAllBytes(smpDir().resolve(ROM));
        assertEquals(0x1_0000, rom.length, "size");
        assertEquals(0xEA, rom[0xFFF0] & 0xFF, "reset vector: far jump");
        assertEquals(0xFF00, (rom[0xFFF1] & 0xFF) | (rom[0xFFF2] & 0xFF) << 8, "to the boot stub");
        assertEquals(0xF000, (rom[0xFFF3] & 0xFF) | (rom[0xFFF4] & 0xFF) << 8, "in segment F000");
        assertEquals(0xFA, rom[0] & 0xFF, "the AP's code (SIPI vector 0xF0 -> F000:0000) starts with CLI");
    }

    @Test
    void jarShipsTheCommittedRom() throws IOException {
        try (InputStream in = SmpGuestBinaryTest.class.getResourceAsStream(ROM)) {
            assertNotNull(in, "resource org/polyvisor/guests/" + ROM + " is missing from the class path");
            assertArrayEquals(Files.readAllBytes(smpDir().resolve(ROM)), in.readAllBytes());
        }
    }

    @Test
    void buildScriptReproducesTheCommittedRom(@TempDir Path out) throws Exception {
        Assumptions.assumeTrue(onPath("as") && onPath("ld") && onPath("objcopy"),
                "GNU binutils (as, ld, objcopy) not installed: cannot rebuild the SMP ROM to compare");
        Process p = new ProcessBuilder("sh", smpDir().resolve("build.sh").toString(), out.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        Assumptions.assumeTrue(p.waitFor(120, TimeUnit.SECONDS));
        Assumptions.assumeFalse(log.contains("unrecognised emulation") || log.contains("unrecognized emulation"),
                "the installed GNU ld has no elf_i386 emulation");
        assertEquals(0, p.exitValue(), log);
        assertArrayEquals(Files.readAllBytes(smpDir().resolve(ROM)), Files.readAllBytes(out.resolve(ROM)),
                "rebuilding differs: run guests/smp/build.sh and commit the ROM\n" + log);
    }

    private static Path smpDir() {
        String dir = System.getProperty("polyvisor.guests.dir");
        return Paths.get(dir != null ? dir : System.getProperty("user.dir")).toAbsolutePath().resolve("smp");
    }

}
