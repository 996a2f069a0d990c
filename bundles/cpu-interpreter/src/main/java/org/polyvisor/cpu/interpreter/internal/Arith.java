package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.LazyFlags;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;
import org.polyvisor.x86.decode.Mnemonic;

/** Integer arithmetic: ALU, INC/DEC/NEG/NOT, shifts and rotates, multiply/divide, bit operations, BCD. */
final class Arith {

    private Arith() {
    }

    /**
     * ADD, OR, ADC, SBB, AND, SUB, XOR, CMP: destination is operand 0. The result is stored before
     * the flags change: a store that faults (a write-protected page) leaves EFLAGS as they were,
     * as faults are precise (SDM Vol. 3A 6.5); ADC and SBB restarted after the fault handler then
     * see their original carry.
     */
    static void alu(Cpu c, Instruction in, Mnemonic m) {
        int size = in.size(0);
        // 32-bit register operands (the commonest forms) straight from the register file.
        boolean regDest = size == 4 && in.kind(0) == Instruction.KIND_REG;
        int a = regDest ? c.r[in.reg(0)] : c.readOp(in, 0);
        int b = size == 4 && in.kind(1) == Instruction.KIND_REG ? c.r[in.reg(1)] : c.readOp(in, 1);
        LazyFlags f = c.lazy;
        int op;
        int cin = 0;
        int r;
        switch (m) {
            case ADD -> {
                r = a + b;
                op = LazyFlags.OP_ADD;
            }
            case OR -> {
                r = a | b;
                op = LazyFlags.OP_LOGIC;
            }
            case ADC -> {
                cin = f.cf() ? 1 : 0;
                r = a + b + cin;
                op = LazyFlags.OP_ADC;
            }
            case SBB -> {
                cin = f.cf() ? 1 : 0;
                r = a - b - cin;
                op = LazyFlags.OP_SBB;
            }
            case AND -> {
                r = a & b;
                op = LazyFlags.OP_LOGIC;
            }
            case SUB -> {
                r = a - b;
                op = LazyFlags.OP_SUB;
            }
            case XOR -> {
                r = a ^ b;
                op = LazyFlags.OP_LOGIC;
            }
            default -> { // CMP
                f.set(LazyFlags.OP_SUB, size, a, b, a - b);
                return;
            }
        }
        if (regDest) {
            c.r[in.reg(0)] = r;
        } else {
            c.writeOp(in, 0, r);
        }
        if (op == LazyFlags.OP_ADC || op == LazyFlags.OP_SBB) {
            f.setWithCarry(op, size, a, b, r, cin);
        } else {
            f.set(op, size, a, b, r);
        }
    }

    /**
     * A 32-bit ALU operation on a register and a value (the register forms of ADD, OR, AND, SUB,
     * XOR and CMP, by their ModRM.reg number 0, 1, 4, 5, 6, 7).
     */
    static void alu32(Cpu c, int dest, int b, int op) {
        int a = c.r[dest];
        LazyFlags f = c.lazy;
        switch (op) {
            case 0 -> {
                c.r[dest] = a + b;
                f.set(LazyFlags.OP_ADD, 4, a, b, a + b);
            }
            case 1 -> {
                c.r[dest] = a | b;
                f.set(LazyFlags.OP_LOGIC, 4, a, b, a | b);
            }
            case 4 -> {
                c.r[dest] = a & b;
                f.set(LazyFlags.OP_LOGIC, 4, a, b, a & b);
            }
            case 5 -> {
                c.r[dest] = a - b;
                f.set(LazyFlags.OP_SUB, 4, a, b, a - b);
            }
            case 6 -> {
                c.r[dest] = a ^ b;
                f.set(LazyFlags.OP_LOGIC, 4, a, b, a ^ b);
            }
            default -> f.set(LazyFlags.OP_SUB, 4, a, b, a - b); // CMP
        }
    }

    static void incR32(Cpu c, int n) {
        int a = c.r[n];
        c.r[n] = a + 1;
        c.lazy.setIncDec(LazyFlags.OP_INC, 4, a, a + 1);
    }

    static void decR32(Cpu c, int n) {
        int a = c.r[n];
        c.r[n] = a - 1;
        c.lazy.setIncDec(LazyFlags.OP_DEC, 4, a, a - 1);
    }

    /** INC or DEC of a 32-bit memory operand. */
    static void incDecM32(Cpu c, Instruction in, boolean inc) {
        int seg = in.segment();
        int ea = c.ea(in);
        int a = c.read(seg, ea, 4);
        int r = inc ? a + 1 : a - 1;
        c.write(seg, ea, 4, r);
        c.lazy.setIncDec(inc ? LazyFlags.OP_INC : LazyFlags.OP_DEC, 4, a, r);
    }

    static void test(Cpu c, Instruction in) {
        int a = c.readOp(in, 0);
        int b = c.readOp(in, 1);
        c.lazy.set(LazyFlags.OP_LOGIC, in.size(0), a, b, a & b);
    }

    static void incDec(Cpu c, Instruction in, boolean inc) {
        int size = in.size(0);
        if (size == 4 && in.kind(0) == Instruction.KIND_REG) {
            // The loop counter form (dec ecx): straight to the register file.
            int n = in.reg(0);
            int a = c.r[n];
            int r = inc ? a + 1 : a - 1;
            c.lazy.setIncDec(inc ? LazyFlags.OP_INC : LazyFlags.OP_DEC, 4, a, r);
            c.r[n] = r;
            return;
        }
        int a = c.readOp(in, 0);
        int r = inc ? a + 1 : a - 1;
        c.writeOp(in, 0, r);
        c.lazy.setIncDec(inc ? LazyFlags.OP_INC : LazyFlags.OP_DEC, size, a, r);
    }

    static void not(Cpu c, Instruction in) {
        c.writeOp(in, 0, ~c.readOp(in, 0));
    }

    static void neg(Cpu c, Instruction in) {
        int a = c.readOp(in, 0);
        c.writeOp(in, 0, -a);
        c.lazy.set(LazyFlags.OP_SUB, in.size(0), 0, a, -a);
    }

    // ---- shifts and rotates ----

    static void shift(Cpu c, Instruction in, Mnemonic m) {
        int size = in.size(0);
        int bits = size * 8;
        int count = c.readOp(in, 1) & 0x1F;
        if (count == 0) {
            c.readOp(in, 0); // the access still happens (and may fault)
            return;
        }
        int a = c.readOp(in, 0) & LazyFlags.mask(size);
        int mask = LazyFlags.mask(size);
        int sign = LazyFlags.signBit(size);
        int r;
        switch (m) {
            case SHL, SAL -> {
                r = count < 32 ? a << count : 0;
                c.writeOp(in, 0, r);
                c.lazy.set(LazyFlags.OP_SHL, size, a, count, r);
            }
            case SHR -> {
                r = a >>> count;
                c.writeOp(in, 0, r);
                c.lazy.set(LazyFlags.OP_SHR, size, a, count, r);
            }
            case SAR -> {
                r = LazyFlags.signExtend(a, size) >> count;
                c.writeOp(in, 0, r);
                c.lazy.set(LazyFlags.OP_SAR, size, a, count, r);
            }
            case ROL -> {
                int n = count % bits;
                r = n == 0 ? a : ((a << n) | (a >>> (bits - n))) & mask;
                c.writeOp(in, 0, r);
                int f = c.lazy.get() & ~(Eflags.CF | Eflags.OF);
                int cf = r & 1;
                f |= cf;
                if (((r & sign) != 0) != (cf != 0)) {
                    f |= Eflags.OF;
                }
                c.lazy.setAll(f);
            }
            case ROR -> {
                int n = count % bits;
                r = n == 0 ? a : ((a >>> n) | (a << (bits - n))) & mask;
                c.writeOp(in, 0, r);
                int f = c.lazy.get() & ~(Eflags.CF | Eflags.OF);
                if ((r & sign) != 0) {
                    f |= Eflags.CF;
                }
                if (((r & sign) != 0) != ((r & (sign >>> 1)) != 0)) {
                    f |= Eflags.OF;
                }
                c.lazy.setAll(f);
            }
            case RCL, RCR -> {
                int n = count % (bits + 1);
                int f = c.lazy.get();
                long cf = f & Eflags.CF;
                long v = a & 0xFFFF_FFFFL;
                for (int i = 0; i < n; i++) {
                    if (m == Mnemonic.RCL) {
                        long out = (v >>> (bits - 1)) & 1;
                        v = ((v << 1) | cf) & (mask & 0xFFFF_FFFFL);
                        cf = out;
                    } else {
                        long out = v & 1;
                        v = (v >>> 1) | (cf << (bits - 1));
                        cf = out;
                    }
                }
                r = (int) v;
                c.writeOp(in, 0, r);
                f &= ~(Eflags.CF | Eflags.OF);
                f |= (int) cf;
                boolean msb = (r & sign) != 0;
                boolean of = m == Mnemonic.RCL ? msb != (cf != 0) : msb != ((r & (sign >>> 1)) != 0);
                if (of) {
                    f |= Eflags.OF;
                }
                c.lazy.setAll(f);
            }
            default -> throw new IllegalStateException(m.name());
        }
    }

    /** SHLD/SHRD Ev, Gv, Ib/CL. */
    static void doubleShift(Cpu c, Instruction in, boolean left) {
        int size = in.size(0);
        int bits = size * 8;
        int count = c.readOp(in, 2) & 0x1F;
        if (count == 0) {
            c.readOp(in, 0);
            return;
        }
        int mask = LazyFlags.mask(size);
        long a = c.readOp(in, 0) & mask & 0xFFFF_FFFFL;
        long b = c.readOp(in, 1) & mask & 0xFFFF_FFFFL;
        long r;
        int cf;
        if (size == 2 && count > 16) {
            // Undefined result for 16-bit counts above 16; P6 shifts through a 48-bit value.
            count -= 16;
            a = b | (a << 16);
        }
        if (left) {
            long wide = (a << bits) | b;
            long shifted = wide << count;
            r = (shifted >>> bits) & mask & 0xFFFF_FFFFL;
            cf = (int) ((a >>> (bits - count)) & 1);
        } else {
            long wide = (b << bits) | a;
            long shifted = wide >>> count;
            r = shifted & mask & 0xFFFF_FFFFL;
            cf = (int) ((a >>> (count - 1)) & 1);
        }
        c.writeOp(in, 0, (int) r);
        int sign = LazyFlags.signBit(size);
        int f = LazyFlags.zsp((int) r, sign) | cf;
        if ((((int) r ^ (int) a) & sign) != 0) {
            f |= Eflags.OF;
        }
        c.lazy.setAll(f);
    }

    // ---- multiply and divide ----

    static void mul(Cpu c, Instruction in, boolean signed) {
        int size = in.size(0);
        int src = c.readOp(in, 0);
        boolean overflow;
        int low;
        if (size == 1) {
            int al = c.r[0] & 0xFF;
            int p = signed ? (byte) al * (byte) src : al * (src & 0xFF);
            c.setReg(2, 0, p);
            overflow = signed ? p != (byte) p : (p & 0xFF00) != 0;
            low = p & 0xFF;
        } else if (size == 2) {
            int ax = c.r[0] & 0xFFFF;
            int p = signed ? (short) ax * (short) src : ax * (src & 0xFFFF);
            c.setReg(2, 0, p);
            c.setReg(2, 2, p >>> 16);
            overflow = signed ? p != (short) p : (p & 0xFFFF_0000) != 0;
            low = p & 0xFFFF;
        } else {
            long p = signed ? (long) c.r[0] * (long) src : (c.r[0] & 0xFFFF_FFFFL) * (src & 0xFFFF_FFFFL);
            c.r[0] = (int) p;
            c.r[2] = (int) (p >>> 32);
            overflow = signed ? p != (int) p : (p >>> 32) != 0;
            low = (int) p;
        }
        setMulFlags(c, size, low, overflow);
    }

    private static void setMulFlags(Cpu c, int size, int low, boolean overflow) {
        int f = LazyFlags.zsp(low & LazyFlags.mask(size), LazyFlags.signBit(size));
        if (overflow) {
            f |= Eflags.CF | Eflags.OF;
        }
        c.lazy.setAll(f);
    }

    /** IMUL Gv, Ev and IMUL Gv, Ev, imm. */
    static void imulRm(Cpu c, Instruction in) {
        int size = in.size(0);
        int a;
        int b;
        if (in.operandCount() == 3) {
            a = c.readOp(in, 1);
            b = c.readOp(in, 2);
        } else {
            a = c.readOp(in, 0);
            b = c.readOp(in, 1);
        }
        long p = (long) LazyFlags.signExtend(a & LazyFlags.mask(size), size) * LazyFlags.signExtend(b & LazyFlags.mask(size), size);
        int r = (int) p;
        boolean overflow = size == 4 ? p != r : LazyFlags.signExtend(r & LazyFlags.mask(size), size) != p;
        c.writeOp(in, 0, r);
        setMulFlags(c, size, r, overflow);
    }

    static void div(Cpu c, Instruction in, boolean signed) {
        int size = in.size(0);
        int src = c.readOp(in, 0) & LazyFlags.mask(size);
        if (src == 0) {
            throw X86Exception.divideError();
        }
        if (size == 1) {
            int ax = c.r[0] & 0xFFFF;
            int q;
            int rem;
            if (signed) {
                int d = (short) ax;
                int s = (byte) src;
                q = d / s;
                rem = d % s;
                if (q != (byte) q) {
                    throw X86Exception.divideError();
                }
            } else {
                q = ax / src;
                rem = ax % src;
                if (q > 0xFF) {
                    throw X86Exception.divideError();
                }
            }
            c.setReg(2, 0, (q & 0xFF) | (rem & 0xFF) << 8);
        } else if (size == 2) {
            int dividend = (c.r[2] & 0xFFFF) << 16 | (c.r[0] & 0xFFFF);
            long q;
            long rem;
            if (signed) {
                long d = dividend;
                long s = (short) src;
                q = d / s;
                rem = d % s;
                if (q != (short) q) {
                    throw X86Exception.divideError();
                }
            } else {
                long d = dividend & 0xFFFF_FFFFL;
                q = d / src;
                rem = d % src;
                if (q > 0xFFFF) {
                    throw X86Exception.divideError();
                }
            }
            c.setReg(2, 0, (int) q);
            c.setReg(2, 2, (int) rem);
        } else {
            long dividend = (long) c.r[2] << 32 | (c.r[0] & 0xFFFF_FFFFL);
            long q;
            long rem;
            if (signed) {
                long s = src;
                if (dividend == Long.MIN_VALUE && s == -1) {
                    throw X86Exception.divideError();
                }
                q = dividend / s;
                rem = dividend % s;
                if (q != (int) q) {
                    throw X86Exception.divideError();
                }
            } else {
                long s = src & 0xFFFF_FFFFL;
                q = Long.divideUnsigned(dividend, s);
                rem = Long.remainderUnsigned(dividend, s);
                if ((q >>> 32) != 0) {
                    throw X86Exception.divideError();
                }
            }
            c.r[0] = (int) q;
            c.r[2] = (int) rem;
        }
    }

    // ---- bit operations ----

    /** BT/BTS/BTR/BTC with a register or immediate bit offset. */
    static void bitTest(Cpu c, Instruction in, Mnemonic m) {
        int size = in.size(0);
        int bits = size * 8;
        int offset = c.readOp(in, 1);
        boolean immediate = in.kind(1) == Instruction.KIND_IMM;
        int value;
        int bit;
        int addr = 0;
        boolean mem = in.kind(0) == Instruction.KIND_MEM;
        if (mem && !immediate) {
            // A register bit offset addresses memory beyond the operand (signed, SDM BT).
            int signedOffset = size == 2 ? (short) offset : offset;
            int delta = (signedOffset >> (size == 2 ? 4 : 5)) * size;
            addr = c.ea(in) + delta;
            if (in.addrSize() == 2) {
                addr &= 0xFFFF;
            }
            bit = signedOffset & (bits - 1);
            value = c.read(in.segment(), addr, size);
        } else {
            bit = offset & (bits - 1);
            value = c.readOp(in, 0);
        }
        boolean set = ((value >>> bit) & 1) != 0;
        int nv = switch (m) {
            case BTS -> value | (1 << bit);
            case BTR -> value & ~(1 << bit);
            case BTC -> value ^ (1 << bit);
            default -> value; // BT: no store
        };
        if (m != Mnemonic.BT) {
            // stored before CF changes: a faulting store leaves the flags as they were
            if (mem && !immediate) {
                c.write(in.segment(), addr, size, nv);
            } else {
                c.writeOp(in, 0, nv);
            }
        }
        int f = c.lazy.get() & ~Eflags.CF;
        c.lazy.setAll(set ? f | Eflags.CF : f);
    }

    static void bitScan(Cpu c, Instruction in, boolean forward) {
        int size = in.size(0);
        int src = c.readOp(in, 1) & LazyFlags.mask(size);
        int f = c.lazy.get() & ~Eflags.ZF;
        if (src == 0) {
            c.lazy.setAll(f | Eflags.ZF); // destination unchanged (as P6 does)
            return;
        }
        int idx = forward ? Integer.numberOfTrailingZeros(src) : 31 - Integer.numberOfLeadingZeros(src);
        c.writeOp(in, 0, idx);
        c.lazy.setAll(f);
    }

    // ---- BCD ----

    static void daa(Cpu c, boolean subtract) {
        int f = c.lazy.get();
        int al = c.r[0] & 0xFF;
        int oldAl = al;
        boolean oldCf = (f & Eflags.CF) != 0;
        boolean cf = false;
        boolean af = false;
        if ((al & 0xF) > 9 || (f & Eflags.AF) != 0) {
            al = subtract ? al - 6 : al + 6;
            cf = oldCf || (subtract ? oldAl < 6 : al > 0xFF);
            af = true;
        }
        if (oldAl > 0x99 || oldCf) {
            al = subtract ? al - 0x60 : al + 0x60;
            cf = true;
        }
        al &= 0xFF;
        c.setReg(1, 0, al);
        int nf = LazyFlags.zsp(al, 0x80) | (cf ? Eflags.CF : 0) | (af ? Eflags.AF : 0) | (f & Eflags.OF);
        c.lazy.setAll(nf);
    }

    static void aaa(Cpu c, boolean subtract) {
        int f = c.lazy.get();
        int ax = c.r[0] & 0xFFFF;
        boolean adjust = (ax & 0xF) > 9 || (f & Eflags.AF) != 0;
        if (adjust) {
            if (subtract) {
                // SDM AAS: AX <- AX - 6 (AL's borrow reaches AH), then AH <- AH - 1; the 80286 vectors agree.
                ax = (ax - 6) & 0xFFFF;
                ax = ((ax - 0x100) & 0xFF00) | (ax & 0xFF);
            } else {
                ax = ax + 0x106;
            }
        }
        ax &= 0xFF0F;
        c.setReg(2, 0, ax);
        int nf = f & ~(Eflags.CF | Eflags.AF);
        if (adjust) {
            nf |= Eflags.CF | Eflags.AF;
        }
        c.lazy.setAll(nf);
    }

    static void aam(Cpu c, int base) {
        if (base == 0) {
            throw X86Exception.divideError();
        }
        int al = c.r[0] & 0xFF;
        int ah = al / base;
        al = al % base;
        c.setReg(2, 0, ah << 8 | al);
        c.lazy.setAll(LazyFlags.zsp(al, 0x80));
    }

    static void aad(Cpu c, int base) {
        int ax = c.r[0];
        int al = ((ax & 0xFF) + ((ax >>> 8) & 0xFF) * base) & 0xFF;
        c.setReg(2, 0, al);
        c.lazy.setAll(LazyFlags.zsp(al, 0x80));
    }
}
