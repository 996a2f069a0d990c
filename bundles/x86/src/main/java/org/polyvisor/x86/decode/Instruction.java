package org.polyvisor.x86.decode;

import org.polyvisor.x86.LazyFlags;

/**
 * One decoded x86 instruction in a compact form that an interpreter dispatches on directly and a
 * binary translator walks without re-decoding: the {@link Mnemonic}, up to three operands (each a
 * kind, a size in bytes and a register number or immediate slot), the memory operand's effective
 * address parts, immediates, prefixes and the length.
 *
 * <p>Instances are filled by {@link Decoder#decode} and are immutable for their users afterwards,
 * so they can be cached per guest-physical address.
 */
public final class Instruction {

    /** Operand kind: absent. */
    public static final int KIND_NONE = 0;
    /** Operand kind: a general register; with size 1, registers 4..7 are AH, CH, DH, BH. */
    public static final int KIND_REG = 1;
    /** Operand kind: memory at the effective address ({@link #memBase()}, ...). */
    public static final int KIND_MEM = 2;
    /** Operand kind: an immediate; {@link #reg(int)} says which slot: 0 = {@link #imm()}, 1 = {@link #imm2()}. */
    public static final int KIND_IMM = 3;
    /** Operand kind: a segment register (ES=0 .. GS=5). */
    public static final int KIND_SREG = 4;
    /** Operand kind: a control register. */
    public static final int KIND_CREG = 5;
    /** Operand kind: a debug register. */
    public static final int KIND_DREG = 6;
    /** Operand kind: an implicit string operand (DS:(E)SI or ES:(E)DI) of the given size. */
    public static final int KIND_IMPLICIT = 7;

    /** Prefix F0. */
    public static final int PREFIX_LOCK = 1;
    /** Prefix F3 (REP/REPE). */
    public static final int PREFIX_REP = 1 << 1;
    /** Prefix F2 (REPNE). */
    public static final int PREFIX_REPNE = 1 << 2;
    /** Prefix 66. */
    public static final int PREFIX_OPSIZE = 1 << 3;
    /** Prefix 67. */
    public static final int PREFIX_ADDRSIZE = 1 << 4;
    /** A segment-override prefix. */
    public static final int PREFIX_SEGMENT = 1 << 5;

    /** Segment number of DS, the default data segment. */
    static final int SEG_DS = 3;
    /** Segment number of SS, the default for (E)BP/(E)SP based addresses. */
    static final int SEG_SS = 2;

    private static final String[] REG32 = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};
    private static final String[] REG16 = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
    private static final String[] REG8 = {"al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"};
    private static final String[] SREG = {"es", "cs", "ss", "ds", "fs", "gs", "?", "?"};
    private static final String[] CC = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np",
        "l", "ge", "le", "g"};

    Mnemonic mnemonic = Mnemonic.INVALID;
    int opcode;
    int length;
    int prefixes;
    int repPrefix;
    int opSize;
    int addrSize;
    int segment;
    boolean default32;
    int modrm;
    int memBase;
    int memIndex;
    int memScale;
    int disp;
    int imm;
    int imm2;
    int operandCount;
    final int[] operands = new int[3];
    final Operand[] specs = new Operand[3];
    /** What an engine attached to this decode (see {@link #tag()}); 0 after decoding. */
    int tag;

    /** Creates an empty instruction to be filled by {@link Decoder#decode}. */
    public Instruction() {
    }

    void reset(boolean mode32) {
        mnemonic = Mnemonic.INVALID;
        opcode = 0;
        length = 0;
        prefixes = 0;
        repPrefix = 0;
        default32 = mode32;
        opSize = mode32 ? 4 : 2;
        addrSize = opSize;
        segment = SEG_DS;
        modrm = -1;
        memBase = -1;
        memIndex = -1;
        memScale = 0;
        disp = 0;
        imm = 0;
        imm2 = 0;
        operandCount = 0;
        operands[0] = 0;
        operands[1] = 0;
        operands[2] = 0;
        specs[0] = null;
        specs[1] = null;
        specs[2] = null;
        tag = 0;
    }

    static int pack(int kind, int size, int reg) {
        return kind | size << 4 | reg << 16;
    }

    /** @return the operation */
    public Mnemonic mnemonic() {
        return mnemonic;
    }

    /** @return the opcode: one byte, or {@code 0x0Fxx} for the two-byte map */
    public int opcode() {
        return opcode;
    }

    /** @return the condition code 0..15 of Jcc, SETcc and CMOVcc (the opcode's low nibble) */
    public int condition() {
        return opcode & 0xF;
    }

    /** @return the length in bytes, prefixes included */
    public int length() {
        return length;
    }

    /** @return the {@code PREFIX_*} bits present */
    public int prefixes() {
        return prefixes;
    }

    /** @return whether a LOCK prefix is present (only where legal; otherwise the decode is INVALID) */
    public boolean lock() {
        return (prefixes & PREFIX_LOCK) != 0;
    }

    /** @return 0xF3, 0xF2 or 0: the last repeat prefix */
    public int repPrefix() {
        return repPrefix;
    }

    /** @return the operand-size attribute, 2 or 4 */
    public int opSize() {
        return opSize;
    }

    /** @return the address-size attribute, 2 or 4 */
    public int addrSize() {
        return addrSize;
    }

    /** @return the segment of the memory operand (override or default), ES=0 .. GS=5 */
    public int segment() {
        return segment;
    }

    /** @return whether the decode assumed a 32-bit code segment (CS.D) */
    public boolean default32() {
        return default32;
    }

    /** @return the ModRM byte, or -1 if the instruction has none */
    public int modrm() {
        return modrm;
    }

    /** @return ModRM.reg (the group index for group opcodes), or -1 without ModRM */
    public int modrmReg() {
        return modrm < 0 ? -1 : (modrm >> 3) & 7;
    }

    /** @return the memory operand's base register, or -1 */
    public int memBase() {
        return memBase;
    }

    /** @return the memory operand's index register, or -1 */
    public int memIndex() {
        return memIndex;
    }

    /** @return the memory operand's scale as a shift count 0..3 */
    public int memScale() {
        return memScale;
    }

    /** @return the memory operand's displacement (sign-extended; the moffs for Ob/Ov) */
    public int disp() {
        return disp;
    }

    /** @return the first immediate (sign-extended where the encoding says so; relative offsets sign-extended) */
    public int imm() {
        return imm;
    }

    /** @return the second immediate (ENTER's nesting level, a far pointer's selector) */
    public int imm2() {
        return imm2;
    }

    /** @return the number of explicit operands */
    public int operandCount() {
        return operandCount;
    }

    /**
     * @param i operand index 0..2
     * @return the operand's {@code KIND_*}
     */
    public int kind(int i) {
        return operands[i] & 0xF;
    }

    /**
     * @param i operand index 0..2
     * @return the operand's size in bytes
     */
    public int size(int i) {
        return (operands[i] >>> 4) & 0xFFF;
    }

    /**
     * @param i operand index 0..2
     * @return the register number, or the immediate slot for {@link #KIND_IMM}
     */
    public int reg(int i) {
        return operands[i] >>> 16;
    }

    /**
     * @param i operand index 0..2
     * @return the SDM operand specification it was decoded from, or null
     */
    public Operand spec(int i) {
        return specs[i];
    }

    /**
     * A number an engine may attach to a decoded instruction it keeps, e.g. the handler it chose for
     * this form at decode time, so executing it again needs no second look at the operands. The
     * decoder sets it to 0; it means nothing to anyone else.
     *
     * @return the engine's number, 0 when none was attached
     */
    public int tag() {
        return tag;
    }

    /**
     * Attaches an engine's number to this decode (see {@link #tag()}).
     *
     * @param tag the number
     */
    public void tag(int tag) {
        this.tag = tag;
    }

    /** @return whether one of the operands is in memory */
    public boolean hasMemoryOperand() {
        for (int i = 0; i < operandCount; i++) {
            if (kind(i) == KIND_MEM) {
                return true;
            }
        }
        return false;
    }

    /** @return Intel-syntax disassembly, e.g. {@code add dword [ebx+esi*4+0x10], 0x5} */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        if (lock()) {
            sb.append("lock ");
        }
        if (repPrefix != 0 && isString()) {
            sb.append(repPrefix == 0xF3 ? (mnemonic == Mnemonic.CMPS || mnemonic == Mnemonic.SCAS ? "repe " : "rep ")
                    : "repne ");
        }
        sb.append(mnemonic.text());
        switch (mnemonic) {
            case JCC, SETCC, CMOVCC -> sb.append(CC[condition()]);
            case MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS -> sb.append(suffix(size(0) == 0 ? size(1) : size(0)));
            case CBW -> sb.replace(sb.length() - 3, sb.length(), opSize == 4 ? "cwde" : "cbw");
            case CWD -> sb.replace(sb.length() - 3, sb.length(), opSize == 4 ? "cdq" : "cwd");
            case PUSHA, POPA, PUSHF, POPF, IRET -> sb.append(opSize == 4 ? "d" : "");
            default -> { }
        }
        if (isString()) {
            return sb.toString();
        }
        String sep = " ";
        for (int i = 0; i < operandCount; i++) {
            sb.append(sep);
            sep = ", ";
            operandText(sb, i);
        }
        return sb.toString();
    }

    private boolean isString() {
        return switch (mnemonic) {
            case MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS -> true;
            default -> false;
        };
    }

    private static String suffix(int size) {
        return size == 1 ? "b" : size == 2 ? "w" : "d";
    }

    private void operandText(StringBuilder sb, int i) {
        int size = size(i);
        int reg = reg(i);
        switch (kind(i)) {
            case KIND_REG -> sb.append(size == 1 ? REG8[reg] : size == 2 ? REG16[reg] : REG32[reg]);
            case KIND_SREG -> sb.append(SREG[reg]);
            case KIND_CREG -> sb.append("cr").append(reg);
            case KIND_DREG -> sb.append("dr").append(reg);
            case KIND_IMM -> {
                Operand s = specs[i];
                if (s == Operand.Ap) {
                    sb.append(String.format("0x%x:0x%x", imm2 & 0xFFFF, imm));
                } else if (s != null && s.method() == Operand.Method.J) {
                    sb.append(imm < 0 ? String.format("$-0x%x", -(long) imm) : String.format("$+0x%x", imm));
                } else {
                    sb.append(String.format("0x%x", (reg == 0 ? imm : imm2) & LazyFlags.mask(Math.min(4, Math.max(1, size)))));
                }
            }
            case KIND_MEM -> memText(sb, size);
            default -> sb.append('?');
        }
    }

    private void memText(StringBuilder sb, int size) {
        switch (size) {
            case 1 -> sb.append("byte ");
            case 2 -> sb.append("word ");
            case 4 -> sb.append("dword ");
            case 6 -> sb.append("fword ");
            case 8 -> sb.append("qword ");
            default -> { }
        }
        if ((prefixes & PREFIX_SEGMENT) != 0) {
            sb.append(SREG[segment]).append(':');
        }
        sb.append('[');
        String[] names = addrSize == 4 ? REG32 : REG16;
        boolean any = false;
        if (memBase >= 0) {
            sb.append(names[memBase]);
            any = true;
        }
        if (memIndex >= 0) {
            sb.append(any ? "+" : "").append(names[memIndex]);
            if (memScale != 0) {
                sb.append('*').append(1 << memScale);
            }
            any = true;
        }
        if (!any) {
            sb.append(String.format("0x%x", addrSize == 4 ? disp : disp & 0xFFFF));
        } else if (disp != 0) {
            sb.append(disp < 0 ? String.format("-0x%x", -(long) disp) : String.format("+0x%x", disp));
        }
        sb.append(']');
    }
}
