package org.polyvisor.cpu.interpreter.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Float80 arithmetic against known values (hand-derived bit patterns, SDM tables). */
class Float80Test {

    private static final int MASKED_RN_64 = 0x037F;

    private static Float80.Env env(int rc, int pcField) {
        return new Float80.Env(0x3F | 0x40 | pcField << 8 | rc << 10);
    }

    private static Float80 f(int se, long sig) {
        return new Float80(se, sig);
    }

    private static Float80 of(long v) {
        return Float80.fromLong(v);
    }

    @Test
    void smallIntegersAreExact() {
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        assertEquals(of(2), Float80.add(e, Float80.ONE, Float80.ONE, false));
        assertEquals(of(-7), Float80.add(e, of(5), of(12), true));
        assertEquals(of(42), Float80.mul(e, of(6), of(7)));
        assertEquals(of(3), Float80.div(e, of(12), of(4)));
        assertEquals(of(12), Float80.sqrt(e, of(144)));
        assertEquals(0, e.flags, "no exception on exact results");
    }

    @Test
    void oneThirdInEveryPrecisionAndRounding() {
        Float80.Env rn = env(Float80.RN, 3);
        assertEquals(f(0x3FFD, 0xAAAA_AAAA_AAAA_AAABL), Float80.div(rn, of(1), of(3)));
        assertEquals(Float80.PE, rn.flags);
        assertTrue(rn.c1, "rounded up sets C1");
        Float80.Env rz = env(Float80.RZ, 3);
        assertEquals(f(0x3FFD, 0xAAAA_AAAA_AAAA_AAAAL), Float80.div(rz, of(1), of(3)));
        assertFalse(rz.c1);
        // Double precision control: 1/3 as a double (0x3FD5555555555555) widened.
        assertEquals(f(0x3FFD, 0x1555_5555_5555_55L << 11), Float80.div(env(Float80.RN, 2), of(1), of(3)));
        // Single precision control: 0x3EAAAAAB.
        assertEquals(f(0x3FFD, 0xAAAA_AB00_0000_0000L), Float80.div(env(Float80.RN, 0), of(1), of(3)));
        assertEquals(f(0xBFFD, 0xAAAA_AB00_0000_0000L), Float80.div(env(Float80.RD, 0), of(-1), of(3)));
        assertEquals(f(0xBFFD, 0xAAAA_AA00_0000_0000L), Float80.div(env(Float80.RU, 0), of(-1), of(3)));
    }

    @Test
    void squareRootOfTwo() {
        // √2 = 1.6A09E667F3BCC908B2FB1366... (hex)
        assertEquals(f(0x3FFF, 0xB504_F333_F9DE_6484L), Float80.sqrt(env(Float80.RN, 3), of(2)));
        assertEquals(f(0x3FFF, 0xB504_F333_F9DE_6485L), Float80.sqrt(env(Float80.RU, 3), of(2)));
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        assertEquals(Float80.INDEFINITE, Float80.sqrt(e, of(-2)));
        assertEquals(Float80.IE, e.flags);
        assertEquals(Float80.NEG_ZERO, Float80.sqrt(e, Float80.NEG_ZERO));
    }

    @Test
    void tiesRoundToEven() {
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        Float80 odd = f(0x403E, Float80.J | 1); // 2^63 + 1
        Float80 half = f(0x3FFE, Float80.J);    // 0.5
        assertEquals(f(0x403E, Float80.J | 2), Float80.add(e, odd, half, false), "tie to even goes up");
        assertEquals(f(0x403E, Float80.J), Float80.add(e, f(0x403E, Float80.J), half, false), "tie stays even");
    }

    @Test
    void overflowAndUnderflowMaskedResponses() {
        Float80 max = f(0x7FFE, -1L);
        Float80.Env rn = env(Float80.RN, 3);
        assertEquals(Float80.POS_INF, Float80.mul(rn, max, of(2)));
        assertEquals(Float80.OE | Float80.PE, rn.flags);
        Float80.Env rz = env(Float80.RZ, 3);
        assertEquals(max, Float80.mul(rz, max, of(2)));
        // Largest value at single precision control, towards zero.
        assertEquals(f(0x7FFE, 0xFFFF_FF00_0000_0000L), Float80.mul(env(Float80.RZ, 0), max, of(2)));
        // Min normal / 2: an exact denormal, no UE while masked.
        Float80 minNormal = f(0x0001, Float80.J);
        Float80.Env u = env(Float80.RN, 3);
        assertEquals(f(0x0000, 0x4000_0000_0000_0000L), Float80.div(u, minNormal, of(2)));
        assertEquals(0, u.flags);
        // Min normal / 3: tiny and inexact.
        Float80.Env u3 = env(Float80.RN, 3);
        Float80 r = Float80.div(u3, minNormal, of(3));
        assertEquals(0, r.biasedExp());
        assertEquals(Float80.UE | Float80.PE, u3.flags);
    }

    @Test
    void unmaskedOverflowAdjustsTheExponent() {
        Float80.Env e = new Float80.Env(0x0377); // OE unmasked
        Float80 r = Float80.mul(e, f(0x7FFE, Float80.J), of(4));
        assertEquals(Float80.OE, e.flags & Float80.OE);
        assertEquals(0x7FFE + 2 - Float80.BIAS_ADJUST, r.biasedExp());
        Float80.Env z = new Float80.Env(0x037B); // ZE unmasked: aborted, no result
        assertNull(Float80.div(z, of(1), Float80.POS_ZERO));
        assertEquals(Float80.ZE, z.flags);
    }

    @Test
    void nanRules() {
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        Float80 snan = f(0x7FFF, 0x8000_0000_0000_0001L);
        Float80 qnan = f(0xFFFF, 0xC000_0000_0000_0005L);
        assertEquals(qnan, Float80.add(e, snan, qnan, false), "QNaN operand wins over SNaN");
        assertEquals(Float80.IE, e.flags);
        Float80.Env e2 = new Float80.Env(MASKED_RN_64);
        assertEquals(snan.quiet(), Float80.mul(e2, snan, of(3)));
        Float80.Env e3 = new Float80.Env(MASKED_RN_64);
        assertEquals(Float80.INDEFINITE, Float80.add(e3, Float80.POS_INF, Float80.POS_INF, true));
        Float80.Env e4 = new Float80.Env(MASKED_RN_64);
        assertEquals(Float80.INDEFINITE, Float80.add(e4, f(0x3FFF, 0x4000_0000_0000_0000L), of(1), false),
                "unnormals are invalid on a P6");
        assertEquals(Float80.IE, e4.flags);
        Float80.Env e5 = new Float80.Env(MASKED_RN_64);
        assertEquals(Float80.UNORDERED, Float80.compare(e5, qnan, of(1), true));
        assertEquals(0, e5.flags, "FUCOM is quiet on QNaN");
        assertEquals(Float80.UNORDERED, Float80.compare(e5, qnan, of(1), false));
        assertEquals(Float80.IE, e5.flags, "FCOM is not");
    }

    @Test
    void pseudoDenormalUsesExponentOne() {
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        Float80 pseudo = f(0x0000, Float80.J);
        assertEquals(f(0x0002, Float80.J), Float80.add(e, pseudo, pseudo, false));
        assertEquals(Float80.DE, e.flags);
    }

    @Test
    void conversions() {
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        assertEquals(0x3F80_0000L, Float80.toSingle(e, Float80.ONE));
        assertEquals(0x3FF0_0000_0000_0000L, Float80.toDouble(e, Float80.ONE));
        assertEquals(Float80.ONE, Float80.fromSingle(e, 0x3F80_0000));
        assertEquals(Float80.ONE, Float80.fromDouble(e, 0x3FF0_0000_0000_0000L));
        assertEquals(0, e.flags);
        assertEquals(0x7F80_0000L, Float80.toSingle(e, f(0x7FFE, -1L)), "overflow to +inf");
        assertEquals(Float80.OE | Float80.PE, e.flags);
        Float80.Env s = new Float80.Env(MASKED_RN_64);
        assertEquals(0x7FC0_0001L, Float80.toSingle(s, f(0x7FFF, 0x8000_0100_0000_0000L)), "SNaN quieted");
        assertEquals(Float80.IE, s.flags);
        Float80.Env d = new Float80.Env(MASKED_RN_64);
        Float80 denorm = Float80.fromSingle(d, 1);
        assertEquals(f(Float80.BIAS - 149, Float80.J), denorm);
        assertEquals(Float80.DE, d.flags);
        // FIST: round by RC, out of range is invalid and stores the integer indefinite.
        assertEquals(2L, Float80.toInt(env(Float80.RN, 3), f(0x4000, 0xA000_0000_0000_0000L), 16)); // 2.5 -> 2
        assertEquals(3L, Float80.toInt(env(Float80.RU, 3), f(0x4000, 0xA000_0000_0000_0000L), 16));
        Float80.Env big = new Float80.Env(MASKED_RN_64);
        assertEquals(-32768L, Float80.toInt(big, of(40000), 16));
        assertEquals(Float80.IE, big.flags);
        assertEquals(-32768L, Float80.toInt(new Float80.Env(MASKED_RN_64), of(-32768), 16));
        assertEquals(Long.MIN_VALUE, Float80.toInt(new Float80.Env(MASKED_RN_64), of(Long.MIN_VALUE), 64));
    }

    @Test
    void partialRemainder() {
        int[] q = new int[2];
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        assertEquals(of(1), Float80.prem(e, of(7), of(3), false, q));
        assertEquals(2, q[0]);
        assertEquals(0, q[1]);
        assertEquals(of(-1), Float80.prem(e, of(7), of(2), true, q), "FPREM1: 3.5 rounds to the even 4");
        assertEquals(4, q[0]);
        // 2^100 rem 3 needs several steps: C2 set after the first.
        Float80 r = Float80.prem(e, f(Float80.BIAS + 100, Float80.J), of(3), false, q);
        assertEquals(1, q[1]);
        assertTrue(r.exp() < 100);
    }

    @Test
    void transcendentalConstants() {
        assertEquals(f(0x4000, 0xC90F_DAA2_2168_C235L), X87Math.CONSTANTS[Float80.RN][3]);
        assertEquals(f(0x4000, 0xC90F_DAA2_2168_C234L), X87Math.CONSTANTS[Float80.RZ][3]);
        assertEquals(f(0x3FFE, 0xB172_17F7_D1CF_79ACL), X87Math.CONSTANTS[Float80.RN][5]); // ln 2
        assertEquals(f(0x4000, 0xD49A_784B_CD1B_8AFEL), X87Math.CONSTANTS[Float80.RN][1]); // log2 10
        assertEquals(f(0x4000, 0xD49A_784B_CD1B_8AFFL), X87Math.CONSTANTS[Float80.RU][1]);
        assertEquals(f(0x3FFF, 0xB8AA_3B29_5C17_F0BCL), X87Math.CONSTANTS[Float80.RN][2]); // log2 e
        assertEquals(f(0x3FFD, 0x9A20_9A84_FBCF_F799L), X87Math.CONSTANTS[Float80.RN][4]); // log10 2
    }

    @Test
    void transcendentalKnownValues() {
        Float80.Env e = new Float80.Env(MASKED_RN_64);
        assertEquals(Float80.POS_ZERO, X87Math.trig(e, Float80.POS_ZERO, X87Math.SIN));
        assertEquals(Float80.ONE, X87Math.trig(e, Float80.POS_ZERO, X87Math.COS));
        assertEquals(0, e.flags);
        // sin(π66/2 rounded) is 1 within rounding; atan(1) = π/4; 2^1 - 1 = 1; log2(8) = 3 exactly.
        assertEquals(f(0x3FFE, 0xC90F_DAA2_2168_C235L), X87Math.fpatan(e, of(1), of(1)));
        assertEquals(Float80.ONE, X87Math.f2xm1(e, Float80.ONE));
        Float80.Env ex = new Float80.Env(MASKED_RN_64);
        assertEquals(of(3), X87Math.fyl2x(ex, of(8), of(1)));
        assertEquals(0, ex.flags & Float80.PE, "log2 of a power of two is exact");
        assertEquals(f(0x3FFE, 0xD76A_A478_4867_7021L), X87Math.trig(e, of(1), X87Math.SIN)); // sin 1
    }
}
