package org.polyvisor.cpu.interpreter;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Generates random 32-bit instruction sequences whose architecturally defined results can be
 * compared between the host CPU and an engine: integer ALU, shifts and rotates (counts above the
 * width included), SHLD/SHRD, MUL/IMUL, DIV/IDIV (operands chosen so no #DE), BCD adjusts, string
 * instructions with REP on a buffer, bit tests and scans, CMOVcc/SETcc, PUSHF/POP, exchanges, and
 * short forward branches (Jcc, LOOPcc, JECXZ, JMP) over one instruction.
 *
 * <p>The generator tracks which arithmetic flags are currently undefined (SDM "Flags Affected" of
 * each instruction). An instruction that reads a flag that is undefined gets a {@code cmp r, r}
 * first, which defines all six; a FLAGS image stored by PUSHF or LAHF is ANDed with the defined
 * bits before anything keeps it. So every value the sequence leaves behind is defined, and the final
 * EFLAGS is compared under {@link #undefinedAtEnd()}.
 *
 * <p>Layout of the 16 KiB test region at {@link #REGION}: code page, two data pages (random initial
 * contents, all memory operands are absolute addresses into them), a stack page with the output
 * block (registers, then EFLAGS) at {@link #OUT} and the host's saved ESP at {@link #SAVE}.
 */
final class SequenceGenerator {

    static final int REGION = 0x0020_0000;
    static final int SIZE = 0x4000;
    static final int DATA = REGION + 0x1000;
    static final int DATA_SIZE = 0x2000;
    static final int STACK_TOP = REGION + 0x3E00;
    static final int OUT = REGION + 0x3F00;
    static final int SAVE = REGION + 0x3FFC;

    static final int CF = 0x1;
    static final int PF = 0x4;
    static final int AF = 0x10;
    static final int ZF = 0x40;
    static final int SF = 0x80;
    static final int OF = 0x800;
    static final int ALL = CF | PF | AF | ZF | SF | OF;

    /** Flags each condition code (Jcc/SETcc/CMOVcc low nibble >> 1) reads. */
    private static final int[] CONDITION_READS = {OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF};
    /** General registers a random operand may name (not ESP). */
    private static final int[] GPRS = {0, 1, 2, 3, 5, 6, 7};

    private final Random rnd;
    private final ByteArrayOutputStream code = new ByteArrayOutputStream();
    private final List<Integer> starts = new ArrayList<>();
    private int undefined;
    private int startOffset;
    private int stopOffset;
    private final byte[] image = new byte[SIZE];

    SequenceGenerator(long seed) {
        this.rnd = new Random(seed);
    }

    /** @return the 16 KiB region image to load at {@link #REGION} */
    byte[] image() {
        return image;
    }

    /** @return where the engine starts (after the host-register save) */
    int startAddress() {
        return REGION + startOffset;
    }

    /** @return where the engine stops (before the host-register restore) */
    int stopAddress() {
        return REGION + stopOffset;
    }

    /** @return the arithmetic flags undefined at the end (also masked out of the stored EFLAGS) */
    int undefinedAtEnd() {
        return undefined;
    }

    /** @return code offsets of the body's instructions (for disassembly in reports) */
    List<Integer> instructionStarts() {
        return starts;
    }

    /**
     * Generates one sequence.
     *
     * @param length number of test instructions (each may get a few setup instructions)
     * @return this
     */
    SequenceGenerator generate(int length) {
        // Data first, so that a shorter sequence from the same seed is a prefix of a longer one.
        for (int i = 0; i < DATA_SIZE; i++) {
            image[0x1000 + i] = (byte) value();
        }
        // Prologue run only on the host: save its registers and ESP.
        b(0x60, 0x9C); // pushad; pushfd
        b(0x89, 0x25);
        d(SAVE); // mov [SAVE], esp
        startOffset = code.size();
        b(0xBC);
        d(STACK_TOP);
        for (int r : GPRS) {
            b(0xB8 + r);
            d(value());
        }
        int flags = (rnd.nextInt() & ALL) | 0x202 | (rnd.nextInt(4) == 0 ? 0x400 : 0); // IF, DF sometimes
        b(0x68);
        d(flags);
        b(0x9D); // push imm32; popfd
        undefined = 0;
        for (int i = 0; i < length; i++) {
            instruction();
        }
        starts.add(code.size());
        // Epilogue: store registers, then EFLAGS with the undefined bits cleared.
        for (int r = 0; r < 8; r++) {
            b(0x89, modrm(0, r, 5));
            d(OUT + 4 * r);
        }
        b(0x9C); // pushfd
        b(0x81, 0x24, 0x24);
        d(~undefined); // and dword [esp], ~undefined
        b(0x8F, 0x05);
        d(OUT + 32); // pop dword [OUT+32]
        stopOffset = code.size();
        b(0x8B, 0x25);
        d(SAVE); // mov esp, [SAVE]
        b(0x9D, 0x61, 0xC3); // popfd; popad; ret
        byte[] c = code.toByteArray();
        if (c.length > 0x1000) {
            throw new IllegalStateException("sequence too long: " + c.length);
        }
        System.arraycopy(c, 0, image, 0, c.length);
        return this;
    }

    // ---- encoding helpers ----

    private void b(int... bytes) {
        for (int x : bytes) {
            code.write(x);
        }
    }

    private void d(int v) {
        b(v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, v >>> 24);
    }

    private void w(int v) {
        b(v & 0xFF, (v >>> 8) & 0xFF);
    }

    private static int modrm(int mod, int reg, int rm) {
        return mod << 6 | reg << 3 | rm;
    }

    /** Random values skewed to edge cases. */
    private int value() {
        return switch (rnd.nextInt(8)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> 0x8000_0000;
            case 3 -> 0x7FFF_FFFF;
            case 4 -> rnd.nextInt(256);
            case 5 -> (rnd.nextBoolean() ? 0xFFFF_FF80 : 0x80) ^ rnd.nextInt(0x80);
            default -> rnd.nextInt();
        };
    }

    private int gpr() {
        return GPRS[rnd.nextInt(GPRS.length)];
    }

    /** An absolute data address whose {@code size}-byte operand stays inside the data pages. */
    private int dataAddress(int size) {
        return DATA + 0x200 + rnd.nextInt(DATA_SIZE - 0x400 - size);
    }

    /** Operand size: 1, 2 (with a 66 prefix emitted) or 4. */
    private int size(boolean allowByte) {
        int s = rnd.nextInt(allowByte ? 3 : 2);
        int size = allowByte ? (s == 0 ? 1 : s == 1 ? 2 : 4) : (s == 0 ? 2 : 4);
        if (size == 2) {
            b(0x66);
        }
        return size;
    }

    /**
     * Emits a ModRM r/m operand (register or absolute memory) with the given reg field.
     *
     * @return true if memory
     */
    private boolean rm(int reg, int size) {
        if (rnd.nextInt(3) == 0) {
            b(modrm(0, reg, 5));
            d(dataAddress(size));
            return true;
        }
        b(modrm(3, reg, size == 1 ? rnd.nextInt(8) : gpr()));
        return false;
    }

    /** Makes the given flags defined before an instruction reads them. */
    private void need(int flags) {
        if ((undefined & flags) != 0) {
            starts.add(code.size());
            b(0x39, modrm(3, gpr(), gpr())); // cmp r32, r32: defines all six
            undefined = 0;
        }
    }

    private void imm(int size, int v) {
        if (size == 1) {
            b(v & 0xFF);
        } else if (size == 2) {
            w(v);
        } else {
            d(v);
        }
    }

    private int reg8NotAccumulator() {
        int[] r = {1, 3, 5, 7}; // CL, BL, CH, BH
        return r[rnd.nextInt(r.length)];
    }

    private int regNotAccumulator() {
        int[] r = {1, 3, 5, 6, 7};
        return r[rnd.nextInt(r.length)];
    }

    // ---- the instruction mix ----

    private void instruction() {
        int kind = rnd.nextInt(23);
        if (kind == 0 || kind == 1) {
            alu();
            return;
        }
        starts.add(code.size());
        switch (kind) {
            case 2 -> unary();
            case 3, 4 -> shift();
            case 5 -> doubleShift();
            case 6 -> multiply();
            case 7 -> divide();
            case 8 -> bcd();
            case 9 -> string();
            case 10 -> bitTest();
            case 11 -> bitScan();
            case 12 -> cmovSetcc();
            case 13 -> pushfPop();
            case 14 -> exchange();
            case 15 -> extend();
            case 16 -> flagOps();
            case 17 -> stack();
            case 18 -> movs();
            case 19 -> incDec();
            case 20 -> lahfSahf();
            case 21 -> branch();
            default -> aluImmediate();
        }
    }

    /** ADD, OR, ADC, SBB, AND, SUB, XOR, CMP in the r/m,r and r,r/m forms. */
    private void alu() {
        int op = rnd.nextInt(8);
        if (op == 2 || op == 3) {
            need(CF);
        }
        starts.add(code.size());
        int size = size(true);
        int dir = rnd.nextInt(2) * 2; // 0: Ev,Gv  2: Gv,Ev
        b(op * 8 + dir + (size == 1 ? 0 : 1));
        rm(size == 1 ? rnd.nextInt(8) : gpr(), size);
        undefined = op == 1 || op == 4 || op == 6 ? AF : 0;
    }

    private void aluImmediate() {
        int op = rnd.nextInt(8);
        if (op == 2 || op == 3) {
            need(CF);
            starts.set(starts.size() - 1, code.size());
        }
        int size = size(true);
        int form = size == 1 ? 0x80 : rnd.nextBoolean() ? 0x81 : 0x83;
        if (rnd.nextInt(4) == 0) { // accumulator short form
            b(op * 8 + (size == 1 ? 4 : 5));
            imm(size, value());
        } else {
            b(form);
            rm(op, size);
            imm(form == 0x83 ? 1 : size, value());
        }
        undefined = op == 1 || op == 4 || op == 6 ? AF : 0;
    }

    /** NOT, NEG, TEST (F6/F7 /0, /2, /3) and TEST r/m, r. */
    private void unary() {
        int size = size(true);
        int which = rnd.nextInt(4);
        if (which == 3) {
            b(size == 1 ? 0x84 : 0x85);
            rm(size == 1 ? rnd.nextInt(8) : gpr(), size);
            undefined = AF;
            return;
        }
        int reg = which == 0 ? 0 : which == 1 ? 2 : 3;
        b(size == 1 ? 0xF6 : 0xF7);
        rm(reg, size);
        if (reg == 0) {
            imm(size, value());
            undefined = AF;
        } else if (reg == 3) {
            undefined = 0;
        }
    }

    private void incDec() {
        int size = size(true);
        if (size != 1 && rnd.nextBoolean()) {
            b((rnd.nextBoolean() ? 0x40 : 0x48) + gpr());
        } else {
            b(size == 1 ? 0xFE : 0xFF);
            rm(rnd.nextInt(2), size);
        }
        undefined &= CF; // CF unaffected, the others defined
    }

    /** Group 2: ROL ROR RCL RCR SHL SHR SAL SAR by 1, CL or imm8 (counts 0..255). */
    private void shift() {
        int op = rnd.nextInt(8);
        int form = rnd.nextInt(3); // 0: by 1, 1: by CL, 2: by imm8
        int count;
        boolean known = true;
        if (form == 1) {
            if (rnd.nextInt(4) != 0) {
                b(0xB1);
                count = rnd.nextInt(4) == 0 ? rnd.nextInt(256) : rnd.nextInt(34);
                b(count); // mov cl, imm8
                starts.add(code.size());
            } else {
                count = -1;
                known = false;
            }
        } else {
            count = form == 0 ? 1 : (rnd.nextInt(3) == 0 ? rnd.nextInt(256) : rnd.nextInt(34));
        }
        if (op == 2 || op == 3) {
            need(CF);
            starts.set(starts.size() - 1, code.size());
        }
        int size = size(true);
        int opcode = form == 0 ? 0xD0 : form == 1 ? 0xD2 : 0xC0;
        b(opcode + (size == 1 ? 0 : 1));
        rm(op, size);
        if (form == 2) {
            b(count);
        }
        int bits = size * 8;
        if (!known) {
            undefined = op <= 3 ? undefined | OF | CF : ALL;
            return;
        }
        int c = count & 0x1F;
        if (c == 0) {
            return; // flags unchanged
        }
        int u = c == 1 ? 0 : OF;
        if (op <= 3) {
            undefined = undefined | u; // rotates touch only CF and OF
            if (c == 1) {
                undefined &= ~OF;
            }
            undefined &= ~CF;
            return;
        }
        u |= AF;
        if (op != 7 && c >= bits) {
            u |= CF; // SHL/SHR: CF undefined for counts >= the width
        }
        undefined = u;
    }

    /** SHLD/SHRD by imm8 or CL (16-bit counts kept <= 16: above that the result is undefined). */
    private void doubleShift() {
        boolean byCl = rnd.nextBoolean();
        int size = rnd.nextBoolean() ? 2 : 4;
        int count = rnd.nextInt(3) == 0 ? rnd.nextInt(256) : rnd.nextInt(34);
        if (size == 2 && (count & 0x1F) > 16) {
            count &= 0x0F;
        }
        if (byCl) {
            b(0xB1, count);
            starts.add(code.size());
        }
        if (size == 2) {
            b(0x66);
        }
        boolean left = rnd.nextBoolean();
        b(0x0F, (left ? 0xA4 : 0xAC) + (byCl ? 1 : 0));
        rm(gpr(), size);
        if (!byCl) {
            b(count);
        }
        int c = count & 0x1F;
        if (c != 0) {
            undefined = AF | (c == 1 ? 0 : OF);
        }
    }

    /** MUL/IMUL r/m (F6/F7 /4 /5), IMUL r, r/m (0F AF), IMUL r, r/m, imm (69, 6B). */
    private void multiply() {
        int form = rnd.nextInt(3);
        if (form == 0) {
            int size = size(true);
            b(size == 1 ? 0xF6 : 0xF7);
            rm(4 + rnd.nextInt(2), size);
        } else if (form == 1) {
            size(false);
            b(0x0F, 0xAF);
            rm(gpr(), 4);
        } else {
            int size = size(false);
            boolean short8 = rnd.nextBoolean();
            b(short8 ? 0x6B : 0x69);
            rm(gpr(), size);
            imm(short8 ? 1 : size, value());
        }
        undefined = SF | ZF | AF | PF;
    }

    /** DIV/IDIV with a dividend and divisor chosen so the quotient fits (no #DE). */
    private void divide() {
        int size = rnd.nextInt(3) == 0 ? 1 : rnd.nextBoolean() ? 2 : 4;
        boolean signed = rnd.nextBoolean();
        int bits = size * 8;
        long divisor;
        long dividend;
        while (true) {
            divisor = signExtend(value(), bits);
            if (!signed) {
                divisor &= mask(bits);
            }
            if (divisor == 0) {
                continue;
            }
            long hi = signExtend(value(), bits);
            long lo = value() & mask(bits);
            int shift = rnd.nextInt(bits + 1);
            dividend = signed ? ((hi << bits) | lo) >> shift : (((hi & mask(bits)) << bits) | lo) >>> shift;
            if (size == 4 && !signed) {
                // 64-bit unsigned dividend: EDX < divisor keeps the quotient in 32 bits.
                long h = (dividend >>> 32) % divisor;
                dividend = (h << 32) | (dividend & 0xFFFF_FFFFL);
                break;
            }
            if (size == 4) {
                if (dividend == Long.MIN_VALUE) {
                    continue;
                }
                long q = dividend / divisor;
                if (q == (int) q) {
                    break;
                }
            } else {
                long q = signed ? dividend / divisor : Long.divideUnsigned(dividend & mask(2 * bits), divisor);
                long min = signed ? -(1L << (bits - 1)) : 0;
                long max = signed ? (1L << (bits - 1)) - 1 : mask(bits);
                if (q >= min && q <= max) {
                    break;
                }
            }
        }
        // Load the dividend: AX, DX:AX or EDX:EAX.
        if (size == 1) {
            b(0x66, 0xB8);
            w((int) dividend);
        } else if (size == 2) {
            b(0x66, 0xB8);
            w((int) dividend);
            b(0x66, 0xBA);
            w((int) (dividend >>> 16));
        } else {
            b(0xB8);
            d((int) dividend);
            b(0xBA);
            d((int) (dividend >>> 32));
        }
        boolean memory = rnd.nextBoolean();
        int addr = dataAddress(size);
        int reg = size == 1 ? reg8NotAccumulator() : regNotAccumulator();
        if (memory) {
            b(0xC7, modrm(0, 0, 5));
            d(addr);
            d((int) divisor); // mov dword [addr], divisor
        } else if (size == 1) {
            b(0xB0 + reg, (int) divisor & 0xFF);
        } else {
            b(0xB8 + reg);
            d((int) divisor);
        }
        starts.add(code.size());
        if (size == 2) {
            b(0x66);
        }
        b(size == 1 ? 0xF6 : 0xF7);
        if (memory) {
            b(modrm(0, signed ? 7 : 6, 5));
            d(addr);
        } else {
            b(modrm(3, signed ? 7 : 6, reg));
        }
        undefined = ALL;
    }

    private static long mask(int bits) {
        return bits >= 64 ? -1L : (1L << bits) - 1;
    }

    private static long signExtend(long v, int bits) {
        return (v << (64 - bits)) >> (64 - bits);
    }

    /** DAA, DAS, AAA, AAS, AAM imm8 (not 0), AAD imm8. */
    private void bcd() {
        int which = rnd.nextInt(6);
        switch (which) {
            case 0, 1 -> {
                need(CF | AF);
                starts.set(starts.size() - 1, code.size());
                b(which == 0 ? 0x27 : 0x2F);
                undefined = OF;
            }
            case 2, 3 -> {
                need(AF);
                starts.set(starts.size() - 1, code.size());
                b(which == 2 ? 0x37 : 0x3F);
                undefined = OF | SF | ZF | PF;
            }
            case 4 -> {
                b(0xD4, rnd.nextInt(3) == 0 ? 10 : 1 + rnd.nextInt(255));
                undefined = OF | AF | CF;
            }
            default -> {
                b(0xD5, rnd.nextInt(3) == 0 ? 10 : rnd.nextInt(256));
                undefined = OF | AF | CF;
            }
        }
    }

    /** MOVS/CMPS/STOS/LODS/SCAS b/w/d on the data pages, REP/REPE/REPNE with a small ECX. */
    private void string() {
        b(0xBE);
        d(DATA + 0x400 + rnd.nextInt(0x1000));
        b(0xBF);
        d(DATA + 0x400 + rnd.nextInt(0x1000));
        int count = rnd.nextInt(18);
        b(0xB9);
        d(count);
        b(rnd.nextInt(3) == 0 ? 0xFD : 0xFC); // std / cld
        starts.add(code.size());
        int op = new int[] {0xA4, 0xA6, 0xAA, 0xAC, 0xAE}[rnd.nextInt(5)];
        boolean compares = op == 0xA6 || op == 0xAE;
        int rep = rnd.nextInt(3);
        if (rep == 1) {
            b(0xF3);
        } else if (rep == 2 && compares) {
            b(0xF2);
        } else if (rep == 2) {
            b(0xF3);
        }
        int size = rnd.nextInt(3);
        if (size == 1) {
            b(0x66);
        }
        b(op + (size == 0 ? 0 : 1));
        if (compares && (rep == 0 || count != 0)) {
            undefined = 0; // at least one comparison ran (REP with ECX = 0 leaves the flags alone)
        }
        starts.add(code.size());
        b(0xFC); // cld
    }

    /** BT/BTS/BTR/BTC with a register offset (kept near the operand for memory) or an imm8. */
    private void bitTest() {
        int op = rnd.nextInt(4); // BT BTS BTR BTC
        int size = rnd.nextBoolean() ? 2 : 4;
        if (rnd.nextBoolean()) {
            int offsetReg = gpr();
            boolean memory = rnd.nextInt(3) == 0;
            if (memory) {
                b(0xB8 + offsetReg);
                d(rnd.nextInt(2048) - 1024); // within +-128 bytes of the operand
                starts.add(code.size());
            }
            if (size == 2) {
                b(0x66);
            }
            b(0x0F, 0xA3 + op * 8);
            if (memory) {
                b(modrm(0, offsetReg, 5));
                d(dataAddress(size));
            } else {
                b(modrm(3, offsetReg, gpr()));
            }
        } else {
            if (size == 2) {
                b(0x66);
            }
            b(0x0F, 0xBA);
            rm(4 + op, size);
            b(rnd.nextInt(256));
        }
        undefined = (undefined & ZF) | OF | SF | AF | PF;
    }

    /** BSF/BSR (a zero source leaves the destination unchanged on Intel and AMD alike; ZF defined). */
    private void bitScan() {
        int size = size(false);
        b(0x0F, rnd.nextBoolean() ? 0xBC : 0xBD);
        rm(gpr(), size);
        undefined = CF | OF | SF | AF | PF;
    }

    /** CMOVcc r, r/m and SETcc r/m8. */
    private void cmovSetcc() {
        int cc = rnd.nextInt(16);
        need(CONDITION_READS[cc >> 1]);
        starts.set(starts.size() - 1, code.size());
        if (rnd.nextBoolean()) {
            size(false);
            b(0x0F, 0x40 + cc);
            rm(gpr(), 4);
        } else {
            b(0x0F, 0x90 + cc);
            rm(0, 1);
        }
    }

    /** PUSHFD; AND [ESP], defined bits; POP r (the FLAGS image itself is compared). */
    private void pushfPop() {
        b(0x9C);
        if (undefined != 0) {
            b(0x81, 0x24, 0x24);
            d(~undefined);
        }
        b(0x58 + gpr());
    }

    /** XCHG, XADD, CMPXCHG (register and memory forms). */
    private void exchange() {
        int which = rnd.nextInt(3);
        int size = size(true);
        switch (which) {
            case 0 -> {
                b(size == 1 ? 0x86 : 0x87);
                rm(size == 1 ? rnd.nextInt(8) : gpr(), size);
            }
            case 1 -> {
                b(0x0F, size == 1 ? 0xC0 : 0xC1);
                rm(size == 1 ? rnd.nextInt(8) : gpr(), size);
                undefined = 0;
            }
            default -> {
                b(0x0F, size == 1 ? 0xB0 : 0xB1);
                rm(size == 1 ? rnd.nextInt(8) : gpr(), size);
                undefined = 0;
            }
        }
    }

    /** MOVZX, MOVSX, CBW/CWDE, CWD/CDQ, BSWAP, LEA. */
    private void extend() {
        switch (rnd.nextInt(6)) {
            case 0, 1 -> {
                size(false);
                b(0x0F, (rnd.nextBoolean() ? 0xB6 : 0xBE) + rnd.nextInt(2));
                rm(gpr(), 2);
            }
            case 2 -> {
                size(false);
                b(0x98);
            }
            case 3 -> {
                size(false);
                b(0x99);
            }
            case 4 -> b(0x0F, 0xC8 + gpr());
            default -> {
                size(false);
                b(0x8D, modrm(2, gpr(), gpr()));
                d(value()); // lea r, [r + disp32]
            }
        }
    }

    /** CLC, STC, CMC, SALC. */
    private void flagOps() {
        switch (rnd.nextInt(4)) {
            case 0 -> {
                b(0xF8);
                undefined &= ~CF;
            }
            case 1 -> {
                b(0xF9);
                undefined &= ~CF;
            }
            case 2 -> {
                need(CF);
                starts.set(starts.size() - 1, code.size());
                b(0xF5);
            }
            default -> {
                need(CF);
                starts.set(starts.size() - 1, code.size());
                b(0xD6); // SALC
            }
        }
    }

    /** PUSH r/imm/m, POP r/m (16- and 32-bit). */
    private void stack() {
        switch (rnd.nextInt(5)) {
            case 0 -> {
                size(false);
                b(0x50 + rnd.nextInt(8));
            }
            case 1 -> {
                size(false);
                b(0x58 + gpr());
            }
            case 2 -> {
                int size = size(false);
                boolean short8 = rnd.nextBoolean();
                b(short8 ? 0x6A : 0x68);
                imm(short8 ? 1 : size, value());
            }
            case 3 -> {
                int size = size(false);
                b(0xFF, modrm(0, 6, 5));
                d(dataAddress(size)); // push m
            }
            default -> {
                int size = size(false);
                b(0x8F, modrm(0, 0, 5));
                d(dataAddress(size)); // pop m
            }
        }
    }

    /** MOV in its register, memory and immediate forms. */
    private void movs() {
        int size = size(true);
        switch (rnd.nextInt(3)) {
            case 0 -> {
                b(size == 1 ? 0x88 : 0x89);
                rm(size == 1 ? rnd.nextInt(8) : gpr(), size);
            }
            case 1 -> {
                b(size == 1 ? 0x8A : 0x8B);
                rm(size == 1 ? rnd.nextInt(8) : gpr(), size);
            }
            default -> {
                b(size == 1 ? 0xC6 : 0xC7);
                rm(0, size);
                imm(size, value());
            }
        }
    }

    /**
     * Jcc, LOOP/LOOPE/LOOPNE/JECXZ or JMP short over a one-byte INC r32 (taken or not). The INC
     * defines all flags but CF when it runs and is skipped otherwise, so what was undefined stays so.
     */
    private void branch() {
        int form = rnd.nextInt(3);
        if (form == 0) {
            int cc = rnd.nextInt(16);
            need(CONDITION_READS[cc >> 1]);
            starts.set(starts.size() - 1, code.size());
            b(0x70 + cc, 1);
        } else if (form == 1) {
            int op = 0xE0 + rnd.nextInt(4);
            if (op == 0xE0 || op == 0xE1) {
                need(ZF);
                starts.set(starts.size() - 1, code.size());
            }
            b(op, 1);
        } else {
            b(0xEB, 1);
        }
        starts.add(code.size());
        b(0x40 + gpr());
    }

    /** LAHF (AH masked to the defined flags) and SAHF. */
    private void lahfSahf() {
        if (rnd.nextBoolean()) {
            b(0x9F);
            int u = undefined & 0xD5;
            if (u != 0) {
                b(0x80, modrm(3, 4, 4), ~u & 0xFF); // and ah, defined bits
            }
            if (u != 0) {
                undefined = AF; // the AND defines SF ZF PF, clears CF OF, leaves AF undefined
            }
        } else {
            b(0x9E);
            undefined &= OF;
        }
    }
}
