package org.polyvisor.guests;

import static org.polyvisor.guests.GuestImages.firstDifference;
import static org.polyvisor.guests.GuestImages.ldEmulates;
import static org.polyvisor.guests.GuestImages.onPath;
import static org.polyvisor.guests.GuestImages.run;
import static org.polyvisor.guests.GuestImages.u16;
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
 * Checks the committed CPU test kernels (cputest/README.md): the firmware-ROM boot convention, that
 * they ship in the jar, that every suite in build.sh has its committed ROM, and, where GNU binutils
 * are installed, that cputest/build.sh reproduces them byte for byte from their sources.
 */
class CpuTestBinaryTest {

    /** The suites build.sh knows; each gives cputest-NAME.rom. */
    static final List<String> SUITES = List.of("gates", "tasks", "v86", "paging", "iobitmap", "cpu");

    private static final int ROM_SIZE = 0x1_0000;
    private static final int RESET_VECTOR = 0xFFF0;
    private static final int OPCODE_JMP_FAR = 0xEA;
    private static final int ROM_SEGMENT = 0xF000;
    /** Where the real-mode boot code sits in the image (common.S BOOT_OFFSET). */
    private static final int BOOT_OFFSET = 0xFF00;

    @ParameterizedTest
    @ValueSource(strings = {"gates", "tasks", "v86", "paging", "iobitmap", "cpu"})
    void committedRomKeepsTheBootConvention(String suite) throws IOException {
        byte[] rom = Files.readAllBytes(cputestDir().resolve(rom(suite)));
        assertBootConvention(rom(suite), rom);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gates", "tasks", "v86", "paging", "iobitmap", "cpu"})
    void jarShipsTheCommittedRom(String suite) throws IOException {
        byte[] packaged;
        try (InputStream in = CpuTestBinaryTest.class.getResourceAsStream(rom(suite))) {
            assertNotNull(in, "resource org/polyvisor/guests/" + rom(suite) + " is missing from the class path");
            packaged = in.readAllBytes();
        }
        assertArrayEquals(Files.readAllBytes(cputestDir().resolve(rom(suite))), packaged,
                rom(suite) + ": packaged resource differs from cputest/" + rom(suite));
    }

    @Test
    void buildScriptListsExactlyTheseSuites() throws IOException {
        String script = Files.readString(cputestDir().resolve("build.sh"));
        assertTrue(script.contains("SUITES=\"" + String.join(" ", SUITES) + "\""),
                "cputest/build.sh SUITES differs from " + SUITES);
        for (String suite : SUITES) {
            assertTrue(Files.isRegularFile(cputestDir().resolve(suite + ".S")), suite + ".S missing");
        }
    }

    @Test
    void buildScriptReproducesTheCommittedRoms(@TempDir Path out) throws Exception {
        Assumptions.assumeTrue(List.of("as", "ld", "objcopy").stream().allMatch(GuestImages::onPath),
                "GNU binutils (as, ld, objcopy) not installed: cannot rebuild the CPU test kernels to compare");
        Assumptions.assumeTrue(ldEmulates("elf_i386"),
                "the installed GNU ld has no elf_i386 emulation: cannot rebuild the CPU test kernels to compare");
        String log = run(List.of("sh", cputestDir().resolve("build.sh").toString(), out.toString()), 120);
        for (String suite : SUITES) {
            Path rebuilt = out.resolve(rom(suite));
            assertTrue(Files.isRegularFile(rebuilt), "build.sh did not produce " + rom(suite) + "\n" + log);
            byte[] expected = Files.readAllBytes(cputestDir().resolve(rom(suite)));
            byte[] actual = Files.readAllBytes(rebuilt);
            assertBootConvention("rebuilt " + rom(suite), actual);
            int diff = firstDifference(expected, actual);
            assertTrue(diff < 0, () -> rom(suite) + ": rebuilding gives different bytes from offset 0x"
                    + Integer.toHexString(diff) + " on; run guests/cputest/build.sh and commit the ROMs\n" + log);
        }
    }

    private static String rom(String suite) {
        return "cputest-" + suite + ".rom";
    }

    private static void assertBootConvention(String name, byte[] rom) {
        assertEquals(ROM_SIZE, rom.length, name + ": size");
        assertEquals(OPCODE_JMP_FAR, rom[RESET_VECTOR] & 0xFF, name + ": reset vector opcode at 0xFFF0");
        assertEquals(BOOT_OFFSET, u16(rom, RESET_VECTOR + 1), name + ": reset vector target offset");
        assertEquals(ROM_SEGMENT, u16(rom, RESET_VECTOR + 3), name + ": reset vector segment");
        assertEquals(0xFA, rom[BOOT_OFFSET] & 0xFF, name + ": boot code starts with CLI");
    }



    private static Path cputestDir() {
        String dir = System.getProperty("polyvisor.guests.dir");
        return Paths.get(dir != null ? dir : System.getProperty("user.dir")).toAbsolutePath().resolve("cputest");
    }



}
