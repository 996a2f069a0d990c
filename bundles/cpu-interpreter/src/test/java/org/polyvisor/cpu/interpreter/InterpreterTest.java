package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.x86.Eflags;

/** Instruction-by-instruction checks of registers and flags, in real mode and flat 32-bit mode. */
class InterpreterTest {

    private static final int CODE = 0x10000;
    private static final int ARITH = Eflags.ARITH;

    private static TestMachine flat(int... code) {
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        m.memory.load(CODE, code);
        return m;
    }

    private static void expect(TestMachine m, long eax, int flags) {
        assertInstanceOf(Exit.BudgetSpent.class, m.step());
        assertEquals(eax, m.reg(CpuState.RAX), String.format("eax at %08x", m.eip()));
        assertEquals(flags, m.flags() & ARITH, String.format("flags at %08x: %s", m.eip(), flagNames(m.flags())));
    }

    private static String flagNames(int f) {
        StringBuilder sb = new StringBuilder();
        String[] n = {"CF", "", "PF", "", "AF", "", "ZF", "SF", "", "", "", "OF"};
        for (int i = 0; i < n.length; i++) {
            if ((f & (1 << i)) != 0 && !n[i].isEmpty()) {
                sb.append(n[i]).append(' ');
            }
        }
        return sb.toString();
    }

    private static final int CF = Eflags.CF;
    private static final int PF = Eflags.PF;
    private static final int AF = Eflags.AF;
    private static final int ZF = Eflags.ZF;
    private static final int SF = Eflags.SF;
    private static final int OF = Eflags.OF;

    @Test
    void addSubAdcSbbIncDecNeg() {
        TestMachine m = flat(
                0xB8, 0xFF, 0xFF, 0xFF, 0x7F,   // mov eax, 0x7fffffff
                0x05, 0x01, 0x00, 0x00, 0x00,   // add eax, 1
                0x2D, 0x01, 0x00, 0x00, 0x00,   // sub eax, 1
                0x31, 0xC0,                     // xor eax, eax
                0x48,                           // dec eax
                0xF9,                           // stc
                0x40,                           // inc eax
                0x83, 0xD0, 0x05,               // adc eax, 5
                0x83, 0xD8, 0x07,               // sbb eax, 7
                0xF7, 0xD8,                     // neg eax
                0x3C, 0x02,                     // cmp al, 2
                0x24, 0x00);                    // and al, 0
        assertInstanceOf(Exit.BudgetSpent.class, m.step());
        expect(m, 0x8000_0000L, OF | SF | AF | PF);
        expect(m, 0x7FFF_FFFFL, OF | AF | PF);
        expect(m, 0, ZF | PF);
        expect(m, 0xFFFF_FFFFL, SF | AF | PF);
        expect(m, 0xFFFF_FFFFL, SF | AF | PF | CF);
        expect(m, 0, ZF | AF | PF | CF);
        expect(m, 6, PF);
        expect(m, 0xFFFF_FFFFL, CF | SF | AF | PF);
        expect(m, 1, CF | AF);
        expect(m, 1, CF | SF | AF | PF);
        expect(m, 0, ZF | PF);
    }

    @Test
    void shiftsAndRotates() {
        TestMachine m = flat(
                0xB8, 0x01, 0x00, 0x00, 0x80,   // mov eax, 0x80000001
                0xD1, 0xE0,                     // shl eax, 1      -> 2, CF, OF
                0xD1, 0xE8,                     // shr eax, 1      -> 1
                0xC1, 0xC8, 0x01,               // ror eax, 1      -> 0x80000000 CF OF
                0xC1, 0xF8, 0x04,               // sar eax, 4      -> 0xF8000000
                0xD1, 0xD0,                     // rcl eax, 1      -> 0xF0000000 CF=1
                0xD1, 0xD8,                     // rcr eax, 1      -> 0xF8000000 CF=0
                0xB1, 0x08,                     // mov cl, 8
                0xD3, 0xC0);                    // rol eax, cl     -> 0x000000F8
        assertInstanceOf(Exit.BudgetSpent.class, m.step());
        expect(m, 2, CF | OF);
        expect(m, 1, 0);
        expect(m, 0x8000_0000L, CF | OF);
        expect(m, 0xF800_0000L, SF | PF);
        expect(m, 0xF000_0000L, SF | PF | CF);
        expect(m, 0xF800_0000L, SF | PF);
        m.step();
        expect(m, 0xF8, SF | PF);
    }

    @Test
    void multiplyDivide() {
        TestMachine m = flat(
                0xB8, 0x78, 0x56, 0x34, 0x12,   // mov eax, 0x12345678
                0xB9, 0x10, 0x00, 0x00, 0x00,   // mov ecx, 0x10
                0xF7, 0xE1,                     // mul ecx
                0xF7, 0xF1,                     // div ecx
                0xBA, 0xFF, 0xFF, 0xFF, 0xFF,   // mov edx, -1
                0xB8, 0xF9, 0xFF, 0xFF, 0xFF,   // mov eax, -7
                0xB9, 0x02, 0x00, 0x00, 0x00,   // mov ecx, 2
                0xF7, 0xF9,                     // idiv ecx -> -3 rem -1
                0x6B, 0xC0, 0xFD);              // imul eax, eax, -3 -> 9
        m.run(2);
        m.step();
        assertEquals(0x2345_6780L, m.reg(CpuState.RAX));
        assertEquals(1, m.reg(CpuState.RDX));
        assertEquals(CF | OF, m.flags() & (CF | OF));
        m.step();
        assertEquals(0x1234_5678L, m.reg(CpuState.RAX));
        assertEquals(0, m.reg(CpuState.RDX));
        m.run(4);
        assertEquals(0xFFFF_FFFDL, m.reg(CpuState.RAX));
        assertEquals(0xFFFF_FFFFL, m.reg(CpuState.RDX));
        m.step();
        assertEquals(9, m.reg(CpuState.RAX));
        assertEquals(0, m.flags() & (CF | OF));
    }

    @Test
    void bitOpsAndConditionals() {
        TestMachine m = flat(
                0xB8, 0x00, 0x10, 0x00, 0x00,   // mov eax, 0x1000
                0x0F, 0xBC, 0xC8,               // bsf ecx, eax -> 12
                0x0F, 0xBA, 0xE8, 0x03,         // bts eax, 3 -> 0x1008, CF=0
                0x0F, 0xA3, 0xC8,               // bt eax, ecx -> CF=1
                0x0F, 0x92, 0xC3,               // setb bl
                0x0F, 0x42, 0xD1,               // cmovb edx, ecx
                0x0F, 0xC8);                    // bswap eax
        m.run(2);
        assertEquals(12, m.reg(CpuState.RCX));
        m.step();
        assertEquals(0x1008, m.reg(CpuState.RAX));
        assertEquals(0, m.flags() & CF);
        m.run(3);
        assertEquals(1, m.reg(CpuState.RBX) & 0xFF);
        assertEquals(12, m.reg(CpuState.RDX));
        m.step();
        assertEquals(0x0810_0000L, m.reg(CpuState.RAX));
    }

    @Test
    void stackCallRetEnterLeave() {
        TestMachine m = flat(
                0x68, 0x44, 0x33, 0x22, 0x11,   // push 0x11223344
                0xE8, 0x03, 0x00, 0x00, 0x00,   // call +3
                0x58,                           // pop eax   (after return)
                0xF4,                           // hlt
                0x90,                           //
                0xC8, 0x08, 0x00, 0x00,         // enter 8, 0   (the callee)
                0x60,                           // pusha
                0x61,                           // popa
                0xC9,                           // leave
                0xC3);                          // ret
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(0x1122_3344L, m.reg(CpuState.RAX));
        assertEquals(0x9000, m.reg(CpuState.RSP));
        assertEquals(CODE + 12, m.eip());
    }

    @Test
    void stringOperations() {
        TestMachine m = flat(
                0xBE, 0x00, 0x00, 0x02, 0x00,   // mov esi, 0x20000
                0xBF, 0x00, 0x10, 0x02, 0x00,   // mov edi, 0x21000
                0xB9, 0x05, 0x00, 0x00, 0x00,   // mov ecx, 5
                0xFC,                           // cld
                0xF3, 0xA4,                     // rep movsb
                0xBF, 0x00, 0x10, 0x02, 0x00,   // mov edi, 0x21000
                0xB0, 0x6C,                     // mov al, 'l'
                0xB9, 0x05, 0x00, 0x00, 0x00,   // mov ecx, 5
                0xF2, 0xAE,                     // repne scasb
                0xF4);                          // hlt
        m.memory.load(0x20000, 'h', 'e', 'l', 'l', 'o');
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals('o', m.memory.readByte(0x21004));
        assertEquals(0x21003, m.reg(CpuState.RDI), "one past the first 'l'");
        assertEquals(2, m.reg(CpuState.RCX));
        assertEquals(ZF, m.flags() & ZF);
    }

    @Test
    void resetVectorAndFarJump() {
        byte[] rom = new byte[65536];
        // At 0xFFF0: jmp 0xF000:0xE05B; at 0xE05B: mov ax, cs; hlt
        int[] reset = {0xEA, 0x5B, 0xE0, 0x00, 0xF0};
        for (int i = 0; i < reset.length; i++) {
            rom[0xFFF0 + i] = (byte) reset[i];
        }
        int[] target = {0x8C, 0xC8, 0xF4};
        for (int i = 0; i < target.length; i++) {
            rom[0xE05B + i] = (byte) target[i];
        }
        TestMemory mem = new TestMemory(1 << 20);
        mem.addRom(rom, 0xFFFF_0000L);
        TestMachine machine = new TestMachine(mem);
        CpuState s = machine.state();
        assertEquals(0xFFFF_0000L, s.segment(CpuState.CS).base());
        assertEquals(0xFFF0, s.rip());
        assertEquals(0x633, s.gpr(CpuState.RDX));
        machine.step();
        s = machine.state();
        assertEquals(0xF0000L, s.segment(CpuState.CS).base(), "the far jump reloads the CS base");
        assertEquals(0xE05B, s.rip());
        assertEquals(0, mem.readByte(0xFE05B), "RAM, not the ROM, at F0000 in this machine");
    }

    @Test
    void realModeIntAndIret() {
        TestMachine m = new TestMachine();
        m.real(0, 0x7C00);
        m.memory.writeWord(0x21 * 4, 0x0000);     // IVT[0x21] = 0600:0000
        m.memory.writeWord(0x21 * 4 + 2, 0x0600);
        m.memory.load(0x6000, 0xB8, 0x34, 0x12, 0xCF);  // mov ax, 0x1234; iret
        m.memory.load(0x7C00, 0xFB, 0xCD, 0x21, 0xF4);  // sti; int 0x21; hlt
        m.step();
        m.step();
        CpuState s = m.state();
        assertEquals(0x0600, s.segment(CpuState.CS).selector());
        assertEquals(0, s.rip());
        assertEquals(0x8000 - 6, s.gpr(CpuState.RSP));
        assertEquals(0x7C03, m.memory.readWord(0x8000 - 6), "return IP");
        assertEquals(0, m.memory.readWord(0x8000 - 4), "return CS");
        assertEquals(Eflags.IF, m.memory.readWord(0x8000 - 2) & Eflags.IF, "pushed flags");
        assertEquals(0, s.rflags() & Eflags.IF, "IF cleared");
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(0x1234, m.reg(CpuState.RAX));
        assertEquals(0x7C04, m.eip());
        assertEquals(Eflags.IF, m.flags() & Eflags.IF, "IRET restored IF");
    }

    @Test
    void realModeDivideErrorThroughIvt() {
        TestMachine m = new TestMachine();
        m.real(0, 0x7C00);
        m.memory.writeWord(0, 0x0500);            // IVT[0] = 0000:0500
        m.memory.writeWord(2, 0x0000);
        m.memory.load(0x500, 0xF4);               // hlt
        m.memory.load(0x7C00, 0x31, 0xC9, 0xF7, 0xF1); // xor cx, cx; div cx
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(0x7C02, m.memory.readWord(0x8000 - 6), "a fault pushes the faulting IP");
        assertEquals(0x501, m.eip());
    }

    @Test
    void sixteenBitAddressingInRealMode() {
        TestMachine m = new TestMachine();
        m.real(0x0700, 0);
        // mov bx, 0x100; mov si, 0x20; mov word [bx+si+4], 0xBEEF; mov ax, [bx+si+4]; hlt
        m.memory.load(0x7000, 0xBB, 0x00, 0x01, 0xBE, 0x20, 0x00, 0xC7, 0x40, 0x04, 0xEF, 0xBE,
                0x8B, 0x40, 0x04, 0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(0xBEEF, m.memory.readWord(0x124), "DS = 0 in this state");
        assertEquals(0xBEEF, m.reg(CpuState.RAX));
    }

    @Test
    void mmioAccessesGoToTheBus() {
        TestMachine m = flat(
                0xC7, 0x05, 0x00, 0x00, 0x00, 0xFE, 0x78, 0x56, 0x34, 0x12,  // mov dword [0xFE000000], 0x12345678
                0xA0, 0x42, 0x00, 0x00, 0xFE,   // mov al, [0xFE000042]
                0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals(1, m.mmioWrites.size());
        assertEquals(0xFE00_0000L, m.mmioWrites.get(0)[0]);
        assertEquals(0x1234_5678L, m.mmioWrites.get(0)[2]);
        assertEquals(0x42, m.reg(CpuState.RAX) & 0xFF);
    }

    @Test
    void portIo() {
        TestMachine m = flat(
                0x66, 0xBA, 0xF8, 0x03,         // mov dx, 0x3f8
                0xB0, 0x41,                     // mov al, 'A'
                0xEE,                           // out dx, al
                0xE6, 0x80,                     // out 0x80, al
                0xE4, 0x80,                     // in al, 0x80
                0xF4);
        assertInstanceOf(Exit.Halted.class, m.run(10));
        assertEquals("A", m.uart.toString());
        assertEquals(0x5A, m.reg(CpuState.RAX) & 0xFF);
    }

    @Test
    void selfModifyingCodeIsSeen() {
        TestMachine m = flat(
                0xB8, 0x01, 0x00, 0x00, 0x00,   // L: mov eax, 1
                0xC6, 0x05, 0x01, 0x00, 0x01, 0x00, 0x02, // mov byte [L+1], 2
                0x49,                           // dec ecx
                0x75, 0xF1,                     // jnz L
                0xF4);
        m.set(CpuState.RCX, 2);
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(2, m.reg(CpuState.RAX), "the second pass runs the modified immediate");
    }

    @Test
    void cpuidAndRdtsc() {
        TestMachine m = flat(0x31, 0xC0, 0x0F, 0xA2, 0xF4);
        m.run(10);
        assertEquals(0x756E_6547L, m.reg(CpuState.RBX));
        TestMachine t = flat(0x0F, 0x31, 0xF4);
        t.nanos.set(5000);
        t.run(10);
        assertEquals(5000, t.reg(CpuState.RAX));
        assertEquals(ActivityState.HALTED, t.state().activity());
    }
}
