package org.polyvisor.guests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.polyvisor.guests.GuestImages.firstDifference;
import static org.polyvisor.guests.GuestImages.ldEmulates;
import static org.polyvisor.guests.GuestImages.run;
import static org.polyvisor.guests.GuestImages.u16;
import static org.polyvisor.guests.GuestImages.u8;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The checks every folder of committed firmware ROMs under guests/ gets: each ROM keeps the boot
 * convention the VMM relies on (see demo/README.md), ships in the jar under org/polyvisor/guests/,
 * and, where GNU binutils are installed, the folder's build.sh still reproduces it byte for byte
 * from its sources. A subclass names the folder and its ROMs, and adds the checks of its own boot code.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CommittedRomsTest {

    /** A firmware ROM is exactly 64 KiB, mapped at 0xFFFF_0000 and 0x000F_0000. */
    static final int ROM_SIZE = 0x1_0000;
    /** The reset vector: CS base 0xFFFF_0000 + IP 0xFFF0 = image offset 0xFFF0. */
    static final int RESET_VECTOR = 0xFFF0;
    /** JMP ptr16:16 (far jump, real mode). */
    static final int OPCODE_JMP_FAR = 0xEA;
    /** The segment the reset vector jumps to: the ROM's low alias at 0x000F_0000. */
    static final int ROM_SEGMENT = 0xF000;
    /** Where the test kernels' real-mode boot code sits in the image (cputest/common.S BOOT_OFFSET). */
    static final int BOOT_STUB = 0xFF00;
    /** CLI, the first instruction of our boot code. */
    static final int OPCODE_CLI = 0xFA;

    private final String folder;
    private final String what;
    private final List<String> suites;
    private final List<String> roms;

    /**
     * @param folder the folder under guests/, e.g. {@code bench}
     * @param what what the ROMs are, for skip messages, e.g. "the benchmark guests"
     * @param roms the ROM files build.sh writes and the folder commits
     */
    CommittedRomsTest(String folder, String what, List<String> roms) {
        this(folder, what, List.of(), roms);
    }

    /**
     * @param folder the folder under guests/
     * @param what what the ROMs are, for skip messages
     * @param suites the suites build.sh lists as {@code SUITES="..."}, each built from NAME.S
     * @param roms the ROM files build.sh writes, one per suite
     */
    CommittedRomsTest(String folder, String what, List<String> suites, List<String> roms) {
        this.folder = folder;
        this.what = what;
        this.suites = suites;
        this.roms = roms;
    }

    /** @return the ROMs (the parameters of the per-ROM checks) */
    final List<String> roms() {
        return roms;
    }

    /**
     * Checks of a ROM's boot code beyond the reset vector (none by default).
     *
     * @param name the ROM, for messages
     * @param rom its bytes
     */
    void checkBootCode(String name, byte[] rom) {
    }

    /**
     * The test kernels' convention (cputest/common.S): the reset vector jumps to a boot stub at
     * offset 0xFF00 that starts with CLI.
     *
     * @param name the ROM, for messages
     * @param rom its bytes
     */
    static void assertBootStubAt0xFF00(String name, byte[] rom) {
        assertEquals(BOOT_STUB, u16(rom, RESET_VECTOR + 1), name + ": reset vector target offset");
        assertEquals(OPCODE_CLI, u8(rom, BOOT_STUB), name + ": boot code starts with CLI");
    }

    final Path dir() {
        return GuestImages.guestsSubdir(folder);
    }

    private void assertBootConvention(String name, byte[] rom) {
        assertEquals(ROM_SIZE, rom.length, name + ": size");
        assertEquals(OPCODE_JMP_FAR, u8(rom, RESET_VECTOR), name + ": reset vector opcode at 0xFFF0");
        int offset = u16(rom, RESET_VECTOR + 1);
        assertEquals(ROM_SEGMENT, u16(rom, RESET_VECTOR + 3),
                name + ": reset vector segment (bytes 0xFFF3-0xFFF4 are 00 F0)");
        assertTrue(offset < RESET_VECTOR,
                name + ": reset vector target 0x" + Integer.toHexString(offset) + " is not below the reset vector");
        checkBootCode(name, rom);
    }

    @ParameterizedTest
    @MethodSource("roms")
    void committedRomKeepsTheBootConvention(String name) throws IOException {
        assertBootConvention(name, Files.readAllBytes(dir().resolve(name)));
    }

    @ParameterizedTest
    @MethodSource("roms")
    void jarShipsTheCommittedRom(String name) throws IOException {
        byte[] packaged;
        try (InputStream in = CommittedRomsTest.class.getResourceAsStream(name)) {
            assertNotNull(in, "resource org/polyvisor/guests/" + name + " is missing from the class path");
            packaged = in.readAllBytes();
        }
        assertArrayEquals(Files.readAllBytes(dir().resolve(name)), packaged,
                name + ": packaged resource differs from " + folder + "/" + name);
    }

    @Test
    void buildScriptListsExactlyTheseSuites() throws IOException {
        Assumptions.assumeFalse(suites.isEmpty(), folder + "/build.sh builds a fixed set of ROMs, not a suite list");
        String script = Files.readString(dir().resolve("build.sh"));
        assertTrue(script.contains("SUITES=\"" + String.join(" ", suites) + "\""),
                folder + "/build.sh SUITES differs from " + suites);
        for (String suite : suites) {
            assertTrue(Files.isRegularFile(dir().resolve(suite + ".S")), suite + ".S missing");
        }
    }

    @Test
    void buildScriptReproducesTheCommittedRoms(@TempDir Path out) throws Exception {
        Assumptions.assumeTrue(List.of("as", "ld", "objcopy").stream().allMatch(GuestImages::onPath),
                "GNU binutils (as, ld, objcopy) not installed: cannot rebuild " + what + " to compare");
        Assumptions.assumeTrue(ldEmulates("elf_i386"),
                "the installed GNU ld has no elf_i386 emulation: cannot rebuild " + what + " to compare");
        String log = run(List.of("sh", dir().resolve("build.sh").toString(), out.toString()), 120);
        for (String name : roms()) {
            Path rebuilt = out.resolve(name);
            assertTrue(Files.isRegularFile(rebuilt), "build.sh did not produce " + name + "\n" + log);
            byte[] expected = Files.readAllBytes(dir().resolve(name));
            byte[] actual = Files.readAllBytes(rebuilt);
            assertBootConvention("rebuilt " + name, actual);
            int diff = firstDifference(expected, actual);
            assertTrue(diff < 0, () -> name + ": rebuilding gives different bytes from offset 0x"
                    + Integer.toHexString(diff) + " on; run guests/" + folder + "/build.sh and commit the ROMs\n" + log);
        }
    }
}
