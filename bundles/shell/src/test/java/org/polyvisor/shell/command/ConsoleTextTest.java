package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ConsoleTextTest {

    private static String last(String text, int lines) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        return text.substring(ConsoleText.startOfLastLines(b, lines));
    }

    @Test
    void keepsTheLastLines() {
        assertEquals("c\r\nd\r\n", last("a\r\nb\r\nc\r\nd\r\n", 2));
        assertEquals("b\nc", last("a\nb\nc", 2));
        assertEquals("a\nb\n", last("a\nb\n", 5));
        assertEquals("", last("a\nb\n", 0));
        assertEquals("", last("", 3));
    }
}
