package org.polyvisor.x86.decode;

import org.polyvisor.x86.X86Exception;

/**
 * Decodes one x86 instruction (16- and 32-bit code, i686 opcode maps) into an {@link Instruction}.
 * Stateless and thread-safe; allocates nothing.
 *
 * <p>Undefined opcodes, illegal LOCK prefixes, register forms of memory-only operands and invalid
 * segment registers decode to {@link Mnemonic#INVALID} (the executor raises #UD). An instruction
 * longer than 15 bytes raises #GP(0) from here, as the CPU does when it fetches the 16th byte.
 */
public final class Decoder {

    /** Architectural maximum instruction length (SDM Vol. 2A, 2.3.11). */
    public static final int MAX_LENGTH = 15;

    private static final int[] BASE16 = {3, 3, 5, 5, 6, 7, 5, 3};
    private static final int[] INDEX16 = {6, 7, 6, 7, -1, -1, -1, -1};

    private Decoder() {
    }

    /**
     * Decodes the instruction whose bytes {@code fetcher} returns.
     *
     * @param fetcher  the instruction bytes (offset 0 is the first prefix or opcode byte)
     * @param default32 whether the code segment is 32-bit (CS.D = 1)
     * @param out      filled with the result
     * @throws X86Exception #GP(0) if longer than 15 bytes, or whatever the fetcher raises
     */
    public static void decode(CodeFetcher fetcher, boolean default32, Instruction out) {
        out.reset(default32);
        int pos = 0;
        int b;
        int prefixes = 0;
        prefixLoop:
        while (true) {
            b = fetcher.fetch(pos++);
            switch (b) {
                case 0x26, 0x2E, 0x36, 0x3E -> {
                    out.segment = (b >> 3) & 3;
                    prefixes |= Instruction.PREFIX_SEGMENT;
                }
                case 0x64, 0x65 -> {
                    out.segment = b - 0x60;
                    prefixes |= Instruction.PREFIX_SEGMENT;
                }
                case 0x66 -> prefixes |= Instruction.PREFIX_OPSIZE;
                case 0x67 -> prefixes |= Instruction.PREFIX_ADDRSIZE;
                case 0xF0 -> prefixes |= Instruction.PREFIX_LOCK;
                case 0xF2 -> {
                    prefixes |= Instruction.PREFIX_REPNE;
                    out.repPrefix = 0xF2;
                }
                case 0xF3 -> {
                    prefixes |= Instruction.PREFIX_REP;
                    out.repPrefix = 0xF3;
                }
                default -> {
                    break prefixLoop;
                }
            }
            if (pos >= MAX_LENGTH) {
                throw X86Exception.generalProtection(0);
            }
        }
        out.prefixes = prefixes;
        int opSize = default32 ^ (prefixes & Instruction.PREFIX_OPSIZE) != 0 ? 4 : 2;
        int addrSize = default32 ^ (prefixes & Instruction.PREFIX_ADDRSIZE) != 0 ? 4 : 2;
        out.opSize = opSize;
        out.addrSize = addrSize;

        OpcodeTable.Entry e;
        if (b == 0x0F) {
            b = next(fetcher, pos++);
            out.opcode = 0x0F00 | b;
            e = OpcodeTable.TWO_BYTE[b];
        } else {
            out.opcode = b;
            e = OpcodeTable.ONE_BYTE[b];
        }
        if (e == null) {
            out.length = pos;
            return;
        }
        int modrm = -1;
        if (e.modrm) {
            modrm = next(fetcher, pos++);
            out.modrm = modrm;
            if (e.group != null) {
                e = e.group[(modrm >> 3) & 7];
            }
        }
        int mod = modrm >>> 6;
        boolean memoryForm = modrm >= 0 && mod != 3 && (e == null || !e.rmAlwaysRegister);
        if (memoryForm) {
            pos = decodeAddress(fetcher, pos, modrm, addrSize, out);
        }
        if (e == null || e.mnemonic == Mnemonic.INVALID) {
            out.length = pos;
            return;
        }
        if (e == OpcodeTable.X87) {
            out.mnemonic = Mnemonic.X87;
            if (memoryForm) {
                out.operandCount = 1;
                out.operands[0] = Instruction.pack(Instruction.KIND_MEM, 0, 0);
                out.specs[0] = Operand.M;
            }
            out.length = pos;
            return;
        }
        if (e.memoryOnly && !memoryForm
                || (prefixes & Instruction.PREFIX_LOCK) != 0 && (!e.lockable || !memoryForm)) {
            out.length = pos;
            return;
        }
        Mnemonic m = e.mnemonic;
        if (b == 0x90 && out.opcode == 0x90 && out.repPrefix == 0xF3) {
            m = Mnemonic.PAUSE;
        }
        int immSlot = 0;
        Operand[] ops = e.operands;
        for (int i = 0; i < ops.length; i++) {
            Operand o = ops[i];
            int size = o.bytes(opSize);
            int packed;
            switch (o.method()) {
                case E -> packed = memoryForm
                        ? Instruction.pack(Instruction.KIND_MEM, size, 0)
                        : Instruction.pack(Instruction.KIND_REG, size, modrm & 7);
                case M -> packed = Instruction.pack(Instruction.KIND_MEM, size, 0);
                case G -> packed = Instruction.pack(Instruction.KIND_REG, size, (modrm >> 3) & 7);
                case R -> packed = Instruction.pack(Instruction.KIND_REG, size, modrm & 7);
                case C -> packed = Instruction.pack(Instruction.KIND_CREG, 4, (modrm >> 3) & 7);
                case D -> packed = Instruction.pack(Instruction.KIND_DREG, 4, (modrm >> 3) & 7);
                case S -> {
                    int sreg = (modrm >> 3) & 7;
                    if (sreg > 5 || i == 0 && m == Mnemonic.MOV_SREG && sreg == 1) {
                        out.length = pos;
                        return; // no such segment register, or MOV CS: #UD
                    }
                    packed = Instruction.pack(Instruction.KIND_SREG, 2, sreg);
                }
                case I, J -> {
                    int v;
                    int n = o.size() == Operand.Size.BS || o.size() == Operand.Size.B ? 1 : size;
                    if (n == 1) {
                        v = next(fetcher, pos++);
                        if (o.size() == Operand.Size.BS || o.method() == Operand.Method.J) {
                            v = (byte) v;
                        }
                    } else if (n == 2) {
                        v = next(fetcher, pos) | next(fetcher, pos + 1) << 8;
                        pos += 2;
                        if (o.method() == Operand.Method.J) {
                            v = (short) v;
                        }
                    } else {
                        v = next(fetcher, pos) | next(fetcher, pos + 1) << 8 | next(fetcher, pos + 2) << 16
                                | next(fetcher, pos + 3) << 24;
                        pos += 4;
                    }
                    if (o.size() == Operand.Size.BS) {
                        v &= opSize == 2 ? 0xFFFF : -1;
                    }
                    if (immSlot == 0) {
                        out.imm = v;
                    } else {
                        out.imm2 = v;
                    }
                    packed = Instruction.pack(Instruction.KIND_IMM, o.size() == Operand.Size.BS ? opSize : size, immSlot++);
                }
                case A -> {
                    int off = 0;
                    for (int k = 0; k < opSize; k++) {
                        off |= next(fetcher, pos++) << (8 * k);
                    }
                    out.imm = off;
                    out.imm2 = next(fetcher, pos) | next(fetcher, pos + 1) << 8;
                    pos += 2;
                    immSlot = 2;
                    packed = Instruction.pack(Instruction.KIND_IMM, size, 0);
                }
                case O -> {
                    int off = 0;
                    for (int k = 0; k < addrSize; k++) {
                        off |= next(fetcher, pos++) << (8 * k);
                    }
                    out.disp = off;
                    packed = Instruction.pack(Instruction.KIND_MEM, size, 0);
                }
                case X, Y -> packed = Instruction.pack(Instruction.KIND_IMPLICIT, size, 0);
                case Z -> packed = Instruction.pack(Instruction.KIND_REG, size, out.opcode & 7);
                case FIXED_REG -> packed = Instruction.pack(Instruction.KIND_REG, size, o.register());
                case FIXED_SREG -> packed = Instruction.pack(Instruction.KIND_SREG, 2, o.register());
                case ONE -> {
                    if (immSlot == 0) {
                        out.imm = 1;
                    } else {
                        out.imm2 = 1;
                    }
                    packed = Instruction.pack(Instruction.KIND_IMM, 1, immSlot++);
                }
                default -> throw new IllegalStateException("unhandled operand " + o);
            }
            out.operands[i] = packed;
            out.specs[i] = o;
        }
        out.operandCount = ops.length;
        out.mnemonic = m;
        out.length = pos;
    }

    private static int next(CodeFetcher fetcher, int pos) {
        if (pos >= MAX_LENGTH) {
            throw X86Exception.generalProtection(0);
        }
        return fetcher.fetch(pos);
    }

    /** Decodes the ModRM memory form with SIB and displacement; returns the new position. */
    private static int decodeAddress(CodeFetcher f, int pos, int modrm, int addrSize, Instruction out) {
        int mod = modrm >>> 6;
        int rm = modrm & 7;
        boolean ssDefault;
        if (addrSize == 2) {
            if (mod == 0 && rm == 6) {
                out.disp = next(f, pos) | next(f, pos + 1) << 8;
                return pos + 2;
            }
            out.memBase = BASE16[rm];
            out.memIndex = INDEX16[rm];
            ssDefault = out.memBase == 5;
            if (mod == 1) {
                out.disp = (byte) next(f, pos++);
            } else if (mod == 2) {
                out.disp = (short) (next(f, pos) | next(f, pos + 1) << 8);
                pos += 2;
            }
        } else {
            int base = rm;
            if (rm == 4) {
                int sib = next(f, pos++);
                base = sib & 7;
                int index = (sib >> 3) & 7;
                if (index != 4) {
                    out.memIndex = index;
                    out.memScale = sib >>> 6;
                }
            }
            if (mod == 0 && base == 5) {
                out.memBase = -1;
                out.disp = next(f, pos) | next(f, pos + 1) << 8 | next(f, pos + 2) << 16 | next(f, pos + 3) << 24;
                pos += 4;
            } else {
                out.memBase = base;
                if (mod == 1) {
                    out.disp = (byte) next(f, pos++);
                } else if (mod == 2) {
                    out.disp = next(f, pos) | next(f, pos + 1) << 8 | next(f, pos + 2) << 16 | next(f, pos + 3) << 24;
                    pos += 4;
                }
            }
            ssDefault = out.memBase == 4 || out.memBase == 5;
        }
        if (ssDefault && (out.prefixes & Instruction.PREFIX_SEGMENT) == 0) {
            out.segment = Instruction.SEG_SS;
        }
        return pos;
    }
}
