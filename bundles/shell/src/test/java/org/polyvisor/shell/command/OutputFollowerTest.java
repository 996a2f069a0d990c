package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.polyvisor.vm.VmConsole;

class OutputFollowerTest {

    /** A console that keeps only the last {@code keep} bytes, like the real one keeps 64 KiB. */
    static final class FakeConsole implements VmConsole {
        private final int keep;
        private final StringBuilder all = new StringBuilder();

        FakeConsole(int keep) {
            this.keep = keep;
        }

        void guestWrites(String s) {
            all.append(s);
        }

        @Override
        public void send(byte[] bytes) {
        }

        @Override
        public byte[] recentOutput() {
            byte[] b = all.toString().getBytes(StandardCharsets.US_ASCII);
            return Arrays.copyOfRange(b, Math.max(0, b.length - keep), b.length);
        }

        @Override
        public long totalOutput() {
            return all.length();
        }

        @Override
        public AutoCloseable attach(Consumer<byte[]> listener) {
            return () -> { };
        }
    }

    @Test
    void showsEveryByteOnceInOrder() {
        FakeConsole console = new FakeConsole(1024);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.US_ASCII);
        ConsoleCommand.OutputFollower f = new ConsoleCommand.OutputFollower(console, out);
        console.guestWrites("banner\r\ncount: 1\r\n");
        f.printTail(-1);
        f.drain();
        console.guestWrites("count: 2\r\n");
        f.drain();
        f.drain();
        console.guestWrites("count: 3\r\n");
        f.drain();
        assertEquals("banner\r\ncount: 1\r\ncount: 2\r\ncount: 3\r\n", bytes.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void tailLinesAndLostOutputAreShown() {
        FakeConsole console = new FakeConsole(16);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.US_ASCII);
        ConsoleCommand.OutputFollower f = new ConsoleCommand.OutputFollower(console, out);
        console.guestWrites("a\nb\nc\n");
        f.printTail(1);
        assertEquals("c\n", bytes.toString(StandardCharsets.US_ASCII));
        console.guestWrites("0123456789abcdefXYZ");
        f.drain();
        String text = bytes.toString(StandardCharsets.US_ASCII);
        assertTrue(text.contains("[3 bytes of output were not kept]"), text);
        assertTrue(text.endsWith("3456789abcdefXYZ"), text);
    }

    @Test
    void untilTextCountsOnlyOutputFollowedAfterAttaching() {
        FakeConsole console = new FakeConsole(1024);
        PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.US_ASCII);
        ConsoleCommand.OutputFollower f = new ConsoleCommand.OutputFollower(console, out);
        console.guestWrites("old prompt# ");
        f.printTail(-1);
        f.drain();
        assertTrue(!f.hasShown("prompt# "), "the earlier tail must not count");
        console.guestWrites("uname -a\r\nLinux polyvisor 6.1\r\npro");
        f.drain();
        assertTrue(!f.hasShown("prompt# "));
        console.guestWrites("mpt# ");
        f.drain();
        assertTrue(f.hasShown("prompt# "), "a text split over two drains is found");
        assertTrue(!f.hasShown(null) && !f.hasShown(""));
    }
}
