package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;

/**
 * Execute-disable (XD/NX) on instruction fetch with PAE paging and EFER.NXE (SDM Vol. 3A, 4.6 and
 * 4.7), with the engine's own walk and under each MMU strategy: a fetch from an XD page faults with
 * I/D in the error code and CR2 = the fetch address even when a data read of the same page is in
 * the TLB; a data read of it does not fault; without NXE the XD bit is reserved (#PF with RSVD).
 */
class NoExecuteTest {

    private static final int CODE = 0x10000;
    private static final int HANDLER = 0x11000;
    private static final int NX_PAGE = 0x30000;
    private static final int NX_LARGE = 0x200000; // a 2 MiB page with XD in its PDE
    private static final int PDPT = 0x20000;
    private static final int PD = 0x21000;
    private static final int PT = 0x22000;
    private static final long XD = 1L << 63;
    private static final long EFER_NXE = 1L << 11;

    /** PAE paging: 4 KiB identity pages below 2 MiB, one 2 MiB page above; #PF handler pops into EAX, EBX = CR2, ECX = EIP. */
    private static TestMachine machine(String mmu, boolean nxe, int... code) {
        TestMachine m = new TestMachine(8 << 20).withMmu(mmu);
        m.flat32(CODE);
        m.memory.load(CODE, code);
        m.memory.writeQword(PDPT, PD | 1);
        m.memory.writeQword(PD, PT | 3);
        m.memory.writeQword(PD + 8, NX_LARGE | 0x83 | XD);
        for (int i = 0; i < 512; i++) {
            m.memory.writeQword(PT + 8L * i, (long) i << 12 | 3 | (i == NX_PAGE >>> 12 ? XD : 0));
        }
        m.gate(14, TestMachine.CODE32, HANDLER, 0xE, 0);
        m.memory.load(HANDLER,
                0x58,                   // pop eax (error code)
                0x0F, 0x20, 0xD3,       // mov ebx, cr2
                0x59,                   // pop ecx (EIP of the fault)
                0xF4);                  // hlt
        m.memory.load(NX_PAGE, 0xB8, 0xEF, 0xBE, 0xAD, 0xDE, 0xF4);     // mov eax, 0xdeadbeef; hlt
        m.memory.load(NX_LARGE + 0x345, 0xB8, 0xEF, 0xBE, 0xAD, 0xDE, 0xF4);
        m.engine.importState(m.engine.exportState().toBuilder().cr3(PDPT).cr4(0x20).cr0(0x8001_0011L)
                .efer(nxe ? EFER_NXE : 0).build());
        return m;
    }

    private static void assertFault(TestMachine m, int errorCode, long cr2) {
        assertInstanceOf(Exit.Halted.class, m.run(50));
        CpuState s = m.state();
        assertEquals(errorCode, s.gpr(CpuState.RAX), "error code");
        assertEquals(cr2, s.gpr(CpuState.RBX), "CR2");
        assertEquals(cr2, s.cr2());
        assertEquals(cr2, s.gpr(CpuState.RCX), "saved EIP: the fetch that faulted");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "shadow", "slat"})
    void fetchFromAnXdPageFaultsWithInstructionFetchBitEvenAfterAReadOfIt(String mmu) {
        TestMachine m = machine(mmu, true,
                0xA1, 0x00, 0x00, 0x03, 0x00,           // mov eax, [0x30000]   (a read: allowed, fills the TLB)
                0xE9, 0xF6, 0xFF, 0x01, 0x00);          // jmp 0x30000
        assertFault(m, 0x11, NX_PAGE); // P | I/D, supervisor read-type
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "shadow", "slat"})
    void xdInALargePageDirectoryEntryAppliesToTheWholePage(String mmu) {
        TestMachine m = machine(mmu, true,
                0xB8, 0x45, 0x03, 0x20, 0x00,           // mov eax, 0x200345
                0x8B, 0x10,                             // mov edx, [eax]   (allowed)
                0xFF, 0xE0);                            // jmp eax
        assertFault(m, 0x11, NX_LARGE + 0x345);
        assertEquals(0xADBEEFB8L, m.state().gpr(CpuState.RDX), "the read of the XD page went through");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "shadow", "slat"})
    void fetchFromANotPresentPageSetsInstructionFetchWithNxe(String mmu) {
        TestMachine m = machine(mmu, true,
                0xC7, 0x05, 0x00, 0x22, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // mov dword [PT + 0x40 * 8], 0 (page 0x40000 absent)
                0xE9, 0xF1, 0xFF, 0x02, 0x00);          // jmp 0x40000
        assertFault(m, 0x10, 0x40000); // not present, I/D
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "shadow", "slat"})
    void withoutNxeTheXdBitIsReserved(String mmu) {
        TestMachine m = machine(mmu, false,
                0xE9, 0xFB, 0xFF, 0x01, 0x00);          // jmp 0x30000
        assertFault(m, 0x09, NX_PAGE); // P | RSVD, no I/D without NXE
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "shadow", "slat"})
    void codeOnExecutablePagesRunsWithNxe(String mmu) {
        TestMachine m = machine(mmu, true,
                0xB8, 0x01, 0x00, 0x00, 0x00,           // mov eax, 1
                0xF4);                                  // hlt
        assertInstanceOf(Exit.Halted.class, m.run(50));
        assertEquals(1, m.state().gpr(CpuState.RAX));
    }
}
