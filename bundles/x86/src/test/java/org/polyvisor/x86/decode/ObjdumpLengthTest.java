package org.polyvisor.x86.decode;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Compares instruction lengths with GNU objdump over every one- and two-byte opcode combined with a
 * spread of ModRM forms and prefixes, in 16- and 32-bit code. Skipped where objdump is missing.
 */
class ObjdumpLengthTest {

    private static final int SLOT = 32;
    private static final int[] MODRMS = {0x00, 0x05, 0x04, 0x44, 0x84, 0x46, 0x86, 0xC0, 0x0D, 0x3C, 0x7C, 0xBC, 0xE8};
    private static final int[][] PREFIXES = {{}, {0x66}, {0x67}, {0x66, 0x67}, {0x2E}, {0xF3}};

    @Test
    void lengthsMatchObjdump32() throws Exception {
        compare(true);
    }

    @Test
    void lengthsMatchObjdump16() throws Exception {
        compare(false);
    }

    private void compare(boolean mode32) throws Exception {
        assumeTrue(objdumpAvailable(), "objdump (GNU binutils) is not installed");
        List<int[]> cases = new ArrayList<>();
        for (int[] prefix : PREFIXES) {
            for (int twoByte = 0; twoByte < 2; twoByte++) {
                for (int op = 0; op < 256; op++) {
                    if (twoByte == 0 && isPrefixOrEscape(op)) {
                        continue;
                    }
                    for (int modrm : MODRMS) {
                        int[] bytes = new int[prefix.length + twoByte + 1 + 1 + 12];
                        int p = 0;
                        for (int b : prefix) {
                            bytes[p++] = b;
                        }
                        if (twoByte == 1) {
                            bytes[p++] = 0x0F;
                        }
                        bytes[p++] = op;
                        bytes[p++] = modrm;
                        // SIB byte 0x25 would force disp32 with no base; keep a plain one.
                        int[] filler = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66 + 1, 0x77, 0x18, 0x29, 0x3A, 0x4B, 0x5C};
                        for (int f : filler) {
                            bytes[p++] = f;
                        }
                        cases.add(bytes);
                    }
                }
            }
        }
        byte[] image = new byte[cases.size() * SLOT];
        java.util.Arrays.fill(image, (byte) 0x90);
        for (int i = 0; i < cases.size(); i++) {
            int[] c = cases.get(i);
            for (int k = 0; k < c.length && k < SLOT; k++) {
                image[i * SLOT + k] = (byte) c[k];
            }
        }
        Map<Integer, String[]> objdump = runObjdump(image, mode32);
        int compared = 0;
        List<String> mismatches = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            int[] c = cases.get(i);
            Instruction in = new Instruction();
            try {
                Decoder.decode(off -> c[off] & 0xFF, mode32, in);
            } catch (RuntimeException e) {
                continue;
            }
            String[] theirs = objdump.get(i * SLOT);
            if (in.mnemonic() == Mnemonic.INVALID || in.mnemonic() == Mnemonic.UD2 || theirs == null
                    || theirs[1].contains("(bad)") || theirs[1].startsWith("rex") || theirs[1].contains("data16")
                    || theirs[1].contains("addr16") || theirs[1].contains("addr32") || theirs[1].contains("data32")) {
                continue;
            }
            compared++;
            int len = Integer.parseInt(theirs[0]);
            if (len != in.length()) {
                mismatches.add(String.format("%s: ours %d (%s), objdump %d (%s)", hex(c, Math.max(len, in.length())),
                        in.length(), in, len, theirs[1]));
            }
        }
        assertTrue(compared > 5000, "compared only " + compared);
        assertTrue(mismatches.isEmpty(), mismatches.size() + " mismatches of " + compared + ":\n"
                + String.join("\n", mismatches.subList(0, Math.min(40, mismatches.size()))));
    }

    private static boolean isPrefixOrEscape(int op) {
        return switch (op) {
            case 0x0F, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3 -> true;
            default -> false;
        };
    }

    private static String hex(int[] c, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n && i < c.length; i++) {
            sb.append(String.format("%02x ", c[i]));
        }
        return sb.toString().trim();
    }

    private static boolean objdumpAvailable() {
        try {
            Process p = new ProcessBuilder("objdump", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Returns, per start address, {length, text} of the instruction objdump decoded there. */
    private static Map<Integer, String[]> runObjdump(byte[] image, boolean mode32) throws Exception {
        Path file = Files.createTempFile("decoder", ".bin");
        try {
            Files.write(file, image);
            Process p = new ProcessBuilder("objdump", "-D", "-b", "binary", mode32 ? "-mi386" : "-mi8086",
                    "--insn-width=16", file.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            p.getInputStream().transferTo(out);
            p.waitFor(60, TimeUnit.SECONDS);
            Map<Integer, String[]> result = new HashMap<>();
            Pattern line = Pattern.compile("^\\s*([0-9a-f]+):\\t((?:[0-9a-f]{2} )+)\\s*\\t?(.*)$");
            for (String s : out.toString(StandardCharsets.US_ASCII).split("\n")) {
                Matcher m = line.matcher(s);
                if (m.matches()) {
                    int addr = Integer.parseInt(m.group(1), 16);
                    int len = m.group(2).trim().split(" ").length;
                    result.put(addr, new String[] {Integer.toString(len), m.group(3).trim()});
                }
            }
            return result;
        } finally {
            new File(file.toString()).delete();
        }
    }
}
