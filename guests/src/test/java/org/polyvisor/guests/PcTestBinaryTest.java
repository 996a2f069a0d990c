package org.polyvisor.guests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.polyvisor.guests.GuestImages.run;
import static org.polyvisor.guests.GuestImages.u32;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Checks the committed PC test kernels (pctest/README.md): each is an ELF with a Multiboot header,
 * ships in the jar, is listed by build.sh, and, where gcc and GNU binutils are installed,
 * pctest/build.sh still reproduces it byte for byte from the sources.
 */
class PcTestBinaryTest {

    /** The tests build.sh knows; each gives NAME.elf from NAME.c. */
    static final List<String> TESTS = List.of("rtc", "lapic", "ioapic", "ipi");

    @ParameterizedTest
    @ValueSource(strings = {"rtc", "lapic", "ioapic", "ipi"})
    void committedKernelIsAMultibootElf(String test) throws IOException {
        byte[] k = Files.readAllBytes(dir().resolve(test + ".elf"));
        assertEquals(0x464C_457FL, u32(k, 0), test + ".elf: ELF magic");
        assertTrue(MultibootGuestBinaryTest.headerOffset(k) >= 0,
                test + ".elf: no Multiboot header (magic + checksum) in the first 8 KiB");
    }

    @ParameterizedTest
    @ValueSource(strings = {"rtc", "lapic", "ioapic", "ipi"})
    void jarShipsTheCommittedKernel(String test) throws IOException {
        byte[] packaged;
        try (InputStream in = getClass().getResourceAsStream("pctest/" + test + ".elf")) {
            assertNotNull(in, "resource org/polyvisor/guests/pctest/" + test + ".elf is missing from the class path");
            packaged = in.readAllBytes();
        }
        assertArrayEquals(Files.readAllBytes(dir().resolve(test + ".elf")), packaged,
                test + ".elf: packaged resource differs from pctest/" + test + ".elf");
    }

    @Test
    void buildScriptListsExactlyTheseTests() throws IOException {
        String script = Files.readString(dir().resolve("build.sh"));
        assertTrue(script.contains("TESTS=\"" + String.join(" ", TESTS) + "\""), "pctest/build.sh TESTS differs from " + TESTS);
        for (String test : TESTS) {
            assertTrue(Files.isRegularFile(dir().resolve(test + ".c")), test + ".c missing");
        }
    }

    @Test
    void buildScriptReproducesTheCommittedKernels(@TempDir Path out) throws Exception {
        Assumptions.assumeTrue(List.of("gcc", "ld").stream().allMatch(GuestImages::onPath),
                "gcc and GNU ld not installed: cannot rebuild the PC test kernels to compare");
        String log;
        try {
            log = run(List.of("sh", dir().resolve("build.sh").toString(), out.toString()), 180);
        } catch (AssertionError e) {
            Assumptions.abort("this gcc cannot build freestanding 32-bit code (-m32): " + e.getMessage());
            return;
        }
        for (String test : TESTS) {
            assertArrayEquals(Files.readAllBytes(dir().resolve(test + ".elf")), Files.readAllBytes(out.resolve(test + ".elf")),
                    test + ".elf: rebuilding gives different bytes; run guests/pctest/build.sh and commit the kernels"
                            + " (a different gcc version may also explain it)\n" + log);
        }
    }

    private static Path dir() {
        return GuestImages.guestsSubdir("pctest");
    }
}
