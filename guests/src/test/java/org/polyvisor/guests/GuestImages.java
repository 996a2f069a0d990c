package org.polyvisor.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the guest-image checks share: reading little-endian fields, comparing rebuilt bytes, and
 * running the build scripts (only where GNU binutils are installed).
 */
final class GuestImages {

    private GuestImages() {
    }

    /**
     * Returns a folder of guests/ (the module's base directory, or -Dpolyvisor.guests.dir).
     *
     * @param sub e.g. {@code demo}
     * @return the absolute folder
     */
    static Path guestsSubdir(String sub) {
        String dir = System.getProperty("polyvisor.guests.dir");
        return Paths.get(dir != null ? dir : System.getProperty("user.dir")).toAbsolutePath().resolve(sub);
    }

    static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    static int u16(byte[] b, int i) {
        return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8;
    }

    static long u32(byte[] b, int i) {
        return (u16(b, i) | (long) u16(b, i + 2) << 16) & 0xFFFF_FFFFL;
    }

    /**
     * Finds where two images first differ.
     *
     * @param a one image
     * @param b the other
     * @return the first differing offset, or -1 if equal
     */
    static int firstDifference(byte[] a, byte[] b) {
        int n = Math.min(a.length, b.length);
        for (int i = 0; i < n; i++) {
            if (a[i] != b[i]) {
                return i;
            }
        }
        return a.length == b.length ? -1 : n;
    }

    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Paths.get(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    static boolean ldEmulates(String emulation) {
        try {
            return run(List.of("ld", "-V"), 30).contains(emulation);
        } catch (IOException | AssertionError e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Runs a command that must succeed within a time.
     *
     * @param command        the command
     * @param timeoutSeconds how long at most
     * @return its output (stdout and stderr)
     * @throws IOException          if it cannot start
     * @throws InterruptedException if interrupted
     */
    static String run(List<String> command, long timeoutSeconds) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> {
            try (InputStream in = process.getInputStream()) {
                in.transferTo(output);
            } catch (IOException ignored) {
                // the process went away; what was read so far is reported
            }
        });
        reader.start();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            reader.join();
            throw new AssertionError(String.join(" ", command) + " timed out after " + timeoutSeconds + " s\n"
                    + output.toString(StandardCharsets.UTF_8));
        }
        reader.join();
        String log = output.toString(StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), String.join(" ", command) + " failed\n" + log);
        return log;
    }
}
