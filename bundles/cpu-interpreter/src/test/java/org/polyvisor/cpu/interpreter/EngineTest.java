package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.interpreter.internal.InterpreterStrategy;

/** Engine behaviour: interrupt shadow, external interrupts, HLT, exit requests, state round trips. */
class EngineTest {

    private static final int CODE = 0x10000;
    private static final int HANDLER = 0x20000;

    private static TestMachine flat(int... code) {
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        m.memory.load(CODE, code);
        m.gate(0x20, TestMachine.CODE32, HANDLER, 0xE, 0);
        return m;
    }

    @Test
    void stiShadowsOneInstruction() {
        TestMachine m = flat(0xFB, 0x90, 0x90, 0x90); // sti; nop; nop
        m.memory.load(HANDLER, 0xF4);
        m.pendingVector = 0x20;
        m.step();
        assertEquals(CODE + 1, m.eip());
        assertEquals(CpuState.SHADOW_STI, m.state().interruptShadow());
        m.step();
        assertEquals(CODE + 2, m.eip(), "the instruction after STI runs first");
        assertEquals(0, m.acknowledged);
        m.step();
        assertEquals(HANDLER, m.eip(), "then the interrupt is taken");
        assertEquals(1, m.acknowledged);
        assertEquals(CODE + 2, m.memory.readDword(0x9000 - 12));
    }

    @Test
    void movSsShadowsOneInstruction() {
        TestMachine m = flat(0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD0, 0x90, 0x90); // mov ax,0x10; mov ss,ax; nop; nop
        m.memory.load(HANDLER, 0xF4);
        m.setFlags(0x202);
        m.step();
        m.pendingVector = 0x20;
        assertEquals(HANDLER, (m.step() != null ? m.eip() : 0), "interrupt taken before MOV SS");
        // again with the interrupt raised right after the MOV SS
        assertInterruptWaitsOneInstruction(flat(0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD0, 0x90, 0x90), CODE + 7);
    }

    /**
     * Runs two instructions (the second loads SS), raises an interrupt, and checks that one more
     * instruction runs (ending at {@code after}) before the interrupt is taken.
     */
    private static void assertInterruptWaitsOneInstruction(TestMachine n, int after) {
        n.memory.load(HANDLER, 0xF4);
        n.setFlags(0x202);
        n.run(2);
        n.pendingVector = 0x20;
        n.step();
        assertEquals(after, n.eip(), "the instruction after the SS load runs first");
        n.step();
        assertEquals(HANDLER, n.eip());
    }

    @Test
    void popSsShadowsOneInstructionAndLssDoesNot() {
        assertInterruptWaitsOneInstruction(flat(0x16, 0x17, 0x90, 0x90), CODE + 3); // push ss; pop ss; nop; nop
        // lss esp, [0x500] with the far pointer 0x10:0x8800 there: no shadow
        TestMachine l = flat(0x0F, 0xB2, 0x25, 0x00, 0x05, 0x00, 0x00, 0x90);
        l.memory.writeDword(0x500, 0x8800);
        l.memory.writeWord(0x504, TestMachine.DATA32);
        l.memory.load(HANDLER, 0xF4);
        l.setFlags(0x202);
        l.step();
        assertEquals(0x8800, l.reg(CpuState.RSP));
        assertEquals(0, l.state().interruptShadow(), "LSS loads SS:ESP at once and inhibits nothing");
        l.pendingVector = 0x20;
        l.step();
        assertEquals(HANDLER, l.eip());
    }

    @Test
    void singleStepTrapWaitsForTheInstructionAfterMovSs() {
        TestMachine m = flat(0x8E, 0xD0, 0x90, 0x90); // mov ss, ax; nop; nop
        m.gate(1, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.load(HANDLER, 0xF4);
        m.set(CpuState.RAX, TestMachine.DATA32);
        m.setFlags(0x102); // TF
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(HANDLER + 1, m.eip());
        assertEquals(CODE + 3, m.memory.readDword(0x9000 - 12), "one #DB, after the NOP that followed MOV SS");
        assertEquals(0x4000, m.state().dr()[6] & 0x4000, "DR6.BS");
    }

    @Test
    void hltWakesOnInterrupt() {
        TestMachine m = flat(0xFB, 0xF4, 0x90, 0xF4); // sti; hlt; nop; hlt
        m.memory.load(HANDLER, 0xB8, 0x77, 0x00, 0x00, 0x00, 0xCF); // mov eax, 0x77; iret
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(ActivityState.HALTED, m.state().activity());
        assertEquals(CODE + 2, m.eip());
        assertInstanceOf(Exit.Halted.class, m.run(100), "still halted without an interrupt");
        m.pendingVector = 0x20;
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(0x77, m.reg(CpuState.RAX));
        assertEquals(CODE + 4, m.eip(), "returned after the first HLT, ran NOP and the second HLT");
    }

    @Test
    void haltedWithInterruptsDisabledStaysHalted() {
        TestMachine m = flat(0xFA, 0xF4); // cli; hlt
        m.run(10);
        m.pendingVector = 0x20;
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(0, m.acknowledged);
    }

    @Test
    void budgetIsRespected() {
        TestMachine m = flat(0xEB, 0xFE); // jmp $
        assertInstanceOf(Exit.BudgetSpent.class, m.run(1000));
        assertEquals(1000, m.engine.instructionsRetired());
    }

    @Test
    void requestExitFromAnotherThread() throws Exception {
        TestMachine m = flat(0xEB, 0xFE); // jmp $
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            m.engine.requestExit();
        });
        t.start();
        Exit e = m.run(Long.MAX_VALUE);
        t.join();
        assertInstanceOf(Exit.Requested.class, e);
        assertTrue(m.engine.instructionsRetired() > 0);
        m.engine.requestExit();
        assertInstanceOf(Exit.Requested.class, m.run(10), "a request before run returns at once");
        assertInstanceOf(Exit.BudgetSpent.class, m.run(10));
    }

    private static final int[] PROGRAM = {
        0xB9, 0x00, 0x01, 0x00, 0x00,       // mov ecx, 256
        0x31, 0xC0,                         // xor eax, eax
        0x01, 0xC8,                         // L: add eax, ecx
        0xC1, 0xC0, 0x03,                   // rol eax, 3
        0x89, 0x04, 0x8D, 0x00, 0x00, 0x03, 0x00, // mov [ecx*4+0x30000], eax
        0x50,                               // push eax
        0x5B,                               // pop ebx
        0x0F, 0xAF, 0xD9,                   // imul ebx, ecx
        0x11, 0xDA,                         // adc edx, ebx
        0xE2, 0xEB,                         // loop L
        0xF4,
    };

    @Test
    void exportImportRoundTrip() {
        TestMachine a = flat(PROGRAM);
        Exit ea = a.run(100_000);
        assertInstanceOf(Exit.Halted.class, ea);
        CpuState expected = a.state();

        TestMachine b = flat(PROGRAM);
        b.run(333);
        CpuState middle = b.state();
        TestMachine c = new TestMachine(b.memory);
        c.engine.importState(middle);
        assertEquals(middle, c.state(), "import then export is the identity");
        assertInstanceOf(Exit.Halted.class, c.run(100_000));
        CpuState resumed = c.state();
        assertEquals(expected.toBuilder().tsc(0).build(), resumed.toBuilder().tsc(0).build());
    }

    @Test
    void newEngineStartsAtPowerOn() {
        TestMachine m = new TestMachine();
        CpuState s = m.state();
        CpuState p = CpuState.powerOn(0x633);
        assertEquals(p.toBuilder().tsc(0).build(), s.toBuilder().tsc(0).msrs(java.util.Map.of()).build());
        CpuEngine e = new InterpreterStrategy().createEngine(m);
        assertEquals(0xFFF0, e.exportState().rip());
        assertEquals("interpreter", new InterpreterStrategy().name());
        assertTrue(new InterpreterStrategy().availability().available());
    }
}
