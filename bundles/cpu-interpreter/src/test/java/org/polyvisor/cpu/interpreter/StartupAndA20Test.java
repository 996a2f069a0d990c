package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.irq.InterruptSource;

/** INIT/SIPI from the interrupt source (SDM Vol. 3A 9.1, 9.4.4) and the A20 gate mask. */
class StartupAndA20Test {

    private static final long A20_CLOSED = ~(1L << 20);

    @Test
    void initThenSipiStartsAnApplicationProcessorInRealMode() {
        TestMachine m = new TestMachine();
        m.vcpuId = 1;
        m.flat32(0x10000);
        m.memory.load(0x10000,
                0xB9, 0x74, 0x01, 0x00, 0x00,   // mov ecx, 0x174 (SYSENTER_CS)
                0xB8, 0x08, 0x00, 0x00, 0x00,   // mov eax, 8
                0x31, 0xD2,                     // xor edx, edx
                0x0F, 0x30,                     // wrmsr
                0xF4);                          // hlt
        assertInstanceOf(Exit.Halted.class, m.run(100));
        // Real-mode code for the SIPI: vector 0x12 -> CS 0x1200, base 0x12000, IP 0.
        m.memory.load(0x12000,
                0xBA, 0xF8, 0x03,               // mov dx, 0x3f8
                0xB0, 'A',                      // mov al, 'A'
                0xEE,                           // out dx, al
                0xF4);                          // hlt

        m.startupEvents.add(InterruptSource.INIT);
        assertInstanceOf(Exit.Halted.class, m.run(100), "after INIT an AP waits for SIPI");
        CpuState s = m.state();
        assertEquals(ActivityState.WAIT_FOR_SIPI, s.activity());
        assertEquals(0xF000, s.segment(CpuState.CS).selector());
        assertEquals(0xFFF0, s.rip());
        assertEquals(0x10, s.cr0(), "PE cleared, ET set, CD/NW kept as they were (clear), not the power-on 1s");
        assertEquals(8L, s.msrs().get(0x174), "INIT keeps the MSRs (table 9-1)");
        assertInstanceOf(Exit.Halted.class, m.run(100), "still waiting without a SIPI");
        assertEquals(ActivityState.WAIT_FOR_SIPI, m.state().activity());
        assertEquals(0, m.uart.size());

        m.startupEvents.add(0x12);
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals("A", m.uart.toString());
        s = m.state();
        assertEquals(ActivityState.HALTED, s.activity());
        assertEquals(0x1200, s.segment(CpuState.CS).selector());
        assertEquals(0x12000L, s.segment(CpuState.CS).base());
        assertEquals(7, s.rip(), "ran from IP 0 up to and past the HLT");

        m.startupEvents.add(0x20);
        assertInstanceOf(Exit.Halted.class, m.run(100), "a SIPI when not waiting for one is ignored");
        assertEquals(0x1200, m.state().segment(CpuState.CS).selector());
        assertEquals("A", m.uart.toString());
    }

    @Test
    void initOnTheBootstrapProcessorRunsFromTheResetVector() {
        TestMemory mem = new TestMemory(4 << 20);
        byte[] rom = new byte[0x1_0000];
        java.util.Arrays.fill(rom, (byte) 0xF4); // hlt everywhere
        mem.addRom(rom, 0xFFFF_0000L);
        TestMachine m = new TestMachine(mem);
        m.flat32(0x10000);
        m.memory.load(0x10000, 0xF4); // hlt
        assertInstanceOf(Exit.Halted.class, m.run(10));
        m.startupEvents.add(InterruptSource.INIT);
        m.engine.requestExit(); // as the chip's kick does
        assertInstanceOf(Exit.Requested.class, m.run(10));
        assertInstanceOf(Exit.Halted.class, m.run(10));
        CpuState s = m.state();
        assertEquals(0xF000, s.segment(CpuState.CS).selector(), "INIT on the BSP: the reset vector");
        assertEquals(0xFFF1, s.rip(), "and it ran the HLT there");
    }

    /** mov ax,0xffff; mov ds,ax; mov byte [0x20],0x33; mov al,[0x10]; mov bl,al; mov al,[0x10]; hlt */
    private static final int[] WRAP = {
        0xB8, 0xFF, 0xFF, 0x8E, 0xD8, 0xC6, 0x06, 0x20, 0x00, 0x33, 0xA0, 0x10, 0x00, 0x88, 0xC3,
        0xA0, 0x10, 0x00, 0xF4,
    };

    @Test
    void a20ClosedWrapsFfff0010ToZeroAndOpenReachesOneMegabyte() {
        TestMachine m = new TestMachine();
        m.memory.writeByte(0x0, 0x11);
        m.memory.writeByte(0x10_0000, 0x22); // 1 MiB
        m.memory.load(0x7C00, WRAP);
        m.real(0, 0x7C00);
        m.a20 = A20_CLOSED;
        m.run(5); // up to and including mov bl, al
        assertEquals(0x11, m.reg(CpuState.RBX) & 0xFF, "A20 closed: FFFF:0010 is physical 0");
        assertEquals(0x33, m.memory.readByte(0x10), "and FFFF:0020 is physical 0x10");
        assertEquals(0, m.memory.readByte(0x10_0010));
        m.a20 = -1L; // the gate opens between runs (the platform made the engine exit)
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(0x22, m.reg(CpuState.RAX) & 0xFF, "A20 open: FFFF:0010 is physical 0x100000");
    }

    @Test
    void a20GateWriteTakesEffectAtTheNextInstruction() {
        TestMachine m = new TestMachine();
        m.memory.writeByte(0x0, 0x11);
        m.memory.writeByte(0x10_0000, 0x22);
        m.memory.load(0x7C00,
                0xB8, 0xFF, 0xFF,               // mov ax, 0xffff
                0x8E, 0xD8,                     // mov ds, ax
                0xA0, 0x10, 0x00,               // mov al, [0x10]   (gate open: 0x22)
                0x88, 0xC1,                     // mov cl, al
                0x30, 0xC0,                     // xor al, al
                0xE6, 0x92,                     // out 0x92, al     (close)
                0xA0, 0x10, 0x00,               // mov al, [0x10]   (now 0x11)
                0x88, 0xC5,                     // mov ch, al
                0xB0, 0x02,                     // mov al, 2
                0xE6, 0x92,                     // out 0x92, al     (open)
                0xA0, 0x10, 0x00,               // mov al, [0x10]   (0x22 again)
                0xF4);                          // hlt
        m.real(0, 0x7C00);
        assertInstanceOf(Exit.Halted.class, m.run(100));
        assertEquals(0x22, m.reg(CpuState.RCX) & 0xFF);
        assertEquals(0x11, m.reg(CpuState.RCX) >> 8 & 0xFF, "closed within the same run");
        assertEquals(0x22, m.reg(CpuState.RAX) & 0xFF, "and open again");
    }
}
