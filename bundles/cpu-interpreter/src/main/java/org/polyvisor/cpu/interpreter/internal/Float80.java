package org.polyvisor.cpu.interpreter.internal;

import java.math.BigInteger;

/**
 * A software x87 double extended-precision value (SDM Vol. 1, 4.2.2 and 8.2): sign, 15-bit biased
 * exponent and a 64-bit significand with an explicit integer bit, and the arithmetic of the x87 on
 * it: exact IEEE 754 rounding for the four rounding modes and the three precision-control settings,
 * denormals, infinities, QNaN/SNaN and the real indefinite, and the formats a P6 refuses as
 * operands (pseudo-NaN, pseudo-infinity, unnormal: invalid operation) or accepts (pseudo-denormal:
 * a denormal whose value uses exponent 1).
 *
 * <p>Every operation takes an {@link Env} holding the control word's rounding and precision
 * control and exception masks, and accumulates the exception flags and the C1 "rounded up" bit in
 * it. An operation returns {@code null} when an unmasked pre-computation exception (invalid,
 * denormal, divide by zero) aborts it: the caller then leaves the destination alone. Unmasked
 * overflow and underflow deliver the result with the exponent bias-adjusted by 24576 (SDM Vol. 1,
 * 8.5.4 and 8.5.5) when the destination is a register; for memory formats the caller suppresses the
 * store.
 *
 * <p>Rounding works on an exact (or exact-plus-sticky) significand: sums, products, quotients and
 * roots are computed with {@link BigInteger} and rounded once. Tininess is detected after rounding
 * (what the host's x87 does); with reduced precision control the rounding point of a denormalized
 * result stays at the same bit of the 64-bit field (as SoftFloat does; the host agrees).
 *
 * @param se  sign (bit 15) and biased exponent (bits 14:0)
 * @param sig significand, integer bit in bit 63
 */
record Float80(int se, long sig) {

    // ---- exception flags, as in the status word (SDM Vol. 1, 8.1.3) ----
    /** Invalid operation. */
    static final int IE = 0x01;
    /** Denormal operand. */
    static final int DE = 0x02;
    /** Divide by zero. */
    static final int ZE = 0x04;
    /** Numeric overflow. */
    static final int OE = 0x08;
    /** Numeric underflow. */
    static final int UE = 0x10;
    /** Inexact result (precision). */
    static final int PE = 0x20;
    /** Stack fault (with IE). */
    static final int SF = 0x40;

    // ---- rounding control (FCW bits 11:10) ----
    static final int RN = 0;
    static final int RD = 1;
    static final int RU = 2;
    static final int RZ = 3;

    static final int BIAS = 16383;
    static final int EMIN = -16382;
    static final int EMAX = 16383;
    /** Exponent adjustment of an unmasked overflow/underflow result (SDM Vol. 1, 8.5.4). */
    static final int BIAS_ADJUST = 24576;

    static final long J = Long.MIN_VALUE;
    static final long QUIET = 0x4000_0000_0000_0000L;

    static final Float80 POS_ZERO = new Float80(0, 0);
    static final Float80 NEG_ZERO = new Float80(0x8000, 0);
    static final Float80 ONE = new Float80(BIAS, J);
    static final Float80 POS_INF = new Float80(0x7FFF, J);
    static final Float80 NEG_INF = new Float80(0xFFFF, J);
    /** The real indefinite: the default QNaN of a masked invalid operation (SDM Vol. 1, 4.8.3.7). */
    static final Float80 INDEFINITE = new Float80(0xFFFF, 0xC000_0000_0000_0000L);

    /**
     * Rounding environment of one instruction: control (rounding, precision, masks) in, flags out.
     */
    static final class Env {
        int rc;
        /** Significand bits the result is rounded to: 24, 53 or 64. */
        int pc = 64;
        /** Exception masks (FCW bits 5:0): a set bit masks the exception. */
        int masks = 0x3F;
        /** Exception flags raised so far (IE..PE, SF). */
        int flags;
        /** C1: the last rounding went up (away from the exact value). */
        boolean c1;
        /** The memory operand (m32/m64 real) was a denormal in its own format. */
        boolean denormalSource;

        // rounding core output
        long rSig;
        int rExp;

        Env() {
        }

        Env(int fcw) {
            reset(fcw);
        }

        /** Loads rounding, precision (for the instructions it applies to) and masks from a control word. */
        Env reset(int fcw) {
            rc = (fcw >> 10) & 3;
            int p = (fcw >> 8) & 3;
            pc = p == 0 ? 24 : p == 2 ? 53 : 64;
            masks = fcw & 0x3F;
            flags = 0;
            c1 = false;
            denormalSource = false;
            return this;
        }

        /** An unmasked invalid, denormal or divide-by-zero exception stops the instruction. */
        boolean aborted() {
            return (flags & ~masks & (IE | DE | ZE)) != 0;
        }

        boolean masked(int flag) {
            return (masks & flag) != 0;
        }
    }

    // =====================================================================================
    // Classification
    // =====================================================================================

    boolean sign() {
        return (se & 0x8000) != 0;
    }

    int biasedExp() {
        return se & 0x7FFF;
    }

    boolean isZero() {
        return (se & 0x7FFF) == 0 && sig == 0;
    }

    /** Denormal or pseudo-denormal (exponent 0, significand not 0). */
    boolean isDenormal() {
        return (se & 0x7FFF) == 0 && sig != 0;
    }

    boolean isInf() {
        return (se & 0x7FFF) == 0x7FFF && sig == J;
    }

    boolean isNaN() {
        return (se & 0x7FFF) == 0x7FFF && sig < 0 && sig != J;
    }

    boolean isSNaN() {
        return isNaN() && (sig & QUIET) == 0;
    }

    /** Pseudo-NaN, pseudo-infinity or unnormal: the P6 raises invalid operation on them. */
    boolean isUnsupported() {
        return (se & 0x7FFF) != 0 && sig >= 0;
    }

    /** A finite non-zero value the arithmetic works on (normal or denormal). */
    boolean isFinite() {
        int e = se & 0x7FFF;
        return e != 0x7FFF && !isZero() && !isUnsupported();
    }

    /** The unbiased exponent of a finite non-zero value as if normalized. */
    int exp() {
        int e = se & 0x7FFF;
        if (e != 0) {
            return e - BIAS;
        }
        return EMIN - Long.numberOfLeadingZeros(sig);
    }

    /** The normalized significand of a finite non-zero value (integer bit set). */
    long normSig() {
        return (se & 0x7FFF) != 0 ? sig : sig << Long.numberOfLeadingZeros(sig);
    }

    Float80 negate() {
        return new Float80(se ^ 0x8000, sig);
    }

    Float80 abs() {
        return new Float80(se & 0x7FFF, sig);
    }

    Float80 withSign(boolean s) {
        return new Float80(s ? se | 0x8000 : se & 0x7FFF, sig);
    }

    Float80 quiet() {
        return new Float80(se, sig | QUIET);
    }

    static Float80 zero(boolean sign) {
        return sign ? NEG_ZERO : POS_ZERO;
    }

    static Float80 inf(boolean sign) {
        return sign ? NEG_INF : POS_INF;
    }

    /** The 80-bit memory image, little endian. */
    void toBytes(byte[] b, int off) {
        for (int i = 0; i < 8; i++) {
            b[off + i] = (byte) (sig >>> (8 * i));
        }
        b[off + 8] = (byte) se;
        b[off + 9] = (byte) (se >>> 8);
    }

    static Float80 fromBytes(byte[] b, int off) {
        long s = 0;
        for (int i = 7; i >= 0; i--) {
            s = s << 8 | (b[off + i] & 0xFF);
        }
        return new Float80((b[off + 8] & 0xFF) | (b[off + 9] & 0xFF) << 8, s);
    }

    @Override
    public String toString() {
        return String.format("%04x:%016x", se, sig);
    }

    // =====================================================================================
    // Rounding
    // =====================================================================================

    /**
     * Rounds sign × 1.f × 2^e, with the 128-bit significand s0:s1 (integer bit in bit 63 of s0, any
     * sticky bit folded into s1), to {@code p} bits and the exponent range [emin, emax]. Leaves the
     * result in env.rSig/env.rExp (rExp > emax: infinity; rSig == 0: zero).
     *
     * @param bias the exponent adjustment for unmasked overflow/underflow, 0 for memory formats
     */
    static void roundCore(Env env, boolean sign, int e, long s0, long s1, int p, int emin, int emax, int bias) {
        boolean below = e < emin;
        // Tininess is detected after rounding, as the host's x87 does (X87DifferentialTest): a value
        // that rounds, at p bits and unbounded exponent, up to 2^emin is not tiny.
        boolean tiny = below && !(e == emin - 1 && carriesOut(env.rc, sign, s0, s1, p));
        if (tiny && !env.masked(UE)) {
            // Unmasked underflow is signalled on tininess alone, exact or not (SDM Vol. 1, 4.9.1.5).
            env.flags |= UE;
            if (bias != 0) {
                e += bias;
                below = e < emin; // FSCALE can leave a result out of range even after adjustment
                tiny = below;
            }
        }
        if (below) {
            int n = emin - e;
            if (n >= 128) {
                s1 = (s0 | s1) != 0 ? 1 : 0;
                s0 = 0;
            } else if (n >= 64) {
                long lost = (n == 64 ? 0 : s0 << (128 - n)) | s1;
                s1 = (n == 64 ? s0 : s0 >>> (n - 64)) | (lost != 0 ? 1 : 0);
                s0 = 0;
            } else if (n > 0) {
                long lost = s1 << (64 - n);
                s1 = s0 << (64 - n) | s1 >>> n | (lost != 0 ? 1 : 0);
                s0 = s0 >>> n;
            }
            e = emin;
        }
        long kept;
        long rest;
        if (p == 64) {
            kept = s0;
            rest = s1;
        } else {
            kept = s0 >>> (64 - p);
            rest = s0 << p | (s1 != 0 ? 1 : 0);
        }
        boolean inexact = rest != 0;
        boolean inc;
        switch (env.rc) {
            case RN -> inc = rest < 0 && (rest != J || (kept & 1) != 0);
            case RD -> inc = sign && inexact;
            case RU -> inc = !sign && inexact;
            default -> inc = false;
        }
        if (inc) {
            kept++;
            if (p == 64 ? kept == 0 : kept == 1L << p) {
                kept = p == 64 ? J : 1L << (p - 1);
                e++;
            }
        }
        long s = p == 64 ? kept : kept << (64 - p);
        if (inexact) {
            env.flags |= PE;
            if (tiny) {
                env.flags |= UE;
            }
        }
        env.c1 = inc;
        if (e > emax) {
            if (!env.masked(OE)) {
                env.flags |= OE;
                if (bias != 0) {
                    e -= bias;
                    if (e > emax) { // FSCALE far out of range: infinity
                        e = emax + 1;
                        s = J;
                    }
                }
            } else {
                env.flags |= OE | PE;
                boolean toInf = env.rc == RN || env.rc == RU && !sign || env.rc == RD && sign;
                if (toInf) {
                    e = emax + 1;
                    s = J;
                    env.c1 = true;
                } else {
                    e = emax;
                    s = p == 64 ? -1L : -1L << (64 - p);
                    env.c1 = false;
                }
            }
        }
        env.rSig = s;
        env.rExp = e;
    }

    /** Whether rounding s0:s1 at p bits carries out of the significand (all kept bits one, rounding up). */
    private static boolean carriesOut(int rc, boolean sign, long s0, long s1, int p) {
        long kept = p == 64 ? s0 : s0 >>> (64 - p);
        long rest = p == 64 ? s1 : s0 << p | (s1 != 0 ? 1 : 0);
        if (kept != (p == 64 ? -1L : (1L << p) - 1) || rest == 0) {
            return false;
        }
        return switch (rc) {
            case RN -> rest < 0;
            case RD -> sign;
            case RU -> !sign;
            default -> false;
        };
    }

    /** Packs the rounding core's output as an extended value. */
    static Float80 packExtended(Env env, boolean sign) {
        int s = sign ? 0x8000 : 0;
        long m = env.rSig;
        if (env.rExp > EMAX) {
            return new Float80(s | 0x7FFF, J);
        }
        if (m == 0) {
            return new Float80(s, 0);
        }
        int e = m < 0 ? env.rExp + BIAS : 0;
        return new Float80(s | e, m);
    }

    /** Rounds a normalized 128-bit significand to an extended register result. */
    static Float80 round(Env env, boolean sign, int e, long s0, long s1, int p) {
        if (s0 == 0 && s1 == 0) {
            return zero(sign);
        }
        roundCore(env, sign, e, s0, s1, p, EMIN, EMAX, BIAS_ADJUST);
        return packExtended(env, sign);
    }

    /**
     * Rounds sign × (mag + sticky) × 2^exp2 to an extended register result of {@code p} bits.
     * {@code sticky} says there are non-zero bits below mag's last bit.
     */
    static Float80 roundBig(Env env, boolean sign, BigInteger mag, int exp2, boolean sticky, int p) {
        if (mag.signum() == 0) {
            if (!sticky) {
                return zero(sign);
            }
            // Only a sticky remainder: far below anything representable.
            return round(env, sign, EMIN - 200, J, 0, p);
        }
        int n = mag.bitLength();
        int e = exp2 + n - 1;
        long[] s = top128(mag, sticky);
        return round(env, sign, e, s[0], s[1], p);
    }

    /** The top 128 bits of a positive magnitude, left aligned, with the rest folded into a sticky bit. */
    static long[] top128(BigInteger mag, boolean sticky) {
        int n = mag.bitLength();
        BigInteger t;
        if (n > 128) {
            t = mag.shiftRight(n - 128);
            sticky |= mag.getLowestSetBit() < n - 128;
        } else {
            t = mag.shiftLeft(128 - n);
        }
        long s0 = t.shiftRight(64).longValue();
        long s1 = t.longValue() | (sticky ? 1 : 0);
        return new long[] {s0, s1};
    }

    static BigInteger unsigned(long v) {
        BigInteger b = BigInteger.valueOf(v & Long.MAX_VALUE);
        return v < 0 ? b.setBit(63) : b;
    }

    // =====================================================================================
    // Operand checks
    // =====================================================================================

    /** Masked response to an invalid operation: the real indefinite. */
    static Float80 invalid(Env env) {
        env.flags |= IE;
        return env.aborted() ? null : INDEFINITE;
    }

    /** Raises DE for denormal operands; returns true if that aborts the instruction (unmasked). */
    static boolean denormal(Env env, Float80 a) {
        if (a.isDenormal()) {
            env.flags |= DE;
        }
        return env.aborted();
    }

    /**
     * NaN result of a two-operand operation (SDM Vol. 1, Table 4-7, x87 column): an SNaN raises
     * invalid; the result is the QNaN operand, or of two NaNs the one with the larger significand,
     * made quiet.
     */
    static Float80 propagateNaN(Env env, Float80 a, Float80 b) {
        boolean aSn = a.isSNaN();
        boolean bSn = b.isSNaN();
        boolean aN = a.isNaN();
        boolean bN = b.isNaN();
        if (aSn || bSn) {
            env.flags |= IE;
            if (env.aborted()) {
                return null;
            }
        }
        Float80 r;
        if (aN && bN) {
            if (aSn == bSn) {
                int c = Long.compareUnsigned(a.sig & ~QUIET, b.sig & ~QUIET);
                r = c > 0 ? a : c < 0 ? b : (!a.sign() ? a : b);
            } else {
                r = aSn ? b : a;
            }
        } else {
            r = aN ? a : b;
        }
        return r.quiet();
    }

    /** One-operand NaN handling: SNaN raises invalid, the result is the operand made quiet. */
    static Float80 propagateNaN(Env env, Float80 a) {
        if (a.isSNaN()) {
            env.flags |= IE;
            if (env.aborted()) {
                return null;
            }
        }
        return a.quiet();
    }

    /**
     * Common checks of a two-operand operation: unsupported formats, NaNs, denormals. Returns the
     * result if the operands decide it (a NaN or the indefinite), {@link #PROCEED} to compute, or
     * {@code null} if aborted.
     */
    private static Float80 check2(Env env, Float80 a, Float80 b) {
        if (a.isUnsupported() || b.isUnsupported()) {
            return invalid(env);
        }
        if (a.isNaN() || b.isNaN()) {
            return propagateNaN(env, a, b);
        }
        if (a.isDenormal() || b.isDenormal() || env.denormalSource) {
            env.flags |= DE;
            if (env.aborted()) {
                return null;
            }
        }
        return PROCEED;
    }

    /** Marker of {@link #check2}: the operands are numbers, compute. */
    static final Float80 PROCEED = new Float80(-1, 0);

    // =====================================================================================
    // Arithmetic
    // =====================================================================================

    /** a + b (or a - b), rounded to the precision control. */
    static Float80 add(Env env, Float80 a, Float80 b, boolean subtract) {
        Float80 c = check2(env, a, b);
        if (c != PROCEED) {
            return c;
        }
        boolean sa = a.sign();
        boolean sb = b.sign() ^ subtract;
        if (a.isInf() || b.isInf()) {
            if (a.isInf() && b.isInf() && sa != sb) {
                return invalid(env);
            }
            return a.isInf() ? a : inf(sb);
        }
        if (a.isZero() && b.isZero()) {
            return zero(sa == sb ? sa : env.rc == RD);
        }
        if (a.isZero()) {
            return round(env, sb, b.exp(), b.normSig(), 0, env.pc);
        }
        if (b.isZero()) {
            return round(env, sa, a.exp(), a.normSig(), 0, env.pc);
        }
        int ea = a.exp();
        int eb = b.exp();
        long ma = a.normSig();
        long mb = b.normSig();
        if (ea < eb || ea == eb && Long.compareUnsigned(ma, mb) < 0) {
            int te = ea;
            ea = eb;
            eb = te;
            long tm = ma;
            ma = mb;
            mb = tm;
            boolean ts = sa;
            sa = sb;
            sb = ts;
        }
        int d = ea - eb;
        boolean sticky = false;
        BigInteger big = unsigned(ma);
        BigInteger small = unsigned(mb);
        if (d > 130) {
            // The smaller operand only matters as a sticky bit below the rounding point.
            small = BigInteger.ONE;
            big = big.shiftLeft(131);
        } else {
            big = big.shiftLeft(d);
        }
        int exp2 = (d > 130 ? ea - 63 - 131 : eb - 63);
        BigInteger r = sa == sb ? big.add(small) : big.subtract(small);
        if (r.signum() == 0) {
            return zero(env.rc == RD);
        }
        return roundBig(env, sa, r, exp2, sticky, env.pc);
    }

    /** a × b, rounded to the precision control. */
    static Float80 mul(Env env, Float80 a, Float80 b) {
        Float80 c = check2(env, a, b);
        if (c != PROCEED) {
            return c;
        }
        boolean s = a.sign() ^ b.sign();
        if (a.isInf() || b.isInf()) {
            if (a.isZero() || b.isZero()) {
                return invalid(env);
            }
            return inf(s);
        }
        if (a.isZero() || b.isZero()) {
            return zero(s);
        }
        BigInteger p = unsigned(a.normSig()).multiply(unsigned(b.normSig()));
        return roundBig(env, s, p, a.exp() + b.exp() - 126, false, env.pc);
    }

    /** a ÷ b, rounded to the precision control. */
    static Float80 div(Env env, Float80 a, Float80 b) {
        if (b.isZero() && a.isFinite()) {
            // Divide by zero takes precedence over a denormal dividend.
            env.flags |= ZE;
            return env.aborted() ? null : inf(a.sign() ^ b.sign());
        }
        Float80 c = check2(env, a, b);
        if (c != PROCEED) {
            return c;
        }
        boolean s = a.sign() ^ b.sign();
        if (a.isInf()) {
            return b.isInf() ? invalid(env) : inf(s);
        }
        if (b.isInf()) {
            return zero(s);
        }
        if (b.isZero()) {
            if (a.isZero()) {
                return invalid(env);
            }
            env.flags |= ZE;
            return env.aborted() ? null : inf(s);
        }
        if (a.isZero()) {
            return zero(s);
        }
        BigInteger[] qr = unsigned(a.normSig()).shiftLeft(130).divideAndRemainder(unsigned(b.normSig()));
        return roundBig(env, s, qr[0], a.exp() - b.exp() - 130, qr[1].signum() != 0, env.pc);
    }

    /** √a, rounded to the precision control. */
    static Float80 sqrt(Env env, Float80 a) {
        if (a.isUnsupported()) {
            return invalid(env);
        }
        if (a.isNaN()) {
            return propagateNaN(env, a);
        }
        if (a.isZero()) {
            return a;
        }
        if (a.sign()) {
            return invalid(env);
        }
        if (denormal(env, a)) {
            return null;
        }
        if (a.isInf()) {
            return a;
        }
        // a = m × 2^(e-63); make the exponent even and leave ≥ 66 root bits.
        int e = a.exp() - 63;
        int shift = 130 + ((e - 130) & 1);
        BigInteger m = unsigned(a.normSig()).shiftLeft(shift);
        BigInteger r = m.sqrt();
        boolean sticky = !r.multiply(r).equals(m);
        return roundBig(env, false, r, (e - shift) / 2, sticky, env.pc);
    }

    /**
     * FPREM (truncating) / FPREM1 (round to nearest) partial remainder of a by b. Returns the result;
     * {@code q[0]} gets the low quotient bits, {@code q[1]} 1 if the reduction is incomplete (C2).
     * The reduction of an incomplete step uses N = 32 + (D mod 32) (what the host's x87 does; the
     * SDM calls N implementation dependent).
     */
    static Float80 prem(Env env, Float80 a, Float80 b, boolean ieee, int[] q) {
        q[0] = 0;
        q[1] = 0;
        if (!a.isNaN() && !b.isNaN() && !a.isUnsupported() && !b.isUnsupported() && (a.isInf() || b.isZero())) {
            return invalid(env); // takes precedence over a denormal operand
        }
        Float80 c = check2(env, a, b);
        if (c != PROCEED) {
            return c;
        }
        if (a.isZero() || b.isInf()) {
            return a.isDenormal() ? round(env, a.sign(), a.exp(), a.normSig(), 0, 64) : a;
        }
        int ea = a.exp();
        int eb = b.exp();
        int d = ea - eb;
        boolean partial = d >= 64;
        if (partial) {
            // Reduce by b × 2^(D-N) only: the result keeps C2 set and the quotient bits are not reported.
            int n = 32 + d % 32;
            eb = ea - n;
            d = n;
            ieee = false;
            q[1] = 1;
        }
        boolean sa = a.sign();
        if (d < -1 || (d < 0 && !ieee)) {
            return round(env, sa, ea, a.normSig(), 0, 64);
        }
        int emin = Math.min(ea, eb);
        BigInteger am = unsigned(a.normSig()).shiftLeft(ea - emin);
        BigInteger bm = unsigned(b.normSig()).shiftLeft(eb - emin);
        BigInteger[] qr = am.divideAndRemainder(bm);
        BigInteger quo = qr[0];
        BigInteger rem = qr[1];
        boolean neg = false;
        if (ieee) {
            int cmp = rem.shiftLeft(1).compareTo(bm);
            if (cmp > 0 || cmp == 0 && quo.testBit(0)) {
                quo = quo.add(BigInteger.ONE);
                rem = bm.subtract(rem);
                neg = true;
            }
        }
        if (!partial) {
            q[0] = quo.intValue() & 7;
        }
        if (rem.signum() == 0) {
            return zero(sa);
        }
        return roundBig(env, sa ^ neg, rem, emin - 63, false, 64);
    }

    /** FRNDINT: a rounded to an integer by the rounding control. */
    static Float80 roundToInt(Env env, Float80 a) {
        if (a.isUnsupported()) {
            return invalid(env);
        }
        if (a.isNaN()) {
            return propagateNaN(env, a);
        }
        if (denormal(env, a)) {
            return null;
        }
        if (a.isZero() || a.isInf() || a.exp() >= 63) {
            return a;
        }
        long[] r = toIntegerBits(env, a);
        if (r[0] == 0) {
            return zero(a.sign());
        }
        boolean up = env.c1;
        Float80 res = roundBig(env, a.sign(), unsigned(r[0]), 0, false, 64);
        env.c1 = up;
        return res;
    }

    /**
     * Rounds a finite value (|a| &lt; 2^64 assumed by callers that care) to an integer magnitude by
     * the rounding control: {magnitude, overflowed (1) or not}. Sets PE and C1.
     */
    static long[] toIntegerBits(Env env, Float80 a) {
        if (a.isZero()) {
            return new long[] {0, 0};
        }
        int e = a.exp();
        long m = a.normSig();
        if (e >= 64) {
            return new long[] {0, 1};
        }
        int fracBits = 63 - e; // bits of m below the binary point
        long kept;
        long rest;
        if (fracBits <= 0) {
            kept = m;
            rest = 0;
        } else if (fracBits < 64) {
            kept = m >>> fracBits;
            rest = m << (64 - fracBits);
        } else if (fracBits == 64) {
            kept = 0;
            rest = m;
        } else {
            kept = 0;
            rest = 1; // far below one half
        }
        boolean inexact = rest != 0;
        boolean sign = a.sign();
        boolean inc = switch (env.rc) {
            case RN -> rest < 0 && (rest != J || (kept & 1) != 0);
            case RD -> sign && inexact;
            case RU -> !sign && inexact;
            default -> false;
        };
        long over = 0;
        if (inc) {
            kept++;
            if (kept == 0) {
                over = 1;
            }
        }
        if (inexact) {
            env.flags |= PE;
        }
        env.c1 = inc;
        return new long[] {kept, over};
    }

    /**
     * Converts to a signed integer of {@code bits} (16, 32, 64) bits by the rounding control, for
     * FIST/FISTP. Out of range, NaN, infinity and unsupported formats are invalid and give the
     * integer indefinite (the most negative value); {@code null} if an unmasked exception stops the store.
     */
    static Long toInt(Env env, Float80 a, int bits) {
        long indefinite = 1L << (bits - 1);
        if (a.isUnsupported() || a.isNaN() || a.isInf()) {
            env.flags |= IE;
            return env.aborted() ? null : -indefinite;
        }
        // A denormal source raises no DE here (as on the host's x87): it just rounds to 0 or ±1.
        long[] r = toIntegerBits(env, a);
        long mag = r[0];
        boolean ok = r[1] == 0 && (a.sign() ? Long.compareUnsigned(mag, indefinite) <= 0
                : Long.compareUnsigned(mag, indefinite - 1) <= 0);
        if (!ok) {
            env.flags &= ~PE;
            env.c1 = false;
            env.flags |= IE;
            return env.aborted() ? null : -indefinite;
        }
        return a.sign() ? -mag : mag;
    }

    /** FSCALE: a × 2^trunc(b). */
    static Float80 scale(Env env, Float80 a, Float80 b) {
        Float80 c = check2(env, a, b);
        if (c != PROCEED) {
            return c;
        }
        if (b.isInf()) {
            if (!b.sign()) {
                return a.isZero() ? invalid(env) : inf(a.sign());
            }
            return a.isInf() ? invalid(env) : zero(a.sign());
        }
        if (a.isZero() || a.isInf()) {
            return a;
        }
        int n;
        if (b.isZero() || b.exp() < 0) {
            n = 0;
        } else if (b.exp() >= 20) {
            n = b.sign() ? -(1 << 20) : 1 << 20;
        } else {
            long mag = b.normSig() >>> (63 - b.exp());
            n = (int) (b.sign() ? -mag : mag);
        }
        return round(env, a.sign(), a.exp() + n, a.normSig(), 0, 64);
    }

    /** Comparison result: less, equal, greater, unordered. */
    static final int LT = 0;
    static final int EQ = 1;
    static final int GT = 2;
    static final int UNORDERED = 3;

    /**
     * Compares a with b. {@code quiet}: only SNaNs are invalid (FUCOM); otherwise any NaN is
     * (FCOM). Unsupported formats are always invalid. Returns -1 if an unmasked exception aborts.
     */
    static int compare(Env env, Float80 a, Float80 b, boolean quiet) {
        if (a.isUnsupported() || b.isUnsupported()) {
            env.flags |= IE;
            return env.aborted() ? -1 : UNORDERED;
        }
        if (a.isNaN() || b.isNaN()) {
            if (!quiet || a.isSNaN() || b.isSNaN()) {
                env.flags |= IE;
            }
            return env.aborted() ? -1 : UNORDERED;
        }
        if (a.isDenormal() || b.isDenormal() || env.denormalSource) {
            env.flags |= DE;
            if (env.aborted()) {
                return -1;
            }
        }
        return compareNumbers(a, b);
    }

    /** Orders two numbers (no NaN, no unsupported format). */
    static int compareNumbers(Float80 a, Float80 b) {
        boolean az = a.isZero();
        boolean bz = b.isZero();
        if (az && bz) {
            return EQ;
        }
        int ka = a.orderKeySign();
        int kb = b.orderKeySign();
        if (az) {
            return kb > 0 ? LT : GT;
        }
        if (bz) {
            return ka > 0 ? GT : LT;
        }
        if (ka != kb) {
            return ka > kb ? GT : LT;
        }
        int c;
        if (a.isInf() || b.isInf()) {
            c = a.isInf() && b.isInf() ? 0 : a.isInf() ? 1 : -1;
        } else {
            c = Integer.compare(a.exp(), b.exp());
            if (c == 0) {
                c = Long.compareUnsigned(a.normSig(), b.normSig());
            }
        }
        if (ka < 0) {
            c = -c;
        }
        return c == 0 ? EQ : c > 0 ? GT : LT;
    }

    private int orderKeySign() {
        return sign() ? -1 : 1;
    }

    // =====================================================================================
    // Conversions
    // =====================================================================================

    /** Exact conversion of an integer. */
    static Float80 fromLong(long v) {
        if (v == 0) {
            return POS_ZERO;
        }
        boolean s = v < 0;
        long m = s ? -v : v; // Long.MIN_VALUE stays 2^63 as an unsigned magnitude
        int lz = Long.numberOfLeadingZeros(m);
        return new Float80((s ? 0x8000 : 0) | (BIAS + 63 - lz), m << lz);
    }

    /** FLD m32: exact; an SNaN raises invalid and loads quiet; a denormal raises DE. */
    /**
     * Exact widening of a single for arithmetic with ST(0): an SNaN stays signalling so the
     * operation applies the NaN rules to it, a denormal is normalized (the caller notes DE).
     */
    static Float80 widenSingle(int bits) {
        int e = (bits >>> 23) & 0xFF;
        long f = bits & 0x7F_FFFFL;
        int sgn = bits < 0 ? 0x8000 : 0;
        if (e == 0xFF) {
            return new Float80(sgn | 0x7FFF, J | f << 40);
        }
        if (e == 0) {
            if (f == 0) {
                return zero(bits < 0);
            }
            int lz = Long.numberOfLeadingZeros(f);
            return new Float80(sgn | (BIAS - 149 + 63 - lz), f << lz);
        }
        return new Float80(sgn | (e - 127 + BIAS), J | f << 40);
    }

    /** Exact widening of a double, as {@link #widenSingle}. */
    static Float80 widenDouble(long bits) {
        int e = (int) (bits >>> 52) & 0x7FF;
        long f = bits & 0xF_FFFF_FFFF_FFFFL;
        int sgn = bits < 0 ? 0x8000 : 0;
        if (e == 0x7FF) {
            return new Float80(sgn | 0x7FFF, J | f << 11);
        }
        if (e == 0) {
            if (f == 0) {
                return zero(bits < 0);
            }
            int lz = Long.numberOfLeadingZeros(f);
            return new Float80(sgn | (BIAS - 1074 + 63 - lz), f << lz);
        }
        return new Float80(sgn | (e - 1023 + BIAS), J | f << 11);
    }

    static boolean isDenormalSingle(int bits) {
        return (bits & 0x7F80_0000) == 0 && (bits & 0x7F_FFFF) != 0;
    }

    static boolean isDenormalDouble(long bits) {
        return (bits & 0x7FF0_0000_0000_0000L) == 0 && (bits & 0xF_FFFF_FFFF_FFFFL) != 0;
    }

    static Float80 fromSingle(Env env, int bits) {
        boolean s = bits < 0;
        int e = (bits >>> 23) & 0xFF;
        long f = bits & 0x7F_FFFFL;
        int sgn = s ? 0x8000 : 0;
        if (e == 0xFF) {
            if (f == 0) {
                return inf(s);
            }
            Float80 n = new Float80(sgn | 0x7FFF, J | f << 40);
            return propagateNaN(env, n);
        }
        if (e == 0) {
            if (f == 0) {
                return zero(s);
            }
            env.flags |= DE;
            if (env.aborted()) {
                return null;
            }
            int lz = Long.numberOfLeadingZeros(f);
            // value = f × 2^-149
            return new Float80(sgn | (BIAS - 149 + 63 - lz), f << lz);
        }
        return new Float80(sgn | (e - 127 + BIAS), J | f << 40);
    }

    /** FLD m64: exact; SNaN and denormal as for {@link #fromSingle}. */
    static Float80 fromDouble(Env env, long bits) {
        boolean s = bits < 0;
        int e = (int) (bits >>> 52) & 0x7FF;
        long f = bits & 0xF_FFFF_FFFF_FFFFL;
        int sgn = s ? 0x8000 : 0;
        if (e == 0x7FF) {
            if (f == 0) {
                return inf(s);
            }
            return propagateNaN(env, new Float80(sgn | 0x7FFF, J | f << 11));
        }
        if (e == 0) {
            if (f == 0) {
                return zero(s);
            }
            env.flags |= DE;
            if (env.aborted()) {
                return null;
            }
            int lz = Long.numberOfLeadingZeros(f);
            return new Float80(sgn | (BIAS - 1074 + 63 - lz), f << lz);
        }
        return new Float80(sgn | (e - 1023 + BIAS), J | f << 11);
    }

    /** FST m32: rounds to single precision and range; NaN payloads are truncated and made quiet. */
    static long toSingle(Env env, Float80 a) {
        return toFormat(env, a, 24, -126, 127, 8);
    }

    /** FST m64. */
    static long toDouble(Env env, Float80 a) {
        return toFormat(env, a, 53, -1022, 1023, 11);
    }

    private static long toFormat(Env env, Float80 a, int p, int emin, int emax, int expBits) {
        int fracBits = p - 1;
        int total = 1 + expBits + fracBits;
        long signBit = a.sign() ? 1L << (total - 1) : 0;
        long expMax = (1L << expBits) - 1;
        long indefinite = 1L << (total - 1) | expMax << fracBits | 1L << (fracBits - 1);
        if (a.isUnsupported()) {
            env.flags |= IE;
            return indefinite;
        }
        if (a.isNaN()) {
            if (a.isSNaN()) {
                env.flags |= IE;
            }
            long frac = (a.sig & ~J) >>> (63 - fracBits) | 1L << (fracBits - 1);
            return signBit | expMax << fracBits | frac;
        }
        if (a.isInf()) {
            return signBit | expMax << fracBits;
        }
        if (a.isZero()) {
            return signBit;
        }
        roundCore(env, a.sign(), a.exp(), a.normSig(), 0, p, emin, emax, 0);
        if (env.rExp > emax) {
            return signBit | expMax << fracBits;
        }
        long m = env.rSig >>> (64 - p);
        if (m == 0) {
            return signBit;
        }
        long e = (m >>> fracBits) != 0 ? env.rExp + (expMax >> 1) : 0;
        return signBit | e << fracBits | (m & ((1L << fracBits) - 1));
    }
}
