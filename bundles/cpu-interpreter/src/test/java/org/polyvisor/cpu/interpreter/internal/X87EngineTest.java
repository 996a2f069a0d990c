package org.polyvisor.cpu.interpreter.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.FpuState;
import org.polyvisor.cpu.interpreter.TestMachine;

/** The x87 through the engine: CR0 semantics, #MF, save formats, CPUID, state export/import. */
class X87EngineTest {

    static final int CODE = 0x10000;
    static final int DATA = 0x20000;
    static final int HANDLER = 0x18000;
    static final int CR0_MP = 2;
    static final int CR0_EM = 4;
    static final int CR0_TS = 8;
    static final int CR0_NE = 0x20;

    /** Flat 32-bit machine with code at CODE, a HLT handler for every vector at HANDLER + 16·vector. */
    private static TestMachine machine(int cr0Extra, int... code) {
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        for (int i = 0; i < code.length; i++) {
            m.memory.writeByte(CODE + i, code[i]);
        }
        for (int v = 0; v < 32; v++) {
            m.gate(v, TestMachine.CODE32, HANDLER + 16 * v, 0xE, 0);
            m.memory.writeByte(HANDLER + 16L * v, 0xF4);
        }
        CpuState s = m.state();
        m.engine.importState(s.toBuilder().cr0(s.cr0() | cr0Extra).gpr(CpuState.RBX, DATA).build());
        return m;
    }

    /** Runs to HLT; returns the vector whose handler halted, or -1 for the program's own HLT. */
    private static int runToHalt(TestMachine m) {
        assertInstanceOf(Exit.Halted.class, m.run(10_000));
        long eip = m.eip() - 1;
        return eip >= HANDLER && eip < HANDLER + 16 * 32 ? (int) (eip - HANDLER) / 16 : -1;
    }

    @Test
    void linuxFpuProbeAndCpuid() {
        TestMachine m = machine(0,
                0xDB, 0xE3,                   // fninit
                0x66, 0xB8, 0x5A, 0xA5,       // mov ax, 0xA55A
                0xDF, 0xE0,                   // fnstsw ax
                0xD9, 0x3B,                   // fnstcw [ebx]
                0x89, 0xC6,                   // mov esi, eax
                0xB8, 1, 0, 0, 0,             // mov eax, 1
                0x0F, 0xA2,                   // cpuid
                0xF4);
        assertEquals(-1, runToHalt(m));
        assertEquals(0, m.reg(CpuState.RSI) & 0xFFFF, "FNSTSW after FNINIT reads 0 (Linux's FPU probe)");
        assertEquals(0x037F, m.memory.readWord(DATA));
        long edx = m.reg(CpuState.RDX);
        assertEquals(1, edx & 1, "CPUID.1:EDX.FPU");
        assertEquals(1, edx >> 24 & 1, "CPUID.1:EDX.FXSR");
    }

    @Test
    void deviceNotAvailable() {
        assertEquals(7, runToHalt(machine(CR0_TS, 0xD9, 0xE8, 0xF4)), "TS: escape raises #NM");
        assertEquals(7, runToHalt(machine(CR0_EM, 0xD9, 0xE8, 0xF4)), "EM: escape raises #NM");
        assertEquals(7, runToHalt(machine(CR0_MP | CR0_TS, 0x9B, 0xF4)), "MP+TS: WAIT raises #NM");
        assertEquals(-1, runToHalt(machine(CR0_TS, 0x9B, 0xF4)), "TS alone: WAIT runs");
        assertEquals(7, runToHalt(machine(CR0_TS, 0x0F, 0xAE, 0x03, 0xF4)), "TS: FXSAVE raises #NM");
    }

    @Test
    void unmaskedExceptionIsReportedAtTheNextWaitingInstruction() {
        TestMachine m = machine(CR0_NE,
                0x66, 0xC7, 0x03, 0x7B, 0x03, // mov word [ebx], 0x037B (ZE unmasked)
                0xD9, 0x2B,                   // fldcw [ebx]
                0xD9, 0xE8,                   // fld1
                0xD9, 0xEE,                   // fldz
                0xDE, 0xF9,                   // fdivp st(1), st  (1 / 0)
                0xDD, 0x7B, 0x04,             // fnstsw [ebx+4] (no wait: no #MF)
                0x9B,                         // fwait -> #MF
                0xF4);
        assertEquals(16, runToHalt(m));
        int sw = m.memory.readWord(DATA + 4);
        assertEquals(Float80.ZE | X87.ES | X87.B, sw & (0xFF | X87.B));
        assertEquals(6, sw >> 11 & 7, "the aborted FDIVP did not pop");
        int returnEip = m.memory.readDword(0x9000 - 12);
        assertEquals(CODE + 16, returnEip, "#MF is a fault on the waiting instruction");
    }

    @Test
    void maskedResponsesThroughTheEngine() {
        TestMachine m = machine(0,
                0xD9, 0xE8,                   // fld1
                0xD9, 0xEE,                   // fldz
                0xDE, 0xF9,                   // fdivp: +inf, ZE
                0xDD, 0x1B,                   // fstp qword [ebx]
                0xD9, 0xF7,                   // fincstp (stack empty again? no: fstp emptied it)
                0xDD, 0x03,                   // fld qword [ebx]
                0xDF, 0xE0,                   // fnstsw ax
                0xF4);
        assertEquals(-1, runToHalt(m));
        assertEquals(0x7FF0_0000_0000_0000L, m.memory.readDword(DATA) & 0xFFFF_FFFFL
                | (long) m.memory.readDword(DATA + 4) << 32);
        assertEquals(Float80.ZE, m.reg(CpuState.RAX) & 0x3F);
    }

    @Test
    void fsaveAndFrstorRoundTrip() {
        TestMachine m = machine(0,
                0xD9, 0xEB,                   // fldpi
                0xD9, 0xE8,                   // fld1
                0xD9, 0xEA,                   // fldl2e
                0xDD, 0x33,                   // fnsave [ebx]
                0xDD, 0x23,                   // frstor [ebx]
                0xF4);
        m.run(3);
        FpuState before = m.state().fpu();
        assertEquals(-1, runToHalt(m));
        FpuState after = m.state().fpu();
        assertEquals(before.fsw(), after.fsw());
        assertEquals(before.ftw(), after.ftw());
        assertEquals(before.fcw(), after.fcw());
        assertEquals(java.util.Arrays.toString(before.st()), java.util.Arrays.toString(after.st()));
        assertEquals(0xFFFF_0000 | 0x037F, m.memory.readDword(DATA), "32-bit protected-mode image");
        assertEquals(0x4000, m.memory.readWord(DATA + 28 + 8 + 20), "ST(2) = π exponent");
    }

    @Test
    void fxsaveFxrstorRoundTripAndAlignment() {
        TestMachine m = machine(0,
                0xD9, 0xEB,                   // fldpi
                0xD9, 0xEE,                   // fldz
                0x0F, 0xAE, 0x03,             // fxsave [ebx]
                0xDB, 0xE3,                   // fninit
                0x0F, 0xAE, 0x0B,             // fxrstor [ebx]
                0x0F, 0xAE, 0x43, 0x08,       // fxsave [ebx+8]: misaligned -> #GP
                0xF4);
        m.run(2);
        FpuState before = m.state().fpu();
        assertEquals(13, runToHalt(m));
        FpuState after = m.state().fpu();
        assertEquals(before.fsw(), after.fsw());
        assertEquals(before.ftw(), after.ftw());
        assertEquals(java.util.Arrays.toString(before.st()), java.util.Arrays.toString(after.st()));
        assertEquals(0xC0, m.memory.readByte(DATA + 4), "abridged tag: physical 6 and 7 in use");
    }

    @Test
    void realModeEnvironmentStoresLinearPointers() {
        TestMachine m = new TestMachine();
        m.real(0x1000, 0x100);
        int[] code = {
            0xD9, 0xE8,                       // fld1 at 1000:0100
            0xD9, 0x36, 0x00, 0x05,           // fnstenv [0x500] (16-bit real format)
            0xF4,
        };
        for (int i = 0; i < code.length; i++) {
            m.memory.writeByte(0x10100 + i, code[i]);
        }
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(0x037F, m.memory.readWord(0x500));
        assertEquals(0x0100, m.memory.readWord(0x506), "FIP[15:0] of the linear address 0x10100");
        assertEquals(0x1000 | 0x1E8, m.memory.readWord(0x508), "FIP[19:16] in 15:12, FOP (D9 E8 -> 1E8)");
    }

    @Test
    void exportImportIsLossless() {
        SplittableRandom r = new SplittableRandom(7);
        TestMachine m = new TestMachine();
        for (int n = 0; n < 50; n++) {
            byte[] st = new byte[80];
            for (int i = 0; i < 80; i++) {
                st[i] = (byte) r.nextInt();
            }
            long[] xmm = new long[32];
            for (int i = 0; i < 32; i++) {
                xmm[i] = r.nextLong();
            }
            FpuState f = new FpuState(r.nextInt(0x10000), r.nextInt(0x10000), r.nextInt(0x10000), r.nextInt(0x800),
                    r.nextLong() & 0xFFFF_FFFFL, r.nextInt(0x10000), r.nextLong() & 0xFFFF_FFFFL, r.nextInt(0x10000),
                    st, xmm, r.nextInt());
            CpuState s = m.state().toBuilder().fpu(f).build();
            m.engine.importState(s);
            assertEquals(f, m.state().fpu());
        }
        assertNotEquals(FpuState.initial(), m.state().fpu());
    }
}
