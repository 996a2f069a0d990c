package org.polyvisor.x86.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.X86Exception;

class DecoderTest {

    static Instruction decode(boolean mode32, int... bytes) {
        Instruction in = new Instruction();
        Decoder.decode(off -> off < bytes.length ? bytes[off] & 0xFF : 0x90, mode32, in);
        return in;
    }

    private static void check(boolean mode32, String text, int length, int... bytes) {
        Instruction in = decode(mode32, bytes);
        assertEquals(text, in.toString());
        assertEquals(length, in.length(), text);
    }

    @Test
    void aluForms32() {
        check(true, "add byte [eax], cl", 2, 0x00, 0x08);
        check(true, "add eax, ecx", 2, 0x01, 0xC8);
        check(true, "or cl, byte [ebx+0x10]", 3, 0x0A, 0x4B, 0x10);
        check(true, "adc eax, 0x12345678", 5, 0x15, 0x78, 0x56, 0x34, 0x12);
        check(true, "cmp al, 0x5", 2, 0x3C, 0x05);
        check(true, "sub dword [esp+0x4], 0xfffffffe", 5, 0x83, 0x6C, 0x24, 0x04, 0xFE);
        check(true, "xor dword [0x1000], 0x11223344", 10, 0x81, 0x35, 0x00, 0x10, 0, 0, 0x44, 0x33, 0x22, 0x11);
        check(true, "cmp dword [ebx+esi*4+0x100], 0x7", 8, 0x83, 0xBC, 0xB3, 0x00, 0x01, 0, 0, 0x07);
        check(true, "and dword [ebp-0x4], eax", 3, 0x21, 0x45, 0xFC);
    }

    @Test
    void sixteenBitAddressing() {
        check(false, "mov ax, word [bx+si]", 2, 0x8B, 0x00);
        check(false, "mov ax, word [0x1234]", 4, 0x8B, 0x06, 0x34, 0x12);
        check(false, "mov word [bp+di-0x2], cx", 3, 0x89, 0x4B, 0xFE);
        check(false, "add word [bx+0x1234], 0x5678", 6, 0x81, 0x87, 0x34, 0x12, 0x78, 0x56);
        Instruction in = decode(false, 0x8B, 0x46, 0x02);
        assertEquals(2, in.segment(), "bp-based defaults to SS");
        in = decode(false, 0x26, 0x8B, 0x46, 0x02);
        assertEquals(0, in.segment(), "ES override");
        assertEquals(4, in.length());
    }

    @Test
    void sizePrefixes() {
        check(false, "mov eax, 0x12345678", 6, 0x66, 0xB8, 0x78, 0x56, 0x34, 0x12);
        check(true, "mov ax, 0x1234", 4, 0x66, 0xB8, 0x34, 0x12);
        check(true, "mov eax, dword [bx+si]", 3, 0x67, 0x8B, 0x00);
        check(false, "mov ax, word [eax+ecx*2]", 4, 0x67, 0x8B, 0x04, 0x48);
        check(true, "mov eax, dword [0x12345678]", 5, 0xA1, 0x78, 0x56, 0x34, 0x12);
        check(true, "mov al, byte [0x1234]", 4, 0x67, 0xA0, 0x34, 0x12);
        Instruction in = decode(true, 0x66, 0x67, 0x2E, 0xF3, 0xA5);
        assertEquals(Mnemonic.MOVS, in.mnemonic());
        assertEquals(2, in.size(0));
        assertEquals(2, in.addrSize());
        assertEquals(1, in.segment());
        assertEquals(0xF3, in.repPrefix());
        assertEquals(5, in.length());
    }

    @Test
    void sibForms() {
        check(true, "mov eax, dword [esp]", 3, 0x8B, 0x04, 0x24);
        check(true, "mov eax, dword [esp+0x8]", 4, 0x8B, 0x44, 0x24, 0x08);
        check(true, "lea eax, [ebx+ecx*4+0x8]", 4, 0x8D, 0x44, 0x8B, 0x08);
        check(true, "mov eax, dword [ecx*8+0x100]", 7, 0x8B, 0x04, 0xCD, 0x00, 0x01, 0, 0);
        check(true, "mov eax, dword [ebp+0x0]".replace("+0x0", ""), 3, 0x8B, 0x45, 0x00);
        assertEquals(2, decode(true, 0x8B, 0x45, 0x00).segment(), "ebp-based defaults to SS");
        assertEquals(2, decode(true, 0x8B, 0x04, 0x24).segment(), "esp-based defaults to SS");
    }

    @Test
    void controlFlow() {
        check(true, "jmp $-0x2", 2, 0xEB, 0xFE);
        check(true, "jne $+0x10", 2, 0x75, 0x10);
        check(true, "jl $+0x100", 6, 0x0F, 0x8C, 0x00, 0x01, 0, 0);
        check(false, "call $+0x100", 3, 0xE8, 0x00, 0x01);
        check(false, "ljmp 0xf000:0xe05b", 5, 0xEA, 0x5B, 0xE0, 0x00, 0xF0);
        check(false, "ljmp 0x8:0x100000", 8, 0x66, 0xEA, 0x00, 0x00, 0x10, 0x00, 0x08, 0x00);
        check(true, "ret 0x8", 3, 0xC2, 0x08, 0x00);
        check(true, "enter 0x10, 0x1", 4, 0xC8, 0x10, 0x00, 0x01);
        check(true, "call dword [eax]", 2, 0xFF, 0x10);
        check(true, "lcall fword [eax]", 2, 0xFF, 0x18);
        check(true, "loop $-0x5", 2, 0xE2, 0xFB);
    }

    @Test
    void groupsAndTwoByte() {
        check(true, "shl eax, 0x1", 2, 0xD1, 0xE0);
        check(true, "sar dword [eax], 0x3", 3, 0xC1, 0x38, 0x03);
        check(true, "rcr bl, cl", 2, 0xD2, 0xDB);
        check(true, "test dword [eax], 0x10", 6, 0xF7, 0x00, 0x10, 0, 0, 0);
        check(true, "idiv ecx", 2, 0xF7, 0xF9);
        check(true, "movzx eax, byte [ebx]", 3, 0x0F, 0xB6, 0x03);
        check(true, "movsx eax, cx", 3, 0x0F, 0xBF, 0xC1);
        check(true, "imul eax, ecx, 0x10", 3, 0x6B, 0xC1, 0x10);
        check(true, "bts dword [eax], 0x5", 4, 0x0F, 0xBA, 0x28, 0x05);
        check(true, "shld eax, edx, cl", 3, 0x0F, 0xA5, 0xD0);
        check(true, "sete al", 3, 0x0F, 0x94, 0xC0);
        check(true, "cmovne eax, ecx", 3, 0x0F, 0x45, 0xC1);
        check(true, "mov cr0, eax", 3, 0x0F, 0x22, 0xC0);
        check(true, "mov eax, cr3", 3, 0x0F, 0x20, 0xD8);
        check(true, "lgdt fword [0x1000]", 7, 0x0F, 0x01, 0x15, 0x00, 0x10, 0, 0);
        check(true, "bswap ecx", 2, 0x0F, 0xC9);
        check(true, "cmpxchg8b qword [esi]", 3, 0x0F, 0xC7, 0x0E);
        check(true, "mov ds, ax", 2, 0x8E, 0xD8);
        check(true, "push fs", 2, 0x0F, 0xA0);
        check(true, "cpuid", 2, 0x0F, 0xA2);
        check(true, "in al, dx", 1, 0xEC);
        check(true, "out 0xf4, al", 2, 0xE6, 0xF4);
        check(true, "rep stosd", 2, 0xF3, 0xAB);
        check(true, "pause", 2, 0xF3, 0x90);
        check(true, "nop dword [eax+eax*1+0x0]".replace("*1+0x0", ""), 5, 0x0F, 0x1F, 0x44, 0x00, 0x00);
    }

    @Test
    void undefinedOpcodes() {
        assertEquals(Mnemonic.INVALID, decode(true, 0x0F, 0x0A).mnemonic());
        assertEquals(Mnemonic.INVALID, decode(true, 0xFF, 0xF8).mnemonic(), "FF /7");
        assertEquals(Mnemonic.INVALID, decode(true, 0xFE, 0xD0).mnemonic(), "FE /2");
        assertEquals(Mnemonic.INVALID, decode(true, 0x8D, 0xC0).mnemonic(), "LEA with a register");
        assertEquals(Mnemonic.INVALID, decode(true, 0x0F, 0x01, 0xD0).mnemonic(), "LGDT with a register");
        assertEquals(Mnemonic.INVALID, decode(true, 0x8E, 0xC8).mnemonic(), "MOV CS, r");
        assertEquals(Mnemonic.INVALID, decode(true, 0x8E, 0xF0).mnemonic(), "MOV to segment 6");
        assertEquals(Mnemonic.INVALID, decode(true, 0xF0, 0x01, 0xC8).mnemonic(), "LOCK with register destination");
        assertEquals(Mnemonic.INVALID, decode(true, 0xF0, 0x90).mnemonic(), "LOCK NOP");
        assertEquals(Mnemonic.INVALID, decode(true, 0x0F, 0x6F, 0xC0).mnemonic(), "MMX is not part of this P6");
        assertEquals(Mnemonic.UD2, decode(true, 0x0F, 0x0B).mnemonic());
        Instruction in = decode(true, 0xF0, 0x01, 0x08);
        assertEquals(Mnemonic.ADD, in.mnemonic());
        assertTrue(in.lock());
        assertFalse(decode(true, 0x01, 0x08).lock());
    }

    @Test
    void fifteenByteLimit() {
        int[] ok = new int[15];
        java.util.Arrays.fill(ok, 0, 11, 0x66);
        ok[11] = 0x05;
        ok[12] = 0x34;
        ok[13] = 0x12;
        ok[14] = 0x90;
        assertEquals(14, decode(true, ok).length());
        int[] tooLong = new int[16];
        java.util.Arrays.fill(tooLong, 0, 14, 0x66);
        tooLong[14] = 0x05;
        tooLong[15] = 0x00;
        X86Exception e = assertThrows(X86Exception.class, () -> decode(false, tooLong));
        assertEquals(ExceptionVectors.GP, e.vector());
        int[] prefixes = new int[20];
        java.util.Arrays.fill(prefixes, 0x2E);
        assertThrows(X86Exception.class, () -> decode(false, prefixes));
    }

    @Test
    void operandDescriptors() {
        Instruction in = decode(true, 0x8B, 0x44, 0x8B, 0x08);
        assertEquals(Instruction.KIND_REG, in.kind(0));
        assertEquals(0, in.reg(0));
        assertEquals(4, in.size(0));
        assertEquals(Instruction.KIND_MEM, in.kind(1));
        assertEquals(3, in.memBase());
        assertEquals(1, in.memIndex());
        assertEquals(2, in.memScale());
        assertEquals(8, in.disp());
        assertEquals(Operand.Gv, in.spec(0));
        assertEquals(Operand.Ev, in.spec(1));
        in = decode(true, 0x6A, 0xFF);
        assertEquals(Instruction.KIND_IMM, in.kind(0));
        assertEquals(-1, in.imm(), "Ibs is sign-extended");
        in = decode(false, 0x6A, 0xFF);
        assertEquals(0xFFFF, in.imm(), "to the 16-bit operand size");
        in = decode(true, 0x88, 0xE0);
        assertEquals("mov al, ah", in.toString());
        in = decode(true, 0xDD, 0x45, 0x08);
        assertEquals(Mnemonic.X87, in.mnemonic());
        assertEquals(3, in.length());
    }
}
