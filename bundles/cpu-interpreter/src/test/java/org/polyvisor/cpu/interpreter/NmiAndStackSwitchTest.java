package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.SegmentRegister;

/**
 * NMI delivery and blocking (SDM Vol. 3A 6.7.1, 6.8.3) and the #SS of a call-gate stack switch
 * whose new stack has no room (SDM Vol. 2A, CALL "MORE-PRIVILEGE").
 */
class NmiAndStackSwitchTest {

    private static final int CODE = 0x10000;
    private static final int NMI_HANDLER = 0x20000;

    private static TestMachine flat(int... code) {
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        m.memory.load(CODE, code);
        m.gate(2, TestMachine.CODE32, NMI_HANDLER, 0xE, 0);
        return m;
    }

    @Test
    void nmiHandlerIsNotReenteredBeforeItsIret() {
        // main: cmp ebx, 2; jne main; hlt
        TestMachine m = flat(0x83, 0xFB, 0x02, 0x75, 0xFB, 0xF4);
        // handler: inc esi (depth); cmp esi, edi; jbe 1f; mov edi, esi; 1: mov ecx, 600; 2: loop 2b;
        //          dec esi; inc ebx; iret -- the loop spans several of the engine's NMI checks
        m.memory.load(NMI_HANDLER, 0x46, 0x39, 0xFE, 0x76, 0x02, 0x89, 0xF7, 0xB9, 0x58, 0x02, 0x00, 0x00,
                0xE2, 0xFE, 0x4E, 0x43, 0xCF);
        m.nmis = 2;
        assertInstanceOf(Exit.Halted.class, m.run(10_000));
        assertEquals(2, m.reg(CpuState.RBX), "both NMIs handled");
        assertEquals(1, m.reg(CpuState.RDI), "never nested: the second waited for the IRET");
        assertEquals(CODE + 6, m.eip());
        assertEquals(false, m.state().events().nmiBlocked());
    }

    @Test
    void nmiWakesHltWithInterruptsDisabledAndResumesAfterIt() {
        TestMachine m = flat(0xF4, 0x42, 0xF4); // hlt; inc edx; hlt
        m.memory.load(NMI_HANDLER, 0x43, 0xCF); // inc ebx; iret
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(CODE + 1, m.eip());
        m.nmis = 1;
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(1, m.reg(CpuState.RBX));
        assertEquals(1, m.reg(CpuState.RDX), "the IRET returned past the first HLT");
        assertEquals(CODE + 3, m.eip());
    }

    @Test
    void nmiWaitsOneInstructionAfterMovSs() {
        TestMachine m = flat(0x8C, 0xD0, 0x8E, 0xD0, 0x42, 0x42, 0xF4); // mov eax, ss; mov ss, eax; inc edx; inc edx
        m.memory.load(NMI_HANDLER, 0x43, 0xCF); // inc ebx; iret
        m.run(2);
        m.nmis = 1;
        m.run(1);
        assertEquals(1, m.reg(CpuState.RDX), "the instruction after MOV SS ran first");
        assertEquals(0, m.reg(CpuState.RBX));
        m.run(1);
        assertEquals(1, m.reg(CpuState.RBX), "then the NMI");
        assertEquals(1, m.reg(CpuState.RDX));
    }

    private static final int CODE_R1 = 0x40;
    private static final int STACK_R1 = 0x48;
    private static final int GATE = 0x50;
    private static final int TARGET = 0x30000;
    private static final int SS_HANDLER = 0x20100;

    /**
     * Ring 3 code doing {@code call far GATE:0} through a DPL 3 call gate to ring 1, whose stack
     * (TSS SS1:ESP1) is {@link #STACK_R1} with the given access byte and limit 0xFFF (32-bit).
     */
    private static TestMachine callGateToRing1(int stackAccess, int esp1) {
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        m.memory.load(CODE, 0x9A, 0, 0, 0, 0, GATE | 3, 0); // call far GATE|3:0
        m.descriptor(CODE_R1, 0, 0xFFFFF, 0xBB, 0xC);
        m.descriptor(STACK_R1, 0, 0xFFF, stackAccess, 0x4);
        m.memory.writeDword(TestMachine.GDT + GATE, (TARGET & 0xFFFF) | (CODE_R1 | 1) << 16);
        m.memory.writeDword(TestMachine.GDT + GATE + 4, (TARGET & 0xFFFF_0000) | 0x8000 | 3 << 13 | 0xC << 8);
        m.memory.writeDword(TestMachine.TSS_BASE + 0x0C, esp1);
        m.memory.writeDword(TestMachine.TSS_BASE + 0x10, STACK_R1 | 1);
        m.memory.load(TARGET, 0x42, 0xEB, 0xFE); // inc edx; jmp $
        m.gate(12, TestMachine.CODE32, SS_HANDLER, 0xE, 0);
        m.memory.load(SS_HANDLER, 0xF4);
        CpuState.Builder b = m.state().toBuilder();
        b.segment(CpuState.CS, new SegmentRegister(TestMachine.CODE32_R3, 0, -1, 0xC0FB));
        for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
            b.segment(s, new SegmentRegister(TestMachine.DATA32_R3, 0, -1, 0xC0F3));
        }
        b.gpr(CpuState.RSP, 0x8800).gdtr(new DescriptorTableRegister(TestMachine.GDT, 0xFF));
        m.engine.importState(b.build());
        return m;
    }

    private static void assertStackFault(TestMachine m) {
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(SS_HANDLER + 1, m.eip(), "#SS delivered to ring 0");
        long esp = m.reg(CpuState.RSP);
        assertEquals(0x7000 - 24, esp, "ring 0 stack from TSS ESP0: error code, EIP, CS, EFLAGS, ESP, SS");
        assertEquals(STACK_R1, m.memory.readDword(esp), "error code: the new SS selector");
        assertEquals(CODE, m.memory.readDword(esp + 4), "saved EIP: the far call");
        assertEquals(TestMachine.CODE32_R3, m.memory.readDword(esp + 8) & 0xFFFF);
        assertEquals(0x8800, m.memory.readDword(esp + 16), "the caller's ESP, nothing pushed");
        assertEquals(0, m.reg(CpuState.RDX), "the gate's target never ran");
    }

    @Test
    void callGateToAnInnerStackWithoutRoomRaisesStackFault() {
        assertStackFault(callGateToRing1(0xB3, 8)); // expand-up, 16 bytes needed below ESP 8
        assertStackFault(callGateToRing1(0xB3, 0x100C)); // expand-up, top beyond the limit 0xFFF
        assertStackFault(callGateToRing1(0xB7, 0x1008)); // expand-down: offsets 0x1000 and up only
    }

    @Test
    void callGateToAnInnerStackWithRoomSwitchesStacks() {
        for (int[] c : new int[][] {{0xB3, 0x1000}, {0xB7, 0x2000}}) {
            TestMachine m = callGateToRing1(c[0], c[1]);
            assertInstanceOf(Exit.BudgetSpent.class, m.run(20));
            CpuState s = m.state();
            assertEquals(1, s.gpr(CpuState.RDX));
            assertEquals(CODE_R1 | 1, s.segment(CpuState.CS).selector());
            assertEquals(STACK_R1 | 1, s.segment(CpuState.SS).selector());
            assertEquals(c[1] - 16, s.gpr(CpuState.RSP));
            assertEquals(0x8800, m.memory.readDword(c[1] - 8), "the caller's ESP on the new stack");
        }
    }
}
