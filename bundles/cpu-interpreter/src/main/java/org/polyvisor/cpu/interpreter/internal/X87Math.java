package org.polyvisor.cpu.interpreter.internal;

import java.math.BigInteger;

/**
 * The x87 transcendental instructions (F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS)
 * and the constants of FLDPI &amp; co.
 *
 * <p>How: each function is evaluated in a binary big float ({@link BF}: a {@link BigInteger}
 * significand of {@value #P} bits and an int exponent) by argument reduction and a series (Taylor
 * for e^x-1, sin and cos; atanh for logarithms; halving formulas then Taylor for arctangent), then
 * rounded once to 64 bits by the rounding control (precision control does not apply to these
 * instructions, SDM Vol. 1, 8.1.5.2). The series error stays far below 2^-140 relative, so results
 * are correctly rounded except when the exact value lies within that distance of a rounding
 * boundary; the P6 itself only promises an error below one ulp (SDM Vol. 1, 8.3.10), so results
 * may differ from a real processor by at most one ulp. Like the processor, FSIN/FCOS/FSINCOS/FPTAN
 * reduce their argument with the 66-bit approximation of π the x87 carries, so large arguments give
 * the processor's answer rather than the mathematically exact one.
 */
final class X87Math {

    /** Working precision in bits. */
    static final int P = 160;

    /** π rounded to 66 bits, as the x87 uses it for argument reduction: PI66 × 2^-64. */
    static final BigInteger PI66 = new BigInteger("C90FDAA22168C234", 16).shiftLeft(2).or(BigInteger.valueOf(3));

    static final BF PI;
    static final BF LN2;

    static {
        // Machin: π = 16 atan(1/5) - 4 atan(1/239); ln 2 = 2 atanh(1/3).
        BF a5 = atanSeries(BF.of(1).div(BF.of(5)));
        BF a239 = atanSeries(BF.of(1).div(BF.of(239)));
        PI = a5.mulPow2(4).sub(a239.mulPow2(2)).inexact();
        LN2 = atanhSeries(BF.of(1).div(BF.of(3))).mulPow2(1).inexact();
    }

    private X87Math() {
    }

    /**
     * A binary big float: m × 2^e, rounded (truncated) to {@value #P} bits, with a flag saying
     * whether it is exact.
     */
    record BF(BigInteger m, int e, boolean exact) {

        static BF of(long v) {
            return new BF(BigInteger.valueOf(v), 0, true);
        }

        static BF of(Float80 f) {
            if (f.isZero()) {
                return new BF(BigInteger.ZERO, 0, true);
            }
            BigInteger m = Float80.unsigned(f.normSig());
            return new BF(f.sign() ? m.negate() : m, f.exp() - 63, true);
        }

        static BF norm(BigInteger m, int e, boolean exact) {
            int n = m.bitLength();
            if (n > P) {
                int sh = n - P;
                BigInteger a = m.abs();
                boolean lost = a.getLowestSetBit() < sh;
                BigInteger t = a.shiftRight(sh);
                return new BF(m.signum() < 0 ? t.negate() : t, e + sh, exact && !lost);
            }
            return new BF(m, e, exact);
        }

        int signum() {
            return m.signum();
        }

        boolean isZero() {
            return m.signum() == 0;
        }

        /** floor(log2 |this|): the exponent of the leading bit. */
        int magnitude() {
            return e + m.bitLength() - 1;
        }

        BF inexact() {
            return new BF(m, e, false);
        }

        BF negate() {
            return new BF(m.negate(), e, exact);
        }

        BF abs() {
            return new BF(m.abs(), e, exact);
        }

        BF mulPow2(int k) {
            return new BF(m, e + k, exact);
        }

        BF add(BF o) {
            if (o.isZero()) {
                return this;
            }
            if (isZero()) {
                return o;
            }
            // A much smaller addend only perturbs bits far below the working precision.
            if (magnitude() - o.magnitude() > P + 8) {
                int sh = P + 8 - m.bitLength();
                return norm(m.shiftLeft(sh).add(BigInteger.valueOf(o.signum())), e - sh, false);
            }
            if (o.magnitude() - magnitude() > P + 8) {
                return o.add(this);
            }
            int emin = Math.min(e, o.e);
            BigInteger s = m.shiftLeft(e - emin).add(o.m.shiftLeft(o.e - emin));
            return norm(s, emin, exact && o.exact);
        }

        BF sub(BF o) {
            return add(o.negate());
        }

        BF mul(BF o) {
            return norm(m.multiply(o.m), e + o.e, exact && o.exact);
        }

        BF div(BF o) {
            int sh = P + 2 + o.m.bitLength() - m.bitLength();
            if (sh < 0) {
                sh = 0;
            }
            BigInteger[] qr = m.shiftLeft(sh).divideAndRemainder(o.m);
            return norm(qr[0], e - sh - o.e, exact && o.exact && qr[1].signum() == 0);
        }

        BF sqrt() {
            int sh = 2 * P + 2 - m.bitLength();
            if (((e - sh) & 1) != 0) {
                sh++;
            }
            if (sh < 0) {
                sh = ((e & 1) != 0) ? 1 : 0;
            }
            BigInteger a = m.shiftLeft(sh);
            BigInteger r = a.sqrt();
            return norm(r, (e - sh) / 2, exact && r.multiply(r).equals(a));
        }

        /** Nearest integer (ties away from zero; only used for argument reduction). */
        BigInteger roundToInteger() {
            if (e >= 0) {
                return m.shiftLeft(e);
            }
            BigInteger half = BigInteger.ONE.shiftLeft(-e - 1);
            BigInteger a = m.abs().add(half).shiftRight(-e);
            return m.signum() < 0 ? a.negate() : a;
        }

        /** Rounds to an extended value with the instruction's rounding control (64 bits). */
        Float80 toFloat80(Float80.Env env) {
            if (isZero()) {
                return exact ? Float80.POS_ZERO : Float80.roundBig(env, false, BigInteger.ZERO, 0, true, 64);
            }
            return Float80.roundBig(env, m.signum() < 0, m.abs(), e, !exact, 64);
        }
    }

    // =====================================================================================
    // Series
    // =====================================================================================

    private static boolean negligible(BF term, BF sum) {
        return term.isZero() || !sum.isZero() && term.magnitude() < sum.magnitude() - P - 4;
    }

    /** atanh(t) = t + t^3/3 + t^5/5 + ... for small |t|. */
    static BF atanhSeries(BF t) {
        BF t2 = t.mul(t);
        BF pow = t;
        BF sum = t;
        for (int k = 3; k < 4000; k += 2) {
            pow = pow.mul(t2);
            BF term = pow.div(BF.of(k));
            if (negligible(term, sum)) {
                sum = sum.add(term); // keeps the direction of what is left for the final rounding
                break;
            }
            sum = sum.add(term);
        }
        return t.isZero() ? sum : sum.inexact();
    }

    /** atan(t) = t - t^3/3 + t^5/5 - ... for small |t|. */
    static BF atanSeries(BF t) {
        BF t2 = t.mul(t).negate();
        BF pow = t;
        BF sum = t;
        for (int k = 3; k < 4000; k += 2) {
            pow = pow.mul(t2);
            BF term = pow.div(BF.of(k));
            if (negligible(term, sum)) {
                sum = sum.add(term); // keeps the direction of what is left for the final rounding
                break;
            }
            sum = sum.add(term);
        }
        return t.isZero() ? sum : sum.inexact();
    }

    /** e^x - 1 by Taylor, for |x| up to about 1. */
    static BF expm1Series(BF x) {
        BF term = x;
        BF sum = x;
        for (int k = 2; k < 4000; k++) {
            term = term.mul(x).div(BF.of(k));
            if (negligible(term, sum)) {
                sum = sum.add(term); // keeps the direction of what is left for the final rounding
                break;
            }
            sum = sum.add(term);
        }
        return x.isZero() ? sum : sum.inexact();
    }

    /** sin (odd = true) or cos by Taylor, for |x| up to about π/4. */
    static BF sinCosSeries(BF x, boolean odd) {
        BF x2 = x.mul(x).negate();
        BF term = odd ? x : BF.of(1);
        BF sum = term;
        for (int k = odd ? 2 : 1; k < 4000; k += 2) {
            term = term.mul(x2).div(BF.of((long) k * (k + 1)));
            if (negligible(term, sum)) {
                sum = sum.add(term); // keeps the direction of what is left for the final rounding
                break;
            }
            sum = sum.add(term);
        }
        return x.isZero() ? sum : sum.inexact();
    }

    /** ln(1 + x) = 2 atanh(x / (2 + x)). */
    static BF log1p(BF x) {
        return atanhSeries(x.div(BF.of(2).add(x))).mulPow2(1);
    }

    /** log2 of a positive value: k + ln(m)/ln 2 with m in [√½, √2); exact when x is a power of two. */
    static BF log2(BF x) {
        int k = x.magnitude();
        BF m = x.mulPow2(-k); // [1, 2)
        // √2 ≈ 1.4142: move m to [0.7071, 1.4142)
        if (m.sub(new BF(BigInteger.valueOf(0xB504F333L), -31, true)).signum() > 0) {
            m = m.mulPow2(-1);
            k++;
        }
        BF one = BF.of(1);
        BF d = m.sub(one);
        BF kk = BF.of(k);
        if (d.isZero()) {
            return kk;
        }
        BF ln = atanhSeries(d.div(m.add(one))).mulPow2(1);
        return kk.add(ln.div(LN2));
    }

    /** atan(x) for any finite x. */
    static BF atan(BF x) {
        if (x.isZero()) {
            return x;
        }
        boolean neg = x.signum() < 0;
        BF a = x.abs();
        boolean inverted = false;
        if (a.magnitude() >= 0 && a.sub(BF.of(1)).signum() > 0) {
            a = BF.of(1).div(a);
            inverted = true;
        }
        // atan(a) = 2 atan(a / (1 + √(1 + a²))), twice: |a| ≤ tan(π/16).
        BF one = BF.of(1);
        int doublings = 0;
        if (a.magnitude() > -6) {
            for (int i = 0; i < 2; i++) {
                a = a.div(one.add(one.add(a.mul(a)).sqrt()));
                doublings++;
            }
        }
        BF r = atanSeries(a).mulPow2(doublings);
        if (inverted) {
            r = PI.mulPow2(-1).sub(r);
        }
        return (neg ? r.negate() : r).inexact();
    }

    // =====================================================================================
    // Instructions
    // =====================================================================================

    /** The value of a constant loaded by FLD1..FLDZ (D9 E8..EE), rounded by the rounding control. */
    static Float80 constant(int rc, int which) {
        Float80.Env env = new Float80.Env();
        env.rc = rc;
        BF v = switch (which) {
            case 0 -> BF.of(1);
            case 1 -> log2(BF.of(10));                   // FLDL2T
            case 2 -> BF.of(1).div(LN2);                  // FLDL2E
            case 3 -> PI;                                 // FLDPI
            case 4 -> BF.of(1).div(log2(BF.of(10)));      // FLDLG2 = log10(2)
            case 5 -> LN2;                                // FLDLN2
            default -> BF.of(0);                          // FLDZ
        };
        return v.toFloat80(env);
    }

    /** Cached constants per rounding mode, [rc][which]. */
    static final Float80[][] CONSTANTS = new Float80[4][7];

    static {
        for (int rc = 0; rc < 4; rc++) {
            for (int w = 0; w < 7; w++) {
                CONSTANTS[rc][w] = constant(rc, w);
            }
        }
    }

    /** Common one-operand checks: null = aborted, PROCEED = compute, else the result. */
    private static Float80 check1(Float80.Env env, Float80 x) {
        if (x.isUnsupported()) {
            return Float80.invalid(env);
        }
        if (x.isNaN()) {
            return Float80.propagateNaN(env, x);
        }
        if (Float80.denormal(env, x)) {
            return null;
        }
        return Float80.PROCEED;
    }

    /**
     * F2XM1: 2^x - 1 for -1 ≤ x ≤ +1. Outside that range the SDM leaves the result undefined; the
     * host's x87 returns the operand unchanged with PE set, and so does this.
     */
    static Float80 f2xm1(Float80.Env env, Float80 x) {
        Float80 c = check1(env, x);
        if (c != Float80.PROCEED) {
            return c;
        }
        if (x.isZero()) {
            return x;
        }
        if (x.isInf()) {
            return x.sign() ? new Float80(0xBFFF, Float80.J) : x;
        }
        if (x.exp() >= 0 && !(x.exp() == 0 && x.sig() == Float80.J)) {
            // Outside -1..+1 (undefined in the SDM) the host returns the operand unchanged, inexact.
            env.flags |= Float80.PE;
            return x;
        }
        // |x| <= 1 here: 2^x - 1 = e^(x ln 2) - 1, by Taylor directly (no cancellation for small x).
        BF r = expm1Series(BF.of(x).mul(LN2));
        return r.inexact().toFloat80(env);
    }

    /** FYL2X: y × log2(x). */
    static Float80 fyl2x(Float80.Env env, Float80 x, Float80 y) {
        if (x.sign() && x.isFinite() && !y.isNaN() && !y.isUnsupported()) {
            return Float80.invalid(env); // log of a negative number: before any denormal operand
        }
        boolean yNumber = !y.isNaN() && !y.isUnsupported();
        Float80 c = x.isZero() && yNumber ? Float80.PROCEED : check2(env, x, y); // ZE before DE
        if (c != Float80.PROCEED) {
            return c;
        }
        if (x.sign() && !x.isZero()) {
            return Float80.invalid(env);
        }
        if (x.isZero()) {
            if (y.isZero()) {
                return Float80.invalid(env);
            }
            if (!y.isInf()) {
                env.flags |= Float80.ZE;
                if (env.aborted()) {
                    return null;
                }
            }
            return Float80.inf(!y.sign());
        }
        if (x.isInf()) {
            return y.isZero() ? Float80.invalid(env) : Float80.inf(y.sign());
        }
        BF l = log2(BF.of(x));
        if (y.isInf()) {
            if (l.isZero()) {
                return Float80.invalid(env);
            }
            return Float80.inf(y.sign() ^ l.signum() < 0);
        }
        if (y.isZero() || l.isZero()) {
            return Float80.zero(y.sign() ^ (l.signum() < 0 || l.isZero() && x.sign()));
        }
        return l.mul(BF.of(y)).toFloat80(env);
    }

    /** FYL2XP1: y × log2(x + 1). */
    static Float80 fyl2xp1(Float80.Env env, Float80 x, Float80 y) {
        Float80 c = check2(env, x, y);
        if (c != Float80.PROCEED) {
            return c;
        }
        if (x.isZero()) {
            if (y.isInf()) {
                return Float80.invalid(env);
            }
            return Float80.zero(x.sign() ^ y.sign());
        }
        if (x.isInf()) {
            if (x.sign() || y.isZero()) {
                return Float80.invalid(env);
            }
            return Float80.inf(y.sign());
        }
        BF bx = BF.of(x);
        if (bx.add(BF.of(1)).signum() <= 0) {
            return Float80.invalid(env);
        }
        if (y.isZero()) {
            return Float80.zero(y.sign() ^ x.sign());
        }
        if (y.isInf()) {
            return Float80.inf(y.sign() ^ x.sign());
        }
        // The atanh series needs a small |x|; beyond the instruction's defined range take log2(1 + x).
        BF l = x.exp() < -2 ? log1p(bx).div(LN2) : log2(bx.add(BF.of(1)));
        return l.mul(BF.of(y)).toFloat80(env);
    }

    private static Float80 check2(Float80.Env env, Float80 a, Float80 b) {
        if (a.isUnsupported() || b.isUnsupported()) {
            return Float80.invalid(env);
        }
        if (a.isNaN() || b.isNaN()) {
            return Float80.propagateNaN(env, b, a);
        }
        if (a.isDenormal() || b.isDenormal()) {
            env.flags |= Float80.DE;
            if (env.aborted()) {
                return null;
            }
        }
        return Float80.PROCEED;
    }

    /** FPATAN: atan2(y, x) with the SDM's special cases (Table 3-xx of FPATAN). */
    static Float80 fpatan(Float80.Env env, Float80 x, Float80 y) {
        Float80 c = check2(env, x, y);
        if (c != Float80.PROCEED) {
            return c;
        }
        boolean sy = y.sign();
        boolean sx = x.sign();
        BF r;
        if (y.isInf()) {
            if (x.isInf()) {
                r = PI.mulPow2(-2); // π/4 or 3π/4
                if (sx) {
                    r = PI.sub(r);
                }
            } else {
                r = PI.mulPow2(-1);
            }
        } else if (x.isInf()) {
            if (!sx) {
                return Float80.zero(sy);
            }
            r = PI;
        } else if (y.isZero()) {
            if (!sx) {
                return Float80.zero(sy);
            }
            r = PI;
        } else if (x.isZero()) {
            r = PI.mulPow2(-1);
        } else {
            BF by = BF.of(y).abs();
            BF bx = BF.of(x);
            r = atan(by.div(bx.abs()));
            if (sx) {
                r = PI.sub(r);
            }
        }
        return (sy ? r.negate() : r).inexact().toFloat80(env);
    }

    /** Result of a trigonometric instruction: {sin, cos} or {tan, 1}; null entries when aborted. */
    static final int SIN = 0;
    static final int COS = 1;
    static final int TAN = 2;

    /**
     * |x| ≥ 2^63: the argument is out of range, C2 is set and the operand left unchanged (the
     * caller checks this first).
     */
    static boolean outOfRange(Float80 x) {
        return x.isFinite() && x.exp() >= 63;
    }

    /** FSIN / FCOS / FPTAN of a finite in-range x, or the special result; null when aborted. */
    static Float80 trig(Float80.Env env, Float80 x, int fn) {
        Float80 c = check1(env, x);
        if (c != Float80.PROCEED) {
            return c;
        }
        if (x.isInf()) {
            return Float80.invalid(env);
        }
        if (x.isZero()) {
            return fn == COS ? Float80.ONE : x;
        }
        BF bx = BF.of(x);
        // k = nearest integer to x / (π66/2); r = x - k·π66/2 exactly.
        BF halfPi66 = new BF(PI66, -65, true);
        BigInteger k = bx.div(halfPi66).roundToInteger();
        BF r;
        if (k.signum() == 0) {
            r = bx;
        } else {
            int emin = Math.min(bx.e(), -65);
            BigInteger exact = bx.m().shiftLeft(bx.e() - emin).subtract(k.multiply(PI66).shiftLeft(-65 - emin));
            r = new BF(exact, emin, true);
            r = BF.norm(r.m(), r.e(), true);
        }
        int q = k.intValue() & 3;
        BF s = sinCosSeries(r, true);
        BF co = sinCosSeries(r, false);
        BF sinX = switch (q) {
            case 0 -> s;
            case 1 -> co;
            case 2 -> s.negate();
            default -> co.negate();
        };
        BF cosX = switch (q) {
            case 0 -> co;
            case 1 -> s.negate();
            case 2 -> co.negate();
            default -> s;
        };
        BF v = switch (fn) {
            case SIN -> sinX;
            case COS -> cosX;
            default -> (q & 1) == 0 && r.magnitude() < -P
                    ? r.add(r.mul(r).mul(r).div(BF.of(3))) // tan r = r + r^3/3 + ...: keep the direction
                    : sinX.div(cosX);
        };
        return v.inexact().toFloat80(env);
    }
}
