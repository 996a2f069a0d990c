package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FormatsTest {

    @Test
    void durations() {
        assertEquals("-", Formats.duration(null));
        assertEquals("-", Formats.duration(Duration.ZERO));
        assertEquals("350ms", Formats.duration(Duration.ofMillis(350)));
        assertEquals("45s", Formats.duration(Duration.ofSeconds(45)));
        assertEquals("3m 07s", Formats.duration(Duration.ofSeconds(187)));
        assertEquals("2h 03m 07s", Formats.duration(Duration.ofSeconds(2 * 3600 + 187)));
        assertEquals("1d 02h 03m", Formats.duration(Duration.ofSeconds(86_400 + 2 * 3600 + 180 + 59)));
    }

    @Test
    void valuesAndCounts() {
        assertEquals("-", Formats.orDash(""));
        assertEquals("pic", Formats.orDash("pic"));
        Map<String, String> m = new LinkedHashMap<>();
        assertEquals("-", Formats.keyValues(m));
        m.put("slat", "ept");
        m.put("ug", "yes");
        assertEquals("slat=ept, ug=yes", Formats.keyValues(m));
        assertEquals(String.format("%,d", 12345678L), Formats.count(12_345_678));
    }

    @Test
    void rates() {
        assertEquals("-", Formats.rate(5, Duration.ZERO));
        assertEquals(String.format("%.2f M/s", 12.5), Formats.rate(25_000_000, Duration.ofSeconds(2)));
        assertEquals("500 /s", Formats.rate(500, Duration.ofSeconds(1)));
    }

    @Test
    void hexWidensOnlyWhenNeeded() {
        assertEquals("0000fff0", Formats.hex(0xFFF0));
        assertEquals("0000000100000000", Formats.hex(1L << 32));
    }
}
