package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;

/**
 * Faults are precise (SDM Vol. 3A 6.5): an instruction whose read-modify-write store hits a
 * write-protected page (CR0.WP, supervisor write) leaves every register and EFLAGS as they were
 * before it, so the #PF handler sees the original flags and the restarted instruction computes
 * from them. ADC and SBB read the carry they would otherwise have overwritten; on hardware a
 * copy-on-write fault in the middle of a multi-word addition must not change its result.
 */
class StoreFaultFlagsTest {

    private static final int CODE = 0x10000;
    private static final int HANDLER = 0x11000;
    private static final int PD = 0x20000;
    private static final int PT = 0x21000;
    private static final int READ_ONLY = 0x30000;
    /** The arithmetic flags: CF PF AF ZF SF OF. */
    private static final int ARITH = 0x8D5;

    static Stream<Arguments> instructions() {
        return Stream.of(
                Arguments.of("adc [ro], eax", new int[] {0x11, 0x05, 0, 0, 3, 0}),
                Arguments.of("sbb [ro], eax", new int[] {0x19, 0x05, 0, 0, 3, 0}),
                Arguments.of("add [ro], eax", new int[] {0x01, 0x05, 0, 0, 3, 0}),
                Arguments.of("sub [ro], eax", new int[] {0x29, 0x05, 0, 0, 3, 0}),
                Arguments.of("or [ro], eax", new int[] {0x09, 0x05, 0, 0, 3, 0}),
                Arguments.of("adc byte [ro], al", new int[] {0x10, 0x05, 0, 0, 3, 0}),
                Arguments.of("sbb word [ro], ax", new int[] {0x66, 0x19, 0x05, 0, 0, 3, 0}),
                Arguments.of("bts [ro], eax", new int[] {0x0F, 0xAB, 0x05, 0, 0, 3, 0}),
                Arguments.of("btr [ro], 1", new int[] {0x0F, 0xBA, 0x35, 0, 0, 3, 0, 1}),
                Arguments.of("cmpxchg [ro], ecx", new int[] {0x0F, 0xB1, 0x0D, 0, 0, 3, 0}),
                Arguments.of("xadd [ro], eax", new int[] {0x0F, 0xC1, 0x05, 0, 0, 3, 0}),
                Arguments.of("neg [ro]", new int[] {0xF7, 0x1D, 0, 0, 3, 0}),
                Arguments.of("inc [ro]", new int[] {0xFF, 0x05, 0, 0, 3, 0}),
                Arguments.of("rcl [ro], 1", new int[] {0xD1, 0x15, 0, 0, 3, 0}),
                Arguments.of("shl [ro], 1", new int[] {0xD1, 0x25, 0, 0, 3, 0}),
                Arguments.of("shld [ro], eax, 4", new int[] {0x0F, 0xA4, 0x05, 0, 0, 3, 0, 4}));
    }

    /**
     * 32-bit paging over the first 4 MiB, identity mapped, with {@link #READ_ONLY} not writable and
     * CR0.WP set; the #PF handler pops the error code into EAX, the saved EIP into ECX, CS into EDX
     * and the saved EFLAGS into EBX, then halts.
     */
    private static TestMachine machine(String mmu, int[] instruction) {
        TestMachine m = new TestMachine(8 << 20).withMmu(mmu);
        m.flat32(CODE);
        m.memory.writeDword(PD, PT | 3);
        for (int i = 0; i < 1024; i++) {
            m.memory.writeDword(PT + 4L * i, i << 12 | (i == READ_ONLY >>> 12 ? 1 : 3));
        }
        m.memory.writeDword(READ_ONLY, 0x8000_0001); // sign bit and bit 0 set: every op changes some flag
        m.gate(14, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.load(HANDLER, 0x58, 0x59, 0x5A, 0x5B, 0xF4); // pop eax; pop ecx; pop edx; pop ebx; hlt
        int[] prologue = {
            0xB8, 0x01, 0x00, 0x00, 0x00,   // mov eax, 1
            0xB9, 0x07, 0x00, 0x00, 0x00,   // mov ecx, 7
            0xF9,                           // stc
            0x9C, 0x5E,                     // pushfd; pop esi: the flags before the instruction
        };
        int[] code = new int[prologue.length + instruction.length + 1];
        System.arraycopy(prologue, 0, code, 0, prologue.length);
        System.arraycopy(instruction, 0, code, prologue.length, instruction.length);
        code[code.length - 1] = 0xF4;
        m.memory.load(CODE, code);
        m.engine.importState(m.engine.exportState().toBuilder().cr3(PD).cr0(0x8001_0011L).build());
        return m;
    }

    @ParameterizedTest(name = "{0} ({2})")
    @MethodSource("argumentsWithMmus")
    void aFaultingStoreLeavesTheFlagsAndRegistersAsBefore(String name, int[] instruction, String mmu) {
        TestMachine m = machine(mmu, instruction);
        assertInstanceOf(Exit.Halted.class, m.run(100));
        CpuState s = m.state();
        int at = CODE + 13; // the instruction after the 13-byte prologue
        assertEquals(at, s.gpr(CpuState.RCX), name + ": #PF at the instruction (saved EIP)");
        assertEquals(READ_ONLY, s.cr2(), name + ": CR2");
        assertEquals(0x3, s.gpr(CpuState.RAX) & 0x7, name + ": error code P|W, supervisor");
        long before = s.gpr(CpuState.RSI);
        long saved = s.gpr(CpuState.RBX);
        assertEquals(before & ARITH, saved & ARITH, name + ": EFLAGS saved by the fault = EFLAGS before it");
        assertEquals(0x8000_0001L, m.memory.readDword(READ_ONLY) & 0xFFFF_FFFFL, name + ": memory unchanged");
    }

    static Stream<Arguments> argumentsWithMmus() {
        return instructions().flatMap(a -> Stream.of("", "shadow").map(mmu -> Arguments.of(a.get()[0], a.get()[1], mmu)));
    }
}
