package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * TLB hits read and write the memory's buffers directly; these are the cases that must still go
 * through the memory: a watch set up after the TLB entry was filled, and ROM laid over RAM.
 */
class DirectMemoryAccessTest {

    private static final int CODE = 0x10000;

    @Test
    void aWatchSetUpAfterTheTlbFillStillSeesTheWrite() {
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        m.memory.load(CODE,
                0xB8, 0x44, 0x33, 0x22, 0x11,       // mov eax, 0x11223344
                0xA3, 0x00, 0x50, 0x00, 0x00,       // mov [0x5000], eax  (fills the TLB write entry)
                0xB8, 0x88, 0x77, 0x66, 0x55,       // mov eax, 0x55667788
                0xA3, 0x02, 0x50, 0x00, 0x00,       // mov [0x5002], eax  (same page, now watched)
                0xF4);                              // hlt
        m.run(2);
        assertEquals(0x11223344, m.memory.readDword(0x5000));
        List<String> seen = new ArrayList<>();
        m.memory.watch(0x5000, 4096, (gpa, length) -> seen.add(Long.toHexString(gpa) + "+" + length));
        m.run(2);
        assertEquals(List.of("5002+4"), seen);
        assertEquals(0x55667788, m.memory.readDword(0x5002));
        assertEquals(0x3344, m.memory.readWord(0x5000));
    }

    @Test
    void romLaidOverRamIsReadFromRomAndDropsWrites() {
        TestMemory mem = new TestMemory(4 << 20);
        byte[] rom = new byte[4096];
        rom[0] = 0x78;
        rom[1] = 0x56;
        rom[2] = 0x34;
        rom[3] = 0x12;
        mem.addRom(rom, 0x6000);
        TestMachine m = new TestMachine(mem);
        m.flat32(CODE);
        m.memory.load(CODE,
                0xA1, 0x00, 0x60, 0x00, 0x00,       // mov eax, [0x6000]
                0xBB, 0xEF, 0xBE, 0xAD, 0xDE,       // mov ebx, 0xDEADBEEF
                0x89, 0x1D, 0x00, 0x60, 0x00, 0x00, // mov [0x6000], ebx
                0x8B, 0x0D, 0x00, 0x60, 0x00, 0x00, // mov ecx, [0x6000]
                0xF4);                              // hlt
        m.run(4);
        assertEquals(0x12345678L, m.reg(0));
        assertEquals(0x12345678L, m.reg(1), "the ROM kept its contents");
    }
}
