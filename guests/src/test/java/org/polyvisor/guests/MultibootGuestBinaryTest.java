package org.polyvisor.guests;

import static org.polyvisor.guests.GuestImages.onPath;
import static org.polyvisor.guests.GuestImages.run;
import static org.polyvisor.guests.GuestImages.u32;
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
 * Checks the committed Multiboot test kernels: each has a valid Multiboot header in its first
 * 8 KiB (the a.out variant with the address fields, flag 16), they ship in the jar, and, where gcc
 * and GNU binutils are installed, multiboot/build.sh still reproduces them byte for byte.
 */
class MultibootGuestBinaryTest {

    private static final long MAGIC = 0x1BAD_B002L;
    private static final long AOUT_KLUDGE = 1L << 16;
    private static final String[] KERNELS = {"mbtest.elf", "mbtest.aout"};

    @ParameterizedTest
    @ValueSource(strings = {"mbtest.elf", "mbtest.aout"})
    void committedKernelHasAValidMultibootHeader(String name) throws IOException {
        byte[] k = Files.readAllBytes(dir().resolve(name));
        int off = headerOffset(k);
        assertTrue(off >= 0, name + ": no Multiboot header (magic + checksum) in the first 8 KiB");
        long flags = u32(k, off + 4);
        assertEquals(name.endsWith(".aout"), (flags & AOUT_KLUDGE) != 0, name + ": a.out kludge flag");
        if (name.endsWith(".elf")) {
            assertEquals(0x464C_457FL, u32(k, 0), name + ": ELF magic");
        } else {
            long headerAddr = u32(k, off + 12);
            long loadAddr = u32(k, off + 16);
            long entry = u32(k, off + 28);
            assertEquals(off, headerAddr - loadAddr, name + ": header_addr - load_addr is the header's file offset");
            assertTrue(entry >= loadAddr && entry < loadAddr + k.length, name + ": entry inside the image");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mbtest.elf", "mbtest.aout"})
    void jarShipsTheCommittedKernel(String name) throws IOException {
        byte[] packaged;
        try (InputStream in = getClass().getResourceAsStream("multiboot/" + name)) {
            assertNotNull(in, "resource org/polyvisor/guests/multiboot/" + name + " is missing from the class path");
            packaged = in.readAllBytes();
        }
        assertArrayEquals(Files.readAllBytes(dir().resolve(name)), packaged, name + ": packaged resource differs");
    }

    @Test
    void buildScriptReproducesTheCommittedKernels(@TempDir Path out) throws Exception {
        Assumptions.assumeTrue(List.of("gcc", "ld", "objcopy").stream().allMatch(GuestImages::onPath),
                "gcc and GNU binutils not installed: cannot rebuild the multiboot test kernels to compare");
        String log;
        try {
            log = run(List.of("sh", dir().resolve("build.sh").toString(), out.toString()), 180);
        } catch (AssertionError e) {
            Assumptions.abort("this gcc cannot build freestanding 32-bit code (-m32): " + e.getMessage());
            return;
        }
        for (String name : KERNELS) {
            byte[] expected = Files.readAllBytes(dir().resolve(name));
            byte[] actual = Files.readAllBytes(out.resolve(name));
            assertArrayEquals(expected, actual, name + ": rebuilding gives different bytes; run guests/multiboot/build.sh"
                    + " and commit the kernels (a different gcc version may also explain it)\n" + log);
        }
    }

    static int headerOffset(byte[] k) {
        for (int off = 0; off + 12 <= Math.min(k.length, 8192); off += 4) {
            if (u32(k, off) == MAGIC && ((u32(k, off) + u32(k, off + 4) + u32(k, off + 8)) & 0xFFFF_FFFFL) == 0) {
                return off;
            }
        }
        return -1;
    }


    private static Path dir() {
        String d = System.getProperty("polyvisor.guests.dir");
        return Paths.get(d != null ? d : System.getProperty("user.dir")).toAbsolutePath().resolve("multiboot");
    }


}
