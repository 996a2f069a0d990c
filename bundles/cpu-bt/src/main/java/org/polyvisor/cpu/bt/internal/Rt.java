package org.polyvisor.cpu.bt.internal;

import java.nio.ByteBuffer;
import org.polyvisor.cpu.interpreter.core.InterpreterCore;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.LazyFlags;
import org.polyvisor.x86.X86Exception;

/**
 * Run-time helpers that translations call: memory access with the inline software-TLB fast path
 * (small enough for the JIT to inline into the translation) and a call into the interpreter core
 * for everything else (TLB misses, MMIO, page splits, faults); condition evaluation on lazily kept
 * flags. Sizes and condition codes are constants at every call site, so the JIT folds the switches.
 */
final class Rt {

    private Rt() {
    }

    /**
     * A read through a segment whose window the translation cannot rule on statically (flat
     * segments are read by code the translator emits inline, see {@code Translator.read}).
     */
    static int read(Vcpu x, int seg, int off, int size, int user) {
        long o = off & 0xFFFF_FFFFL;
        if (o >= x.readLo[seg] && o + size - 1 <= x.readHi[seg]) {
            int lin = x.segBase[seg] + off;
            int i = lin >>> 12 & (InterpreterCore.TLB_SIZE - 1);
            ByteBuffer b = x.readBuf[i];
            if (x.readTag[i] == tlbKey(lin, size, user) && b != null) {
                int a = x.readOff[i] + (lin & 0xFFF);
                return size == 4 ? b.getInt(a) : size == 2 ? b.getShort(a) & 0xFFFF : b.get(a) & 0xFF;
            }
        }
        return x.core.read(seg, off, size);
    }

    /** A write through a segment whose window the translation cannot rule on statically. */
    static void write(Vcpu x, int seg, int off, int size, int value, int user) {
        long o = off & 0xFFFF_FFFFL;
        if (o >= x.writeLo[seg] && o + size - 1 <= x.writeHi[seg]) {
            int lin = x.segBase[seg] + off;
            int i = lin >>> 12 & (InterpreterCore.TLB_SIZE - 1);
            ByteBuffer b = x.writeBuf[i];
            if (x.writeTag[i] == tlbKey(lin, size, user) && b != null && !x.mem.isWatched(x.writePhys[i])) {
                int a = x.writeOff[i] + (lin & 0xFFF);
                if (size == 4) {
                    b.putInt(a, value);
                } else if (size == 2) {
                    b.putShort(a, (short) value);
                } else {
                    b.put(a, (byte) value);
                }
                return;
            }
        }
        x.core.write(seg, off, size, value);
    }

    /**
     * The TLB tag an access of {@code size} bytes at linear {@code lin} hits: that of the page of
     * its last byte, so an access that crosses into the next page matches no entry of the slot of
     * its first byte and goes to the slow path (as {@code Translator} computes it inline).
     */
    static long tlbKey(int lin, int size, int user) {
        return (lin + size - 1) >>> 10 & ~3 | user | 1;
    }

    /** A near transfer beyond the CS limit is #GP(0) at the transfer instruction. */
    static void checkTarget(Vcpu x, int target) {
        if (Integer.compareUnsigned(target, x.segLimit[1]) > 0) {
            throw X86Exception.generalProtection(0);
        }
    }

    // ---- conditions on flags kept as (operation, size, operands, result, carry-in) ----

    /** After SUB/CMP/NEG: operands compared directly (values zero-extended to the size). */
    static boolean condSub(int cc, int size, int a, int b, int res) {
        switch (cc) {
            case 2: return Integer.compareUnsigned(a, b) < 0;
            case 3: return Integer.compareUnsigned(a, b) >= 0;
            case 4: return res == 0;
            case 5: return res != 0;
            case 6: return Integer.compareUnsigned(a, b) <= 0;
            case 7: return Integer.compareUnsigned(a, b) > 0;
            case 8: return (res & LazyFlags.signBit(size)) != 0;
            case 9: return (res & LazyFlags.signBit(size)) == 0;
            case 0xC: return LazyFlags.signExtend(a, size) < LazyFlags.signExtend(b, size);
            case 0xD: return LazyFlags.signExtend(a, size) >= LazyFlags.signExtend(b, size);
            case 0xE: return LazyFlags.signExtend(a, size) <= LazyFlags.signExtend(b, size);
            case 0xF: return LazyFlags.signExtend(a, size) > LazyFlags.signExtend(b, size);
            default: return LazyFlags.condition(cc, LazyFlags.compute(LazyFlags.OP_SUB, size, a, b, res, 0));
        }
    }

    /** After AND/OR/XOR/TEST: CF = OF = 0. */
    static boolean condLogic(int cc, int size, int res) {
        boolean zf = res == 0;
        boolean sf = (res & LazyFlags.signBit(size)) != 0;
        switch (cc) {
            case 0: case 2: return false;
            case 1: case 3: return true;
            case 4: return zf;
            case 5: return !zf;
            case 6: return zf;
            case 7: return !zf;
            case 8: return sf;
            case 9: return !sf;
            case 0xC: return sf;
            case 0xD: return !sf;
            case 0xE: return zf || sf;
            case 0xF: return !zf && !sf;
            default: return LazyFlags.condition(cc, LazyFlags.zsp(res, LazyFlags.signBit(size)));
        }
    }

    /** Any other operation: ZF and SF directly, the rest through the full computation. */
    static boolean condAny(int cc, int op, int size, int a, int b, int res, int cin) {
        switch (cc) {
            case 4: return res == 0;
            case 5: return res != 0;
            case 8: return (res & LazyFlags.signBit(size)) != 0;
            case 9: return (res & LazyFlags.signBit(size)) == 0;
            default: return LazyFlags.condition(cc, LazyFlags.compute(op, size, a, b, res, cin));
        }
    }

    /** The carry flag of a recorded operation, 0 or 1. */
    static int carry(int op, int size, int a, int b, int res, int cin) {
        switch (op) {
            case LazyFlags.OP_ADD: return Integer.compareUnsigned(res, a) < 0 ? 1 : 0;
            case LazyFlags.OP_SUB: return Integer.compareUnsigned(a, b) < 0 ? 1 : 0;
            case LazyFlags.OP_LOGIC: return 0;
            case LazyFlags.OP_INC: case LazyFlags.OP_DEC: return cin;
            default: return LazyFlags.compute(op, size, a, b, res, cin) & Eflags.CF;
        }
    }

    /** IMUL's signed product of two operands of a size (sign-extended from it). */
    static long imul(int a, int b, int size) {
        return (long) LazyFlags.signExtend(a & LazyFlags.mask(size), size) * LazyFlags.signExtend(b & LazyFlags.mask(size), size);
    }

    /** IMUL's flags: SF/ZF/PF of the low half, CF = OF = the product does not fit the size. */
    static void imulFlags(LazyFlags f, int size, long product) {
        int r = (int) product;
        boolean overflow = size == 4 ? product != r : LazyFlags.signExtend(r & LazyFlags.mask(size), size) != product;
        int flags = LazyFlags.zsp(r & LazyFlags.mask(size), LazyFlags.signBit(size));
        f.setAll(overflow ? flags | Eflags.CF | Eflags.OF : flags);
    }

    /**
     * MUL or IMUL (one operand) of the accumulator by {@code src}: the new EAX in the low half of
     * the result and the new EDX in the high half (AX only for a byte operand, EDX then unchanged);
     * SF/ZF/PF of the low half of the product, CF = OF = the high half is significant (as the
     * interpreter sets them).
     */
    static long mul(LazyFlags f, int size, boolean signed, int eax, int edx, int src) {
        long p;
        boolean overflow;
        if (size == 1) {
            p = signed ? (byte) eax * (byte) src : (eax & 0xFF) * (src & 0xFF);
            overflow = signed ? p != (byte) p : (p & 0xFF00) != 0;
            eax = eax & 0xFFFF_0000 | (int) p & 0xFFFF;
        } else if (size == 2) {
            p = signed ? (short) eax * (short) src : (eax & 0xFFFF) * (src & 0xFFFF);
            overflow = signed ? p != (short) p : (p & 0xFFFF_0000L) != 0;
            eax = eax & 0xFFFF_0000 | (int) p & 0xFFFF;
            edx = edx & 0xFFFF_0000 | (int) p >>> 16 & 0xFFFF;
        } else {
            p = signed ? (long) eax * src : (eax & 0xFFFF_FFFFL) * (src & 0xFFFF_FFFFL);
            overflow = signed ? p != (int) p : p >>> 32 != 0;
            eax = (int) p;
            edx = (int) (p >>> 32);
        }
        int flags = LazyFlags.zsp((int) p & LazyFlags.mask(size), LazyFlags.signBit(size));
        f.setAll(overflow ? flags | Eflags.CF | Eflags.OF : flags);
        return (long) edx << 32 | eax & 0xFFFF_FFFFL;
    }

    /**
     * DIV or IDIV of EDX:EAX (DX:AX, AX) by {@code src}: the new EAX in the low half of the result
     * and the new EDX in the high half. A zero divisor or a quotient too wide for the size is #DE,
     * raised before anything changes. The flags are left as they were (undefined, SDM Vol. 2A DIV).
     */
    static long div(int size, boolean signed, int eax, int edx, int src) {
        int s = src & LazyFlags.mask(size);
        if (s == 0) {
            throw X86Exception.divideError();
        }
        int bits = size * 8;
        // the dividend (twice the operand width) and divisor, as signed or unsigned values
        long dividend = size == 1 ? eax & 0xFFFF : size == 2 ? ((edx & 0xFFFF) << 16 | eax & 0xFFFF) & 0xFFFF_FFFFL
                : (long) edx << 32 | eax & 0xFFFF_FFFFL;
        if (signed && size < 4) {
            dividend = size == 1 ? (short) dividend : (int) dividend;
        }
        long divisor = signed ? LazyFlags.signExtend(s, size) : s & 0xFFFF_FFFFL;
        long q;
        long rem;
        if (!signed && size == 4) {
            q = Long.divideUnsigned(dividend, divisor);
            rem = Long.remainderUnsigned(dividend, divisor);
        } else if (dividend == Long.MIN_VALUE && divisor == -1) {
            throw X86Exception.divideError(); // the quotient 2^63 does not fit anything
        } else {
            q = dividend / divisor;
            rem = dividend % divisor;
        }
        boolean fits = signed ? q >= -(1L << (bits - 1)) && q < 1L << (bits - 1) : q >>> bits == 0;
        if (!fits) {
            throw X86Exception.divideError();
        }
        int m = LazyFlags.mask(size);
        if (size == 1) { // AL = quotient, AH = remainder
            return (long) edx << 32 | (eax & 0xFFFF_0000 | ((int) rem & 0xFF) << 8 | (int) q & 0xFF) & 0xFFFF_FFFFL;
        }
        return (long) (edx & ~m | (int) rem & m) << 32 | (eax & ~m | (int) q & m) & 0xFFFF_FFFFL;
    }

    /**
     * SHLD/SHRD of {@code dst} with bits from {@code src} by {@code count} (1..31): the result in
     * the low half, the flags in the high half (CF the last bit shifted out, OF a sign change,
     * SF/ZF/PF of the result). A 16-bit count above 16 shifts through a 48-bit value, as P6
     * processors and the interpreter do (the SDM leaves it undefined).
     */
    static long doubleShift(int size, boolean left, int dst, int src, int count) {
        int bits = size * 8;
        long m = LazyFlags.mask(size) & 0xFFFF_FFFFL;
        long a = dst & m;
        long b = src & m;
        if (size == 2 && count > 16) {
            count -= 16;
            a = a << 16 | b;
        }
        long r = left ? (a << bits | b) << count >>> bits & m : (b << bits | a) >>> count & m;
        int cf = (int) (left ? a >>> bits - count : a >>> count - 1) & 1;
        int sign = LazyFlags.signBit(size);
        int flags = LazyFlags.zsp((int) r, sign) | cf | (((int) (r ^ a) & sign) != 0 ? Eflags.OF : 0);
        return (long) flags << 32 | r;
    }

    /** Sets CF to {@code bit} (0 or 1) and keeps the other flags (BT, BTS, BTR, BTC). */
    static void setCarry(LazyFlags f, int bit) {
        f.setAll(f.get() & ~Eflags.CF | bit);
    }

    static int carry(LazyFlags f) {
        return f.cf() ? 1 : 0;
    }
}
