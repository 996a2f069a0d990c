package org.polyvisor.tools.conformance;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One SingleStepTests vector: the instruction bytes, the initial registers and RAM, the final
 * registers that changed and the RAM bytes that changed, and the exception taken if any.
 *
 * @param file       the file's opcode name, e.g. {@code 80.3}
 * @param idx        the vector's index in its file
 * @param name       the disassembly (for people only)
 * @param bytes      the instruction bytes including the trailing HLT
 * @param initial    all 14 registers by name ({@code ax} .. {@code flags})
 * @param initialRam physical address to byte, in file order
 * @param finalRegs  the registers that changed
 * @param finalRam   the bytes that changed
 * @param exception  the exception or software interrupt number taken, or -1
 * @param hash       the upstream identity of the vector
 */
record TestVector(String file, int idx, String name, int[] bytes, Map<String, Integer> initial,
                  Map<Long, Integer> initialRam, Map<String, Integer> finalRegs, Map<Long, Integer> finalRam,
                  int exception, String hash) {

    /** Register names in the order reports print them. */
    static final List<String> REGISTERS = List.of("ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp",
            "si", "di", "ip", "flags");

    /** Prefix bytes the 80286 knows: segment overrides, LOCK, REPNE, REP. */
    static boolean isPrefix(int b) {
        return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0xF0 || b == 0xF2 || b == 0xF3;
    }

    /** @return the number of prefix bytes before the opcode */
    int prefixCount() {
        int n = 0;
        while (n < bytes.length && isPrefix(bytes[n])) {
            n++;
        }
        return n;
    }

    /** @return the opcode byte (after the prefixes) */
    int opcode() {
        return bytes[Math.min(prefixCount(), bytes.length - 1)];
    }

    /** @return the byte after the opcode (the ModRM byte where there is one), or -1 */
    int modrm() {
        int i = prefixCount() + 1;
        return i < bytes.length ? bytes[i] : -1;
    }

    /** @return whether a LOCK prefix is present */
    boolean hasLock() {
        for (int i = 0; i < prefixCount(); i++) {
            if (bytes[i] == 0xF0) {
                return true;
            }
        }
        return false;
    }

    /** @return the expected final value of a register (its initial value unless it changed) */
    int expected(String reg) {
        Integer v = finalRegs.get(reg);
        return v != null ? v : initial.get(reg);
    }

    @SuppressWarnings("unchecked")
    static TestVector of(String file, Map<String, Object> m) {
        Map<String, Object> init = (Map<String, Object>) m.get("initial");
        Map<String, Object> fin = (Map<String, Object>) m.get("final");
        List<Object> b = (List<Object>) m.get("bytes");
        int[] bytes = new int[b.size()];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = ((Long) b.get(i)).intValue();
        }
        Map<String, Object> exc = (Map<String, Object>) m.get("exception");
        return new TestVector(file, ((Long) m.get("idx")).intValue(), String.valueOf(m.get("name")), bytes,
                regs((Map<String, Object>) init.get("regs")), ram((List<Object>) init.get("ram")),
                regs((Map<String, Object>) fin.get("regs")), ram((List<Object>) fin.get("ram")),
                exc == null ? -1 : ((Long) exc.get("number")).intValue(), String.valueOf(m.get("hash")));
    }

    private static Map<String, Integer> regs(Map<String, Object> m) {
        Map<String, Integer> out = new LinkedHashMap<>();
        if (m != null) {
            m.forEach((k, v) -> out.put(k, ((Long) v).intValue()));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<Long, Integer> ram(List<Object> l) {
        Map<Long, Integer> out = new LinkedHashMap<>();
        if (l != null) {
            for (Object o : l) {
                List<Object> pair = (List<Object>) o;
                out.put((Long) pair.get(0), ((Long) pair.get(1)).intValue());
            }
        }
        return out;
    }

    /** @return the instruction bytes in hex, e.g. {@code f0 00 5f 0e f4} */
    String hex() {
        List<String> l = new ArrayList<>();
        for (int x : bytes) {
            l.add(String.format("%02x", x));
        }
        return String.join(" ", l);
    }
}
