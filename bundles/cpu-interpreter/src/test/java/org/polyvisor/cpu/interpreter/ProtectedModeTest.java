package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.x86.Eflags;

/** Exceptions and interrupts through the IDT, paging, double and triple fault, privilege changes. */
class ProtectedModeTest {

    private static final int CODE = 0x10000;
    private static final int HANDLER = 0x20000;

    private static TestMachine flat(int... code) {
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        m.memory.load(CODE, code);
        return m;
    }

    @Test
    void generalProtectionWithSelectorErrorCode() {
        TestMachine m = flat(0x66, 0xB8, 0x43, 0x00, 0x8E, 0xD8); // mov ax, 0x43; mov ds, ax
        m.gate(13, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.load(HANDLER, 0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        CpuState s = m.state();
        assertEquals(HANDLER + 1, s.rip());
        assertEquals(0x9000 - 16, s.gpr(CpuState.RSP));
        assertEquals(0x40, m.memory.readDword(0x9000 - 16), "error code: the selector without RPL");
        assertEquals(CODE + 4, m.memory.readDword(0x9000 - 12), "EIP of the faulting MOV");
        assertEquals(TestMachine.CODE32, m.memory.readDword(0x9000 - 8));
        assertEquals(0x3F, s.segment(CpuState.DS).selector() | 0x3F, "DS unchanged");
        assertEquals(TestMachine.DATA32, s.segment(CpuState.DS).selector());
    }

    @Test
    void loadingNullIntoSsFaultsAndIntoDsDoesNot() {
        TestMachine m = flat(0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xD0); // xor eax,eax; mov ds,ax; mov ss,ax
        m.gate(13, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.load(HANDLER, 0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(0, m.memory.readDword(0x9000 - 16), "#GP(0)");
        assertEquals(CODE + 4, m.memory.readDword(0x9000 - 12));
        assertTrue(!m.state().segment(CpuState.DS).usable(), "DS loaded with null is unusable");
    }

    @Test
    void undefinedOpcodeThroughTrapGate() {
        TestMachine m = flat(0x0F, 0x0B); // ud2
        m.gate(6, TestMachine.CODE32, HANDLER, 0xF, 0);
        m.memory.load(HANDLER, 0xF4);
        m.setFlags(0x202);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(0x9000 - 12, m.reg(CpuState.RSP), "no error code for #UD");
        assertEquals(CODE, m.memory.readDword(0x9000 - 12));
        assertEquals(Eflags.IF, m.flags() & Eflags.IF, "a trap gate leaves IF set");
    }

    @Test
    void sixteenBitGatePushesWords() {
        TestMachine m = flat(0xCD, 0x40); // int 0x40
        m.gate(0x40, TestMachine.CODE32, HANDLER, 0x6, 0);
        m.memory.load(HANDLER, 0xF4);
        m.run(10);
        assertEquals(0x9000 - 6, m.reg(CpuState.RSP));
        assertEquals((CODE + 2) & 0xFFFF, m.memory.readWord(0x9000 - 6));
    }

    @Test
    void softwareInterruptChecksGateDpl() {
        TestMachine m = flat(0xCD, 0x40); // int 0x40 at CPL 0 is fine; check from ring 3 below
        m.gate(0x40, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.gate(13, TestMachine.CODE32, HANDLER + 0x10, 0xE, 0);
        m.memory.load(HANDLER, 0xF4);
        m.memory.load(HANDLER + 0x10, 0xF4);
        ring3(m);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(HANDLER + 0x11, m.eip(), "#GP handler ran");
        // Inter-privilege delivery: stack switched to SS0:ESP0 from the TSS.
        CpuState s = m.state();
        assertEquals(0x7000 - 24, s.gpr(CpuState.RSP));
        assertEquals(0x40 * 8 + 2, m.memory.readDword(0x7000 - 24), "error code names the IDT gate");
        assertEquals(CODE, m.memory.readDword(0x7000 - 20), "EIP of the INT");
        assertEquals(TestMachine.CODE32_R3, m.memory.readDword(0x7000 - 16));
        assertEquals(TestMachine.DATA32_R3, m.memory.readDword(0x7000 - 4), "old SS");
        assertEquals(0x8000, m.memory.readDword(0x7000 - 8), "old ESP");
        assertEquals(TestMachine.CODE32, s.segment(CpuState.CS).selector());
    }

    @Test
    void iretReturnsToRing3() {
        TestMachine m = flat(0xCD, 0x41, 0xF4);
        m.gate(0x41, TestMachine.CODE32, HANDLER, 0xE, 3);
        m.memory.load(HANDLER, 0xB8, 0x11, 0x00, 0x00, 0x00, 0xCF); // mov eax, 0x11; iret
        m.gate(13, TestMachine.CODE32, HANDLER + 0x10, 0xE, 0);
        m.memory.load(HANDLER + 0x10, 0xF4);
        ring3(m);
        assertInstanceOf(Exit.Halted.class, m.run(10), "HLT at ring 3 is a #GP");
        assertEquals(0x11, m.reg(CpuState.RAX));
        assertEquals(HANDLER + 0x11, m.eip());
        assertEquals(CODE + 2, m.memory.readDword(0x7000 - 20), "#GP at the HLT after the IRET to ring 3");
    }

    private static void ring3(TestMachine m) {
        CpuState s = m.state();
        CpuState.Builder b = s.toBuilder();
        int code = 0xC0FB & 0xF0FF;
        int data = 0xC0F3 & 0xF0FF;
        b.segment(CpuState.CS, new org.polyvisor.cpu.SegmentRegister(TestMachine.CODE32_R3, 0, -1, code));
        for (int seg : new int[] {CpuState.SS, CpuState.DS, CpuState.ES}) {
            b.segment(seg, new org.polyvisor.cpu.SegmentRegister(TestMachine.DATA32_R3, 0, -1, data));
        }
        b.gpr(CpuState.RSP, 0x8000);
        m.engine.importState(b.build());
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "mmu ''{0}''")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"", "shadow", "slat"})
    void pageFaultSetsCr2AndErrorCodeAndWalkSetsAccessedDirty(String mmu) {
        int pd = 0x100000;
        int pt = 0x101000;
        TestMachine m = flat(
                0xB8, 0x00, 0x00, 0x10, 0x00,   // mov eax, 0x100000
                0x0F, 0x22, 0xD8,               // mov cr3, eax
                0x0F, 0x20, 0xC0,               // mov eax, cr0
                0x0D, 0x00, 0x00, 0x00, 0x80,   // or eax, 0x80000000
                0x0F, 0x22, 0xC0,               // mov cr0, eax
                0xC7, 0x05, 0x00, 0x50, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // mov dword [0x5000], 1
                0xA1, 0x10, 0x00, 0x20, 0x00);  // mov eax, [0x200010]
        m.withMmu(mmu);
        m.memory.writeDword(pd, pt | 3);
        for (int i = 0; i < 1024; i++) {
            if (i != 0x200) {
                m.memory.writeDword(pt + i * 4L, (i << 12) | 3);
            }
        }
        m.gate(14, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.load(HANDLER, 0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(20));
        CpuState s = m.state();
        assertEquals(0x200010, s.cr2());
        assertEquals(0, m.memory.readDword(0x9000 - 16), "not present, read, supervisor");
        assertEquals(CODE + 29, m.memory.readDword(0x9000 - 12));
        assertEquals(0x20, m.memory.readDword(pd) & 0x20, "PDE accessed");
        assertEquals(0x60, m.memory.readDword(pt + 5 * 4) & 0x60, "PTE of the written page accessed and dirty");
        assertEquals(0x20, m.memory.readDword(pt + 0x10 * 4) & 0x60, "PTE of the code page accessed only");
    }

    @Test
    void doubleFaultWhenGpHandlerIsNotPresent() {
        TestMachine m = flat(0x66, 0xB8, 0x43, 0x00, 0x8E, 0xD8); // mov ax, 0x43; mov ds, ax
        m.gate(13, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.writeDword(TestMachine.IDT + 13 * 8 + 4, m.memory.readDword(TestMachine.IDT + 13 * 8 + 4) & ~0x8000);
        m.gate(8, TestMachine.CODE32, HANDLER + 0x20, 0xE, 0);
        m.memory.load(HANDLER + 0x20, 0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(HANDLER + 0x21, m.eip());
        assertEquals(0, m.memory.readDword(0x9000 - 16), "#DF pushes error code 0");
        assertEquals(CODE + 4, m.memory.readDword(0x9000 - 12));
    }

    @Test
    void benignThenContributoryIsDeliveredSerially() {
        TestMachine m = flat(0x0F, 0x0B); // ud2 with a not-present #UD gate -> #NP, delivered normally
        m.gate(6, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.writeDword(TestMachine.IDT + 6 * 8 + 4, m.memory.readDword(TestMachine.IDT + 6 * 8 + 4) & ~0x8000);
        m.gate(11, TestMachine.CODE32, HANDLER + 0x30, 0xE, 0);
        m.memory.load(HANDLER + 0x30, 0xF4);
        m.run(10);
        assertEquals(HANDLER + 0x31, m.eip());
        assertEquals(6 * 8 + 2, m.memory.readDword(0x9000 - 16));
    }

    @Test
    void tripleFaultShutsDown() {
        TestMachine m = flat(0x90, 0x0F, 0x0B); // nop; ud2 with an empty IDT
        m.engine.importState(m.state().toBuilder()
                .idtr(new org.polyvisor.cpu.DescriptorTableRegister(TestMachine.IDT, 0)).build());
        Exit e = m.run(10);
        Exit.Shutdown s = assertInstanceOf(Exit.Shutdown.class, e);
        assertEquals(Exit.Shutdown.Cause.TRIPLE_FAULT, s.cause());
        assertEquals("0008:00010001", s.location());
        assertTrue(s.detail().startsWith("#UD"), s.detail());
        assertInstanceOf(Exit.Shutdown.class, m.run(10), "stays shut down");
        assertEquals(org.polyvisor.cpu.ActivityState.SHUTDOWN, m.state().activity());
    }

    @Test
    void segmentLimitViolationIsGpAndStackLimitIsSs() {
        TestMachine m = flat(
                0x66, 0xB8, 0x20, 0x00,         // mov ax, DATA16 (limit 0xFFFF)
                0x8E, 0xC0,                     // mov es, ax
                0x26, 0xA1, 0xFE, 0xFF, 0x00, 0x00); // mov eax, es:[0xFFFE] -> beyond the limit
        m.gate(13, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.load(HANDLER, 0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(0, m.memory.readDword(0x9000 - 16));
        assertEquals(CODE + 6, m.memory.readDword(0x9000 - 12));
    }

    @Test
    void realToProtectedModeSwitch() {
        TestMachine m = new TestMachine();
        m.flat32(0); // builds the GDT
        m.real(0, 0x7C00);
        // lgdt [0x7D00]; mov eax, cr0; or al, 1; mov cr0, eax; jmp 0x08:0x7C20 (66 EA)
        m.memory.load(0x7C00, 0x0F, 0x01, 0x16, 0x00, 0x7D, 0x0F, 0x20, 0xC0, 0x0C, 0x01, 0x0F, 0x22, 0xC0,
                0x66, 0xEA, 0x20, 0x7C, 0x00, 0x00, 0x08, 0x00);
        m.memory.writeWord(0x7D00, 0x3F);
        m.memory.writeDword(0x7D02, TestMachine.GDT);
        // 32-bit: mov eax, 0x12345678; hlt
        m.memory.load(0x7C20, 0xB8, 0x78, 0x56, 0x34, 0x12, 0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(20));
        CpuState s = m.state();
        assertEquals(0x1234_5678L, s.gpr(CpuState.RAX));
        assertEquals(TestMachine.CODE32, s.segment(CpuState.CS).selector());
        assertTrue(s.protectedMode());
    }
}
