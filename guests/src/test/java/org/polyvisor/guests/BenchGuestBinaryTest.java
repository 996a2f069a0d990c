package org.polyvisor.guests;

import static org.polyvisor.guests.GuestImages.firstDifference;
import static org.polyvisor.guests.GuestImages.ldEmulates;
import static org.polyvisor.guests.GuestImages.onPath;
import static org.polyvisor.guests.GuestImages.run;
import static org.polyvisor.guests.GuestImages.u16;
import static org.polyvisor.guests.GuestImages.u8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Checks the committed CPU benchmark ROMs (bench/, used by bench/cpu-throughput): that they
 * keep the boot convention the VMM relies on (see demo/README.md), that they ship in the jar,
 * and, where GNU binutils are installed, that bench/build.sh still reproduces them byte for
 * byte from bench.S.
 */
class BenchGuestBinaryTest {

    /** A firmware ROM is exactly 64 KiB, mapped at 0xFFFF_0000 and 0x000F_0000. */
    private static final int ROM_SIZE = 0x1_0000;

    /** The reset vector: CS base 0xFFFF_0000 + IP 0xFFF0 = image offset 0xFFF0. */
    private static final int RESET_VECTOR = 0xFFF0;

    /** JMP ptr16:16 (far jump, real mode). */
    private static final int OPCODE_JMP_FAR = 0xEA;

    /** The segment the reset vector jumps to: the ROM's low alias at 0x000F_0000. */
    private static final int ROM_SEGMENT = 0xF000;

    private static final String[] ROMS = {"bench-loop.rom", "bench-mix.rom", "bench-copy.rom", "bench-call.rom",
        "bench-intp.rom", "bench-page.rom", "bench-trap.rom"};

    private static final List<String> BINUTILS = List.of("as", "ld", "objcopy");

    @ParameterizedTest
    @ValueSource(strings = {"bench-loop.rom", "bench-mix.rom", "bench-copy.rom", "bench-call.rom", "bench-intp.rom",
        "bench-page.rom", "bench-trap.rom"})
    void committedRomKeepsTheBootConvention(String name) throws IOException {
        byte[] rom = Files.readAllBytes(guestsDir().resolve("bench").resolve(name));
        assertBootConvention(name, rom);
    }

    @ParameterizedTest
    @ValueSource(strings = {"bench-loop.rom", "bench-mix.rom", "bench-copy.rom", "bench-call.rom", "bench-intp.rom",
        "bench-page.rom", "bench-trap.rom"})
    void jarShipsTheCommittedRom(String name) throws IOException {
        byte[] packaged;
        try (InputStream in = BenchGuestBinaryTest.class.getResourceAsStream(name)) {
            assertNotNull(in, "resource org/polyvisor/guests/" + name + " is missing from the class path");
            packaged = in.readAllBytes();
        }
        byte[] committed = Files.readAllBytes(guestsDir().resolve("bench").resolve(name));
        assertArrayEquals(committed, packaged, name + ": packaged resource differs from bench/" + name);
    }

    @Test
    void buildScriptReproducesTheCommittedRoms(@TempDir Path out) throws Exception {
        Assumptions.assumeTrue(BINUTILS.stream().allMatch(GuestImages::onPath),
                "GNU binutils (as, ld, objcopy) not installed: cannot rebuild the benchmark guests to compare");
        Assumptions.assumeTrue(ldEmulates("elf_i386"),
                "the installed GNU ld has no elf_i386 emulation: cannot rebuild the benchmark guests to compare");

        Path script = guestsDir().resolve("bench").resolve("build.sh");
        String log = run(List.of("sh", script.toString(), out.toString()), 120);

        for (String name : ROMS) {
            Path rebuilt = out.resolve(name);
            assertTrue(Files.isRegularFile(rebuilt), "build.sh did not produce " + name + "\n" + log);
            byte[] expected = Files.readAllBytes(guestsDir().resolve("bench").resolve(name));
            byte[] actual = Files.readAllBytes(rebuilt);
            assertBootConvention("rebuilt " + name, actual);
            int diff = firstDifference(expected, actual);
            assertTrue(diff < 0, () -> name + ": rebuilding bench.S gives different bytes from offset 0x"
                    + Integer.toHexString(diff) + " on; run guests/bench/build.sh and commit the ROMs\n" + log);
        }
    }

    private static void assertBootConvention(String name, byte[] rom) {
        assertEquals(ROM_SIZE, rom.length, name + ": size");
        assertEquals(OPCODE_JMP_FAR, u8(rom, RESET_VECTOR), name + ": reset vector opcode at 0xFFF0");
        int offset = u16(rom, RESET_VECTOR + 1);
        int segment = u16(rom, RESET_VECTOR + 3);
        assertEquals(ROM_SEGMENT, segment, name + ": reset vector segment (bytes 0xFFF3-0xFFF4 are 00 F0)");
        assertTrue(offset < RESET_VECTOR,
                name + ": reset vector target 0x" + Integer.toHexString(offset) + " is not below the reset vector");
    }




    /** The guests module directory: set by the pom, else the working directory. */
    private static Path guestsDir() {
        String dir = System.getProperty("polyvisor.guests.dir");
        return Paths.get(dir != null ? dir : System.getProperty("user.dir")).toAbsolutePath();
    }



}
