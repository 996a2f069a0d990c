package org.polyvisor.shell.command;

/** Byte-level helpers for console output. */
final class ConsoleText {

    private ConsoleText() {
    }

    /**
     * Finds where the last {@code lines} lines of some output start. A final line without a
     * newline counts as a line.
     *
     * @param bytes the output
     * @param lines how many lines to keep (0: none)
     * @return the index of the first byte to show
     */
    static int startOfLastLines(byte[] bytes, int lines) {
        if (lines <= 0) {
            return bytes.length;
        }
        int end = bytes.length;
        if (end > 0 && bytes[end - 1] == '\n') {
            end--; // the newline that ends the last line
        }
        int seen = 0;
        for (int i = end - 1; i >= 0; i--) {
            if (bytes[i] == '\n' && ++seen == lines) {
                return i + 1;
            }
        }
        return 0;
    }
}
