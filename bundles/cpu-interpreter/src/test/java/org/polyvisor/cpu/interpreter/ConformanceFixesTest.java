package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;

/**
 * Regression tests for the interpreter bugs the conformance evidence found: each case is the
 * smallest form of a failing 80286 vector or host-CPU divergence.
 */
class ConformanceFixesTest {

    /** AAS: AX - 6 borrows from AH before AH - 1 (SDM pseudocode; 80286 vectors 3F #31, #53). */
    @Test
    void aasBorrowsIntoAh() {
        TestMachine m = new TestMachine();
        m.real(0x1000, 0x100);
        m.memory.load(0x10100, 0x3F); // aas
        m.set(CpuState.RAX, 0x1D04);
        m.setFlags(0x2 | 0x10); // AF
        assertInstanceOf(Exit.BudgetSpent.class, m.step());
        assertEquals(0x1B0E, m.reg(CpuState.RAX) & 0xFFFF);
        m.real(0x1000, 0x100);
        m.set(CpuState.RAX, 0x0000);
        m.setFlags(0x2 | 0x10);
        m.step();
        assertEquals(0xFE0A, m.reg(CpuState.RAX) & 0xFFFF);
    }

    /** PUSHA with SP = 8 in real mode wraps each push within the 64 KiB stack (80286 vector 60 #17). */
    @Test
    void pushaWrapsTheSixteenBitStack() {
        TestMachine m = new TestMachine();
        m.real(0x1000, 0x100);
        m.memory.load(0x10100, 0x60); // pusha
        m.set(CpuState.RSP, 8);
        m.set(CpuState.RAX, 0x1111);
        m.set(CpuState.RDI, 0x7777);
        assertInstanceOf(Exit.BudgetSpent.class, m.step());
        assertEquals(0x101, m.eip(), "no fault");
        assertEquals(0xFFF8, m.reg(CpuState.RSP));
        assertEquals(0x1111, m.memory.readWord(6)); // AX first, at SP - 2 = 6 (SS = 0)
        assertEquals(0x7777, m.memory.readWord(0xFFF8)); // DI last, after the wrap
    }

    /** A far CALL with SP = 2 stores CS at 0 and IP at FFFEh rather than faulting. */
    @Test
    void farCallWrapsTheSixteenBitStack() {
        TestMachine m = new TestMachine();
        m.real(0x1000, 0x100);
        m.memory.load(0x10100, 0x9A, 0x34, 0x12, 0x00, 0x20); // call 2000:1234
        m.set(CpuState.RSP, 2);
        assertInstanceOf(Exit.BudgetSpent.class, m.step());
        assertEquals(0x1234, m.eip());
        assertEquals(0xFFFE, m.reg(CpuState.RSP));
        assertEquals(0x1000, m.memory.readWord(0));
        assertEquals(0x0105, m.memory.readWord(0xFFFE));
    }

    /** XADD r, r with the same register keeps the sum (SRC <- DEST first, then DEST <- sum). */
    @Test
    void xaddSameRegisterKeepsTheSum() {
        TestMachine m = new TestMachine();
        m.flat32(0x10000);
        m.memory.load(0x10000, 0x0F, 0xC1, 0xC9); // xadd ecx, ecx
        m.set(CpuState.RCX, 9);
        assertInstanceOf(Exit.BudgetSpent.class, m.step());
        assertEquals(18, m.reg(CpuState.RCX));
    }
}
