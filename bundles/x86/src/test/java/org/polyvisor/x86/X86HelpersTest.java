package org.polyvisor.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.SegmentRegister;

class X86HelpersTest {

    /** The shortcuts in cf() and condition() (no full flag computation) agree with get(). */
    @Test
    void lazyFlagShortcutsAgreeWithFullComputation() {
        java.util.Random rnd = new java.util.Random(7);
        LazyFlags f = new LazyFlags();
        int[] ops = {LazyFlags.OP_ADD, LazyFlags.OP_ADC, LazyFlags.OP_SUB, LazyFlags.OP_SBB, LazyFlags.OP_LOGIC,
            LazyFlags.OP_INC, LazyFlags.OP_DEC};
        for (int i = 0; i < 20_000; i++) {
            int op = ops[rnd.nextInt(ops.length)];
            int size = 1 << rnd.nextInt(3);
            int a = rnd.nextInt(4) == 0 ? LazyFlags.mask(size) : rnd.nextInt();
            int b = op == LazyFlags.OP_INC || op == LazyFlags.OP_DEC ? 1 : rnd.nextInt(4) == 0 ? a : rnd.nextInt();
            int cin = rnd.nextInt(2);
            int r = switch (op) {
                case LazyFlags.OP_ADD -> a + b;
                case LazyFlags.OP_ADC -> a + b + cin;
                case LazyFlags.OP_SUB -> a - b;
                case LazyFlags.OP_SBB -> a - b - cin;
                case LazyFlags.OP_LOGIC -> a ^ b;
                case LazyFlags.OP_INC -> a + 1;
                default -> a - 1;
            };
            f.setWithCarry(op, size, a, b, r, cin);
            int all = f.get();
            String what = "op " + op + " size " + size + " a " + a + " b " + b + " cin " + cin;
            assertEquals((all & Eflags.CF) != 0, f.cf(), what);
            for (int cc = 0; cc < 16; cc++) {
                assertEquals(LazyFlags.condition(cc, all), f.condition(cc), what + " cc " + cc);
            }
        }
    }

    @Test
    void lazyFlagsMatchEagerComputation() {
        LazyFlags f = new LazyFlags();
        f.set(LazyFlags.OP_ADD, 1, 0xFF, 0x01, 0x100);
        assertEquals(Eflags.CF | Eflags.ZF | Eflags.AF | Eflags.PF, f.get());
        f.set(LazyFlags.OP_SUB, 4, 1, 2, -1);
        assertTrue(f.cf());
        assertTrue(f.condition(0xC), "1 < 2 signed");
        assertTrue(f.condition(2), "1 < 2 unsigned");
        assertEquals(Eflags.CF | Eflags.SF | Eflags.AF | Eflags.PF, f.get());
        f.set(LazyFlags.OP_SUB, 1, 0x80, 0x01, 0x7F);
        assertTrue(f.of(), "-128 - 1 overflows");
        assertTrue(f.condition(0xC), "-128 < 1: SF = 0 and OF = 1, so L (SF != OF) holds");
        assertEquals(f.condition(0xC), LazyFlags.condition(0xC, f.get()), "fast path agrees");
        f.setWithCarry(LazyFlags.OP_INC, 2, 0x7FFF, 1, 0x8000, 1);
        assertEquals(Eflags.CF | Eflags.OF | Eflags.SF | Eflags.AF | Eflags.PF, f.get());
        f.set(LazyFlags.OP_SHL, 4, 0x8000_0001, 1, 2);
        assertEquals(Eflags.CF | Eflags.OF, f.get());
        f.set(LazyFlags.OP_SAR, 4, 0x8000_0000, 4, 0xF800_0000);
        assertEquals(Eflags.SF | Eflags.PF, f.get());
        f.setAll(Eflags.ZF);
        assertTrue(f.zf());
        assertTrue(f.condition(6), "BE with ZF");
    }

    @Test
    void incAndDecKeepTheCarryTheyFind() {
        LazyFlags f = new LazyFlags();
        f.set(LazyFlags.OP_ADD, 4, -1, 1, 0); // CF = 1
        f.setIncDec(LazyFlags.OP_DEC, 4, 5, 4);
        assertTrue(f.cf(), "DEC after a carrying ADD keeps CF = 1");
        f.setIncDec(LazyFlags.OP_INC, 1, 0xFF, 0x100);
        assertTrue(f.cf(), "and so does a chained INC, even one that wraps");
        assertTrue(f.zf());
        assertEquals(Eflags.CF | Eflags.ZF | Eflags.AF | Eflags.PF, f.get());
        f.set(LazyFlags.OP_LOGIC, 4, 1, 1, 1); // CF = 0
        f.setIncDec(LazyFlags.OP_DEC, 4, 0, -1);
        assertFalse(f.cf(), "DEC after a logic operation keeps CF = 0");
        f.setAll(Eflags.CF);
        f.setIncDec(LazyFlags.OP_INC, 2, 0x7FFF, 0x8000);
        assertEquals(Eflags.CF | Eflags.OF | Eflags.SF | Eflags.AF | Eflags.PF, f.get());
    }

    @Test
    void exceptionTableDrivesDoubleFaults() {
        assertEquals(ExceptionVectors.Outcome.DOUBLE_FAULT, ExceptionVectors.combine(ExceptionVectors.GP, ExceptionVectors.NP));
        assertEquals(ExceptionVectors.Outcome.DOUBLE_FAULT, ExceptionVectors.combine(ExceptionVectors.PF, ExceptionVectors.PF));
        assertEquals(ExceptionVectors.Outcome.SERIAL, ExceptionVectors.combine(ExceptionVectors.GP, ExceptionVectors.PF));
        assertEquals(ExceptionVectors.Outcome.SERIAL, ExceptionVectors.combine(ExceptionVectors.UD, ExceptionVectors.GP));
        assertEquals(ExceptionVectors.Outcome.SERIAL, ExceptionVectors.combine(0x20, ExceptionVectors.GP));
        assertEquals(ExceptionVectors.Outcome.TRIPLE_FAULT, ExceptionVectors.combine(ExceptionVectors.DF, ExceptionVectors.UD));
        assertTrue(ExceptionVectors.hasErrorCode(ExceptionVectors.GP));
        assertFalse(ExceptionVectors.hasErrorCode(ExceptionVectors.UD));
        assertEquals(ExceptionVectors.Kind.TRAP, ExceptionVectors.info(ExceptionVectors.BP).kind());
        assertEquals("#PF(2) at 00001000", X86Exception.pageFault(0x1000, 2).getMessage());
    }

    @Test
    void descriptorParsingAndLoadRules() {
        // Flat 4 GiB ring-0 code: base 0, limit 0xFFFFF pages, access 0x9A, flags 0xC.
        int lo = 0x0000_FFFF;
        int hi = 0x00CF_9A00;
        SegmentRegister s = Descriptors.toSegment(0x08, lo, hi);
        assertEquals(0, s.base());
        assertEquals(-1, s.limit());
        assertEquals(0xC09A, s.attributes());
        assertTrue(Descriptors.isCode(s.attributes()));
        assertEquals(0x1234_5678L, Descriptors.base(0x5678_0000, 0x1200_0034));
        int data3 = 0xC0F2; // ring-3 writable data
        Descriptors.checkDataSegmentLoad(0x33, data3, 3);
        X86Exception e = assertThrows(X86Exception.class, () -> Descriptors.checkStackSegmentLoad(0x33, data3, 0));
        assertEquals(ExceptionVectors.GP, e.vector());
        assertEquals(0x30, e.errorCode());
        e = assertThrows(X86Exception.class, () -> Descriptors.checkDataSegmentLoad(0x10, 0xC012, 0));
        assertEquals(ExceptionVectors.NP, e.vector(), "not present");
        e = assertThrows(X86Exception.class, () -> Descriptors.checkDataSegmentLoad(0x08, 0xC098, 0));
        assertEquals(ExceptionVectors.GP, e.vector(), "execute-only code is not readable");
        assertThrows(X86Exception.class, () -> Descriptors.checkStackSegmentLoad(0, 0, 0));
    }
}
