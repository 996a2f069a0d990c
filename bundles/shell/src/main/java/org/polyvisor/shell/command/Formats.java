package org.polyvisor.shell.command;

import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;

/** Formatting shared by the commands' tables. */
final class Formats {

    private Formats() {
    }

    /**
     * Formats a duration compactly: {@code 45s}, {@code 3m 07s}, {@code 2h 03m 07s},
     * {@code 1d 02h 03m}; below a second, {@code 350ms}.
     *
     * @param d the duration, or null
     * @return the text; {@code -} for null or zero
     */
    static String duration(Duration d) {
        if (d == null || d.isZero() || d.isNegative()) {
            return "-";
        }
        long s = d.getSeconds();
        if (s == 0) {
            return d.toMillis() + "ms";
        }
        long days = s / 86_400;
        long h = (s / 3600) % 24;
        long m = (s / 60) % 60;
        long sec = s % 60;
        if (days > 0) {
            return String.format("%dd %02dh %02dm", days, h, m);
        } else if (h > 0) {
            return String.format("%dh %02dm %02ds", h, m, sec);
        } else if (m > 0) {
            return String.format("%dm %02ds", m, sec);
        }
        return sec + "s";
    }

    /**
     * Formats a possibly empty value for a table cell.
     *
     * @param s the value
     * @return the value, or {@code -} when empty
     */
    static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    /**
     * Formats a map as {@code k=v, k=v}.
     *
     * @param map the map
     * @return the text, {@code -} when empty
     */
    static String keyValues(Map<String, ?> map) {
        if (map == null || map.isEmpty()) {
            return "-";
        }
        return map.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
    }

    /**
     * Formats a count with thousands separators: {@code 12,345,678}.
     *
     * @param n the count
     * @return the text
     */
    static String count(long n) {
        return String.format("%,d", n);
    }

    /**
     * Formats a rate in instructions (or events) per second with a metric prefix.
     *
     * @param count   the number of events
     * @param elapsed the time they took
     * @return e.g. {@code 12.3 M/s}; {@code -} when the time is zero
     */
    static String rate(long count, Duration elapsed) {
        if (elapsed == null || elapsed.isZero() || elapsed.isNegative()) {
            return "-";
        }
        double perSecond = count / (elapsed.toNanos() / 1e9);
        if (perSecond >= 1e9) {
            return String.format("%.2f G/s", perSecond / 1e9);
        } else if (perSecond >= 1e6) {
            return String.format("%.2f M/s", perSecond / 1e6);
        } else if (perSecond >= 1e3) {
            return String.format("%.2f k/s", perSecond / 1e3);
        }
        return String.format("%.0f /s", perSecond);
    }

    /**
     * Formats a 32-bit (or wider) register value as hexadecimal: 8 digits, or 16 when the high
     * half is in use.
     *
     * @param v the value
     * @return e.g. {@code 0000fff0}
     */
    static String hex(long v) {
        return (v >>> 32) == 0 ? String.format("%08x", v) : String.format("%016x", v);
    }
}
