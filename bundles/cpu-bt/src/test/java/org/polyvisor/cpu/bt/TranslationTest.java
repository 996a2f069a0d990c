package org.polyvisor.cpu.bt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.cpu.bt.internal.BinaryTranslationStrategy;
import org.polyvisor.cpu.interpreter.TestMachine;
import org.polyvisor.cpu.interpreter.internal.InterpreterStrategy;

/**
 * Guest programs run on the binary-translation engine and on the interpreter: the final states
 * must be identical, and the engine's counters must show that translated code did the work.
 */
class TranslationTest {

    private static final int CODE = 0x10000;
    private static final int DATA = 0x20000;

    private static final Function<VcpuContext, CpuEngine> INTERPRETER = c -> new InterpreterStrategy().createEngine(c);
    private static final Function<VcpuContext, CpuEngine> BT = c -> new BinaryTranslationStrategy().createEngine(c);

    @BeforeEach
    void threshold() {
        // These programs are sized for this hotness threshold, whatever the engine's default.
        System.setProperty("polyvisor.bt.threshold", "24");
        System.setProperty("polyvisor.bt.returnStack", "true"); // (off by default) these check it too
    }

    @AfterEach
    void restore() {
        TestMachine.engines = INTERPRETER;
        System.clearProperty("polyvisor.bt.threshold");
        System.clearProperty("polyvisor.bt.returnStack");
    }

    private static TestMachine machine(Function<VcpuContext, CpuEngine> engine, int[] code) {
        TestMachine.engines = engine;
        TestMachine m = new TestMachine();
        m.flat32(CODE);
        m.memory.load(CODE, code);
        return m;
    }

    /** Runs to HLT on both engines; compares state and the data area; returns the BT engine's stats. */
    /** More than {@code num/den} of the instructions the engine retired ran in translated code. */
    private static void assertTranslatedShare(Map<String, Long> stats, int num, int den) {
        assertTrue(stats.get("bt-translated-instructions") > stats.get("instructions") * num / den,
                "more than " + num + "/" + den + " of the instructions ran translated: " + stats);
    }

    private static Map<String, Long> runBoth(int[] code, long budget) {
        return runBoth(code, budget, m -> m);
    }

    /** {@link #runBoth(int[], long)} on machines prepared by {@code setUp} after the code is loaded. */
    private static Map<String, Long> runBoth(int[] code, long budget, Function<TestMachine, TestMachine> setUp) {
        TestMachine a = setUp.apply(machine(INTERPRETER, code));
        TestMachine b = setUp.apply(machine(BT, code));
        Exit ea = runToHalt(a, budget);
        Exit eb = runToHalt(b, budget);
        assertInstanceOf(Exit.Halted.class, ea, "interpreter");
        assertInstanceOf(Exit.Halted.class, eb, "binary translation");
        CpuState sa = a.engine.exportState();
        CpuState sb = b.engine.exportState();
        for (int i = 0; i < 8; i++) {
            assertEquals(sa.gpr(i), sb.gpr(i), "register " + i);
        }
        assertEquals(sa.rip(), sb.rip(), "eip");
        assertEquals(sa.rflags(), sb.rflags(), "eflags");
        assertEquals(sa, sb, "complete state");
        for (int off = 0; off < 0x100; off += 4) {
            assertEquals(a.memory.readDword(DATA + off), b.memory.readDword(DATA + off), "data +" + off);
        }
        for (int off = 0; off < 0x100; off += 4) {
            assertEquals(a.memory.readDword(0x8F00 + off), b.memory.readDword(0x8F00 + off), "stack +" + off);
        }
        assertEquals(a.engine.instructionsRetired(), b.engine.instructionsRetired(), "instructions retired");
        return b.engine.stats();
    }

    /**
     * Runs code that ends in a #GP (ES limited to 0x1_ffff, handler at CODE + 0x100: hlt) on both
     * engines: same state, same stack (EFLAGS, CS, EIP pushed), same retired count, the fault at
     * {@code faultEip}, and translated code ran. Returns the binary-translation machine.
     */
    private static TestMachine gpFaultOnBoth(int[] code, int faultEip) {
        TestMachine a = limitEsWithGpHandler(machine(INTERPRETER, code));
        TestMachine b = limitEsWithGpHandler(machine(BT, code));
        assertInstanceOf(Exit.Halted.class, runToHalt(a, 100_000));
        assertInstanceOf(Exit.Halted.class, runToHalt(b, 100_000));
        assertEquals(a.engine.exportState(), b.engine.exportState());
        for (int off = 4; off <= 12; off += 4) {
            assertEquals(a.memory.readDword(0x9000 - off), b.memory.readDword(0x9000 - off), "stack -" + off);
        }
        assertEquals(faultEip, b.memory.readDword(0x9000 - 12), "the faulting instruction");
        assertEquals(a.engine.instructionsRetired(), b.engine.instructionsRetired());
        assertTrue(b.engine.stats().get("bt-translated-instructions") > 0);
        return b;
    }

    /** ES limited to 0x1_ffff bytes; #GP goes to a handler at CODE + 0x100. */
    private static TestMachine limitEsWithGpHandler(TestMachine m) {
        m.descriptor(0x40, 0, 0x1FFFF, 0x93, 0x4);
        m.gate(13, TestMachine.CODE32, CODE + 0x100, 0xE, 0);
        CpuState st = m.engine.exportState();
        m.engine.importState(st.toBuilder().segment(CpuState.ES,
                new org.polyvisor.cpu.SegmentRegister(0x40, 0, 0x1FFFF, 0x4093)).build());
        return m;
    }

    private static Exit runToHalt(TestMachine m, long budget) {
        Exit e;
        long spent = 0;
        do {
            e = m.run(1000);
            spent += 1000;
        } while (e instanceof Exit.BudgetSpent && spent < budget);
        return e;
    }

    @Test
    void hotLoopsWithCallsAndMemoryRunTranslated() {
        int[] code = {
            0xBE, 0x00, 0x00, 0x02, 0x00,       // mov esi, DATA
            0xB9, 0x10, 0x27, 0x00, 0x00,       // mov ecx, 10000
            0x31, 0xC0,                         // xor eax, eax
            // loop:
            0x01, 0xC8,                         // add eax, ecx
            0x89, 0x06,                         // mov [esi], eax
            0x8B, 0x5E, 0x04,                   // mov ebx, [esi+4]
            0xFF, 0x46, 0x08,                   // inc dword [esi+8]
            0x66, 0x83, 0x46, 0x0C, 0xFF,       // add word [esi+12], -1
            0x80, 0x76, 0x10, 0x5A,             // xor byte [esi+16], 0x5a
            0xE8, 0x0A, 0x00, 0x00, 0x00,       // call sub
            0x0F, 0x4C, 0xD0,                   // cmovl edx, eax
            0x0F, 0x9F, 0xC7,                   // setg bh
            0x49,                               // dec ecx
            0x75, 0xDF,                         // jnz loop
            0xF4,                               // hlt
            // sub:
            0x53,                               // push ebx
            0xC1, 0xE3, 0x03,                   // shl ebx, 3
            0x29, 0xD8,                         // sub eax, ebx
            0x39, 0xC8,                         // cmp eax, ecx
            0x5B,                               // pop ebx
            0xC3,                               // ret
        };
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTrue(s.get("bt-translations") > 0, "translations: " + s);
        assertTranslatedShare(s, 9, 10);
    }

    @Test
    void selfModifyingCodeRewritesItsNextBlock() {
        // Each iteration stores ecx into the immediate of the `mov eax, imm32` of the block that
        // runs next (already translated after the first iterations); eax must follow it.
        int[] code = {
            0xB9, 0xC8, 0x00, 0x00, 0x00,       // 10000: mov ecx, 200
            0x31, 0xD2,                         // 10005: xor edx, edx
            // loop (10007):
            0x89, 0x0D, 0x12, 0x00, 0x01, 0x00, // 10007: mov [10012], ecx   (imm32 of the mov below)
            0xEB, 0x04,                         // 1000d: jmp 10013
            0x90, 0x90, 0x90, 0x90,             // 1000f..10012 (10011: start of the patched mov: see below)
            0x90,                               // 10013 -> replaced below
        };
        // Lay the patched block out exactly: at 10011 `mov eax, imm32` (B8 + 4 bytes at 10012).
        int[] full = new int[64];
        System.arraycopy(code, 0, full, 0, code.length);
        full[0x0E] = 0x02;                      // jmp to 10011 (rel8 = 2 from 1000f)
        full[0x11] = 0xB8;                      // 10011: mov eax, imm32
        full[0x12] = 0; full[0x13] = 0; full[0x14] = 0; full[0x15] = 0;
        full[0x16] = 0x01; full[0x17] = 0xC2;   // 10016: add edx, eax
        full[0x18] = 0x49;                      // 10018: dec ecx
        full[0x19] = 0x75; full[0x1A] = 0xEC;   // 10019: jnz 10007
        full[0x1B] = 0xF4;                      // 1001b: hlt
        Map<String, Long> s = runBoth(full, 1_000_000);
        assertTrue(s.get("bt-invalidations") > 0, "translations invalidated by the stores: " + s);
        assertTrue(s.get("bt-translations") > 1, "retranslated: " + s);
    }

    @Test
    void aFaultInTheMiddleOfATranslatedBlockIsPrecise() {
        // A hot loop walks esi up a page at a time and reads through it; at the segment limit of ES
        // (limit 0x1_ffff, set below) the read faults in the middle of the block with registers
        // and flags changed by the instructions before it. #GP goes to a handler that halts.
        int[] code = new int[0x120];
        int[] prog = {
            0xBE, 0x00, 0x00, 0x01, 0x00,       // mov esi, 0x10000
            0x31, 0xC0,                         // xor eax, eax
            // loop (10007):
            0x83, 0xC0, 0x03,                   // add eax, 3
            0x8D, 0x5E, 0x01,                   // lea ebx, [esi+1]
            0x26, 0x8B, 0x16,                   // mov edx, es:[esi]
            0x81, 0xC6, 0x00, 0x01, 0x00, 0x00, // add esi, 0x100
            0x39, 0xC6,                         // cmp esi, eax
            0xEB, 0xED,                         // jmp loop
        };
        System.arraycopy(prog, 0, code, 0, prog.length);
        code[0x100] = 0xF4;                     // handler: hlt
        TestMachine a = limitEsWithGpHandler(machine(INTERPRETER, code));
        TestMachine b = limitEsWithGpHandler(machine(BT, code));
        assertInstanceOf(Exit.Halted.class, runToHalt(a, 100_000));
        assertInstanceOf(Exit.Halted.class, runToHalt(b, 100_000));
        assertEquals(a.engine.exportState(), b.engine.exportState());
        assertEquals(a.memory.readDword(0x9000 - 12), b.memory.readDword(0x9000 - 12), "faulting EIP pushed");
        assertEquals(CODE + 0x0D, a.memory.readDword(0x9000 - 12), "the fault is at the mov");
        assertEquals(a.engine.instructionsRetired(), b.engine.instructionsRetired());
        assertTrue(b.engine.stats().get("bt-translated-instructions") > 0);
    }

    @Test
    void conditionalBranchesInsideATranslationLeaveOrLoopBack() {
        // The translation at `loop` goes on past both conditional branches: jz leaves it when
        // taken, jb and jnz loop back to its start.
        int[] code = {
            0xB9, 0xE8, 0x03, 0x00, 0x00,       // 00: mov ecx, 1000
            0x31, 0xC0,                         // 05: xor eax, eax
            0x01, 0xC8,                         // 07: loop: add eax, ecx
            0xA8, 0x01,                         // 09: test al, 1
            0x74, 0x06,                         // 0b: jz skip
            0x43,                               // 0d: inc ebx
            0x83, 0xFB, 0x07,                   // 0e: cmp ebx, 7
            0x72, 0xF4,                         // 11: jb loop
            0x29, 0xC2,                         // 13: skip: sub edx, eax
            0x49,                               // 15: dec ecx
            0x75, 0xEF,                         // 16: jnz loop
            0xF4,                               // 18: hlt
        };
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTranslatedShare(s, 9, 10);
    }

    @Test
    void rotatesSetCarryAndOverflowAndKeepTheOtherFlags() {
        int[] code = {
            0xBE, 0x00, 0x00, 0x02, 0x00,       // 00: mov esi, DATA
            0xB9, 0xD0, 0x07, 0x00, 0x00,       // 05: mov ecx, 2000
            0xB8, 0x35, 0x12, 0xF0, 0x8A,       // 0a: mov eax, 0x8af01235
            0xC1, 0xC0, 0x05,                   // 0f: loop: rol eax, 5
            0x11, 0xCB,                         // 12: adc ebx, ecx       (CF of the rotate)
            0xD3, 0xCA,                         // 14: ror edx, cl        (CL = 0 every 256th pass)
            0x0F, 0x90, 0xC7,                   // 16: seto bh
            0x01, 0x3E,                         // 19: add [esi], edi
            0xD0, 0x46, 0x04,                   // 1b: rol byte [esi+4], 1
            0x0F, 0x92, 0x46, 0x08,             // 1e: setc [esi+8]
            0x66, 0xC1, 0x4E, 0x0C, 0x13,       // 22: ror word [esi+12], 19
            0x0F, 0x94, 0xC3,                   // 27: setz bl            (ZF kept from the add)
            0x8D, 0x3C, 0x07,                   // 2a: lea edi, [edi+eax]
            0x49,                               // 2d: dec ecx
            0x75, 0xDF,                         // 2e: jnz loop
            0xF4,                               // 30: hlt
        };
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTranslatedShare(s, 9, 10);
    }

    @Test
    void stringInstructionsRunTranslatedInSlicesWithTheDirectionFlag() {
        int[] code = {
            0xBB, 0xC8, 0x00, 0x00, 0x00,       // 00: mov ebx, 200
            0x88, 0xD8,                         // 05: loop: mov al, bl
            0xBF, 0x00, 0x10, 0x02, 0x00,       // 07: mov edi, 0x21000
            0xB9, 0x00, 0x14, 0x00, 0x00,       // 0c: mov ecx, 0x1400   (more than one slice)
            0xF3, 0xAA,                         // 11: rep stosb
            0xBE, 0x00, 0x10, 0x02, 0x00,       // 13: mov esi, 0x21000
            0xBF, 0x40, 0x00, 0x02, 0x00,       // 18: mov edi, DATA + 0x40
            0xB9, 0x30, 0x00, 0x00, 0x00,       // 1d: mov ecx, 0x30
            0xF3, 0xA5,                         // 22: rep movsd
            0xFD,                               // 24: std
            0xBE, 0xFC, 0x00, 0x02, 0x00,       // 25: mov esi, DATA + 0xfc
            0xAD,                               // 2a: lodsd             (downwards)
            0xFC,                               // 2b: cld
            0x01, 0xC2,                         // 2c: add edx, eax
            0x4B,                               // 2e: dec ebx
            0x75, 0xD4,                         // 2f: jnz loop
            0xF4,                               // 31: hlt
        };
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTranslatedShare(s, 1, 2);
    }

    @Test
    void aFaultInTheMiddleOfARepMovsLeavesTheIterationsDone() {
        // Each pass copies 64 dwords to ES:EDI 16 bytes higher; ES ends at 0x1_ffff, so a late
        // pass faults after some iterations: ECX, ESI and EDI must show exactly those done.
        int[] code = new int[0x120];
        int[] prog = {
            0xBA, 0x00, 0xF0, 0x01, 0x00,       // 00: mov edx, 0x1f000
            0x89, 0xD7,                         // 05: loop: mov edi, edx
            0x31, 0xF6,                         // 07: xor esi, esi
            0xB9, 0x40, 0x00, 0x00, 0x00,       // 09: mov ecx, 64
            0xF3, 0xA5,                         // 0e: rep movsd
            0x83, 0xC2, 0x10,                   // 10: add edx, 16
            0xEB, 0xF0,                         // 13: jmp loop
        };
        System.arraycopy(prog, 0, code, 0, prog.length);
        code[0x100] = 0xF4;                     // #GP handler: hlt
        TestMachine b = gpFaultOnBoth(code, CODE + 0x0E);
        assertEquals(4, b.engine.exportState().gpr(1), "ECX: the 4 iterations not done");
    }

    @Test
    void aFaultAtTheLoopHeadSeesTheFlagsOfThePreviousIteration() {
        // The load at the loop head faults at the ES limit; the flags the #GP handler pushes are
        // those of the previous iteration's sub (kept in locals across the back edge).
        int[] code = new int[0x120];
        int[] prog = {
            0xBE, 0x00, 0xF0, 0x01, 0x00,       // 00: mov esi, 0x1f000
            0xB8, 0x00, 0x00, 0x00, 0x80,       // 05: mov eax, 0x80000000
            0x26, 0x8B, 0x16,                   // 0a: loop: mov edx, es:[esi]
            0x83, 0xC6, 0x40,                   // 0d: add esi, 64
            0x29, 0xF0,                         // 10: sub eax, esi
            0xEB, 0xF6,                         // 12: jmp loop
        };
        System.arraycopy(prog, 0, code, 0, prog.length);
        code[0x100] = 0xF4;                     // #GP handler: hlt
        gpFaultOnBoth(code, CODE + 0x0A);
    }

    @Test
    void sensitiveInstructionsRunOnTheInterpreterCoreAndAreCounted() {
        int[] code = {
            0xBE, 0xE8, 0x03, 0x00, 0x00,       // mov esi, 1000
            // loop:
            0x31, 0xC0,                         // xor eax, eax
            0x0F, 0xA2,                         // cpuid
            0x01, 0xC7,                         // add edi, eax
            0x4E,                               // dec esi
            0x75, 0xF7,                         // jnz loop
            0xF4,                               // hlt
        };
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertEquals(1L, s.get("bt-sensitive-sites-cpuid"), "one CPUID site: " + s);
        long runs = s.get("bt-sensitive-runs-cpuid");
        assertTrue(runs > 900 && runs <= 1000, "CPUID executions counted once the site is hot: " + runs);
    }

    @Test
    void selfModifyingCodeAcrossAChainedLink() {
        // Block A1 branches to block B, which loops back to A1: both links are chained. Every 64th
        // iteration A2 (the fall-through of A1) patches the immediate of B before jumping there, so
        // the chained link A1 -> B must be found broken and B retranslated with the new bytes.
        int[] code = {
            0xB9, 0xB8, 0x0B, 0x00, 0x00,       // 10000: mov ecx, 3000
            0x31, 0xD2,                         // 10005: xor edx, edx
            0x31, 0xDB,                         // 10007: xor ebx, ebx
            0x43,                               // 10009: A1: inc ebx
            0xF6, 0xC3, 0x3F,                   // 1000a: test bl, 0x3f
            0x75, 0x08,                         // 1000d: jnz B (10017)
            0x89, 0x1D, 0x18, 0x00, 0x01, 0x00, // 1000f: A2: mov [10018], ebx  (imm32 of B's mov)
            0xEB, 0x00,                         // 10015: jmp B
            0xB8, 0x00, 0x00, 0x00, 0x00,       // 10017: B: mov eax, imm32
            0x01, 0xC2,                         // 1001c: add edx, eax
            0x49,                               // 1001e: dec ecx
            0x75, 0xE8,                         // 1001f: jnz A1
            0xF4,                               // 10021: hlt
        };
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTrue(s.get("bt-chain-links") > 0, "links made: " + s);
        assertTrue(s.get("bt-chained-runs") > 1000, "blocks entered through their links: " + s);
        assertTrue(s.get("bt-invalidations") > 20, "B dropped at its patches: " + s);
        assertTrue(s.get("bt-translations") > s.get("bt-invalidations"), "and translated again: " + s);
    }

    @Test
    void blocksStopAtThePageEndAndWritesToEitherPageReachTheirCode() {
        // The hot loop starts 16 bytes before a page end: its first block ends at the page end,
        // before a mov whose immediate straddles the two pages; the block after it on the next page
        // has its immediate patched each iteration, as does the straddling mov by a store that
        // itself crosses the page boundary.
        int[] code = new int[0x1020];
        java.util.Arrays.fill(code, 0xF4);
        int[] head = {
            0xB9, 0x2C, 0x01, 0x00, 0x00,       // 10000: mov ecx, 300
            0x31, 0xD2,                         // 10005: xor edx, edx
            0xE9, 0xE4, 0x0F, 0x00, 0x00,       // 10007: jmp 10ff0
        };
        int[] loop = {
            0x89, 0x0D, 0xFE, 0x0F, 0x01, 0x00, // 10ff0: mov [10ffe], ecx (straddling store)
            0x89, 0x15, 0x03, 0x10, 0x01, 0x00, // 10ff6: mov [11003], edx
            0x90,                               // 10ffc: nop
            0xB8, 0x00, 0x00, 0x00, 0x00,       // 10ffd: mov eax, imm32 (straddles into 11000)
            0xBB, 0x00, 0x00, 0x00, 0x00,       // 11002: mov ebx, imm32
            0x01, 0xC2,                         // 11007: add edx, eax
            0x01, 0xDA,                         // 11009: add edx, ebx
            0x49,                               // 1100b: dec ecx
            0x0F, 0x85, 0xDE, 0xFF, 0xFF, 0xFF, // 1100c: jnz 10ff0
            0xF4,                               // 11012: hlt
        };
        System.arraycopy(head, 0, code, 0, head.length);
        System.arraycopy(loop, 0, code, 0xFF0, loop.length);
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTrue(s.get("bt-translations") > 1, "translated on both pages: " + s);
        assertTrue(s.get("bt-invalidations") > 0, "the block on the second page dropped: " + s);
        assertTrue(s.get("bt-translated-instructions") > s.get("instructions") / 5, "ran translated: " + s);
    }

    @Test
    void translationsSurviveAddressSpaceSwitches() {
        // Two page directories map the same physical code (identity, first 4 MiB); the loop writes
        // CR3 with the other one at every iteration (a TLB flush each time), then runs a hot block.
        // Translations are keyed by physical address: they are found again in each address space.
        int[] code = {
            0xB9, 0xD0, 0x07, 0x00, 0x00,       // 10000: mov ecx, 2000
            0xB8, 0x00, 0x00, 0x04, 0x00,       // 10005: mov eax, 0x40000
            0x35, 0x00, 0x10, 0x00, 0x00,       // 1000a: xor eax, 0x1000 (0x40000 <-> 0x41000)
            0x0F, 0x22, 0xD8,                   // 1000f: mov cr3, eax
            0x01, 0xCA,                         // 10012: add edx, ecx
            0x8D, 0x34, 0x4A,                   // 10014: lea esi, [edx+ecx*2]
            0x31, 0xF7,                         // 10017: xor edi, esi
            0x89, 0x3D, 0x00, 0x00, 0x02, 0x00, // 10019: mov [DATA], edi
            0x49,                               // 1001f: dec ecx
            0x75, 0xE8,                         // 10020: jnz 1000a
            0xF4,                               // 10022: hlt
        };
        Function<TestMachine, TestMachine> paging = m -> {
            for (int i = 0; i < 1024; i++) {
                m.memory.writeDword(0x42000 + i * 4L, i << 12 | 0x3); // identity, present + writable
            }
            m.memory.writeDword(0x40000, 0x42000 | 0x3);
            m.memory.writeDword(0x41000, 0x42000 | 0x3);
            CpuState st = m.engine.exportState();
            m.engine.importState(st.toBuilder().cr3(0x41000).cr0(st.cr0() | 0x8000_0000L).build());
            return m;
        };
        Map<String, Long> s = runBoth(code, 1_000_000, paging);
        long switches = s.get("bt-sensitive-runs-mov-cr-dr");
        assertTrue(switches > 1900 && switches <= 2000, "a CR3 write per iteration once hot: " + s);
        assertTrue(s.get("bt-translations") <= 4, "translated once, not once per address space: " + s);
        assertTrue(s.get("bt-translated-instructions") > s.get("instructions") * 2 / 3, "ran translated: " + s);
        assertEquals(0L, s.get("bt-evictions"));
    }

    /** A code image of {@code size} bytes of HLT. */
    private static int[] hltImage(int size) {
        int[] image = new int[size];
        java.util.Arrays.fill(image, 0xF4);
        return image;
    }

    /** Copies bytes into a code image at an offset from CODE. */
    private static void put(int[] image, int offset, int... bytes) {
        System.arraycopy(bytes, 0, image, offset, bytes.length);
    }

    @Test
    void aReturnToAChangedReturnAddressIsNotPredicted() {
        // Every fourth call, the callee adds 3 to its return address on the stack: its RET then
        // comes back past the `add edx, 1`. The shadow stack predicts the call's own return
        // address; the changed one must be found out and go through the lookup.
        int[] code = hltImage(0x40);
        put(code, 0x00, 0xB9, 0xE8, 0x03, 0x00, 0x00);             // 10000: mov ecx, 1000
        put(code, 0x05, 0x31, 0xD2);                               // 10005: xor edx, edx
        put(code, 0x07, 0xE8, 0x14, 0x00, 0x00, 0x00);             // 10007: call f (10020)
        put(code, 0x0C, 0x83, 0xC2, 0x01);                         // 1000c: add edx, 1
        put(code, 0x0F, 0x81, 0xC2, 0x00, 0x01, 0x00, 0x00);       // 1000f: add edx, 0x100
        put(code, 0x15, 0x49);                                     // 10015: dec ecx
        put(code, 0x16, 0x75, 0xEF);                               // 10016: jnz 10007
        put(code, 0x20, 0xF6, 0xC1, 0x03);                         // 10020: f: test cl, 3
        put(code, 0x23, 0x75, 0x07);                               // 10023: jnz 1002c
        put(code, 0x25, 0x83, 0x04, 0x24, 0x03);                   // 10025: add dword [esp], 3
        put(code, 0x29, 0xC3);                                     // 10029: ret (to 1000f)
        put(code, 0x2C, 0xC3);                                     // 1002c: ret (to 1000c)
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTrue(s.get("bt-returns-predicted") > 500, "returns to the pushed address predicted: " + s);
        assertTrue(s.get("bt-returns-mispredicted") > 100, "returns to the changed address not: " + s);
        assertTranslatedShare(s, 2, 3);
    }

    @Test
    void codeAtAReturnAddressPatchedByTheCalleeIsRetranslated() {
        // The callee stores ECX into the immediate of the `mov eax, imm32` its RET returns to: the
        // predicted return target is dropped code every time and must not run.
        int[] code = hltImage(0x40);
        put(code, 0x00, 0xB9, 0xF4, 0x01, 0x00, 0x00);             // 10000: mov ecx, 500
        put(code, 0x05, 0x31, 0xD2);                               // 10005: xor edx, edx
        put(code, 0x07, 0xE8, 0x24, 0x00, 0x00, 0x00);             // 10007: call f (10030)
        put(code, 0x0C, 0xB8, 0x00, 0x00, 0x00, 0x00);             // 1000c: mov eax, imm32 (at 1000d)
        put(code, 0x11, 0x01, 0xC2);                               // 10011: add edx, eax
        put(code, 0x13, 0x49);                                     // 10013: dec ecx
        put(code, 0x14, 0x75, 0xF1);                               // 10014: jnz 10007
        put(code, 0x30, 0x89, 0x0D, 0x0D, 0x00, 0x01, 0x00);       // 10030: f: mov [1000d], ecx
        put(code, 0x36, 0xC3);                                     // 10036: ret
        Map<String, Long> s = runBoth(code, 1_000_000);
        assertTrue(s.get("bt-invalidations") > 10, "the code after the call dropped by the patches: " + s);
        assertTrue(s.get("bt-translated-instructions") > 0, "ran translated: " + s);
    }

    @Test
    void callsAndReturnsAcrossPagesAndAddressSpaces() {
        // The loop switches CR3 between two page directories at every iteration and calls 11000,
        // which the two map to different physical pages holding different code (add ebx, 1 or
        // add ebx, 2); that code calls back into a helper on the first page. Chain links and
        // return predictions must follow the mapping, not the linear address.
        int[] code = hltImage(0x2010);
        put(code, 0x00, 0xB9, 0xD0, 0x07, 0x00, 0x00);             // 10000: mov ecx, 2000
        put(code, 0x05, 0xB8, 0x00, 0x00, 0x04, 0x00);             // 10005: mov eax, 0x40000
        put(code, 0x0A, 0x35, 0x00, 0x10, 0x00, 0x00);             // 1000a: xor eax, 0x1000
        put(code, 0x0F, 0x0F, 0x22, 0xD8);                         // 1000f: mov cr3, eax
        put(code, 0x12, 0xE8, 0xE9, 0x0F, 0x00, 0x00);             // 10012: call 11000
        put(code, 0x17, 0x01, 0xCA);                               // 10017: add edx, ecx
        put(code, 0x19, 0x49);                                     // 10019: dec ecx
        put(code, 0x1A, 0x75, 0xEE);                               // 1001a: jnz 1000a
        put(code, 0x100, 0x31, 0xDE);                              // 10100: xor esi, ebx
        put(code, 0x102, 0xC3);                                    // 10102: ret
        for (int page = 0; page < 2; page++) {                     // physical 11000 and 12000
            int at = 0x1000 * (page + 1);
            put(code, at, 0x83, 0xC3, page + 1);                   // add ebx, 1 (or 2)
            put(code, at + 3, 0xE8, 0xF8, 0xF0, 0xFF, 0xFF);       // call 10100
            put(code, at + 8, 0xC3);                               // ret
        }
        Function<TestMachine, TestMachine> paging = m -> {
            for (int i = 0; i < 1024; i++) {
                m.memory.writeDword(0x42000 + i * 4L, i << 12 | 0x3); // identity
                m.memory.writeDword(0x43000 + i * 4L, (i == 0x11 ? 0x12 : i) << 12 | 0x3);
            }
            m.memory.writeDword(0x40000, 0x42000 | 0x3);
            m.memory.writeDword(0x41000, 0x43000 | 0x3);
            CpuState st = m.engine.exportState();
            m.engine.importState(st.toBuilder().cr3(0x41000).cr0(st.cr0() | 0x8000_0000L).build());
            return m;
        };
        Map<String, Long> s = runBoth(code, 1_000_000, paging);
        assertTrue(s.get("bt-returns-predicted") > 1000, "returns predicted across the switches: " + s);
        assertTranslatedShare(s, 1, 2);
    }

    @Test
    void recursionDeeperThanTheShadowStackReturnsRight() {
        // A function recursing 100 deep, 30 times: the shadow stack keeps the 64 latest calls; the
        // outer returns find it empty and go through the lookup.
        int[] code = hltImage(0x30);
        put(code, 0x00, 0xBD, 0x1E, 0x00, 0x00, 0x00);             // 10000: mov ebp, 30
        put(code, 0x05, 0x31, 0xD2);                               // 10005: xor edx, edx
        put(code, 0x07, 0xB8, 0x64, 0x00, 0x00, 0x00);             // 10007: mov eax, 100
        put(code, 0x0C, 0xE8, 0x0F, 0x00, 0x00, 0x00);             // 1000c: call r (10020)
        put(code, 0x11, 0x4D);                                     // 10011: dec ebp
        put(code, 0x12, 0x75, 0xF3);                               // 10012: jnz 10007
        put(code, 0x20, 0x01, 0xC2);                               // 10020: r: add edx, eax
        put(code, 0x22, 0x48);                                     // 10022: dec eax
        put(code, 0x23, 0x74, 0x05);                               // 10023: jz 1002a
        put(code, 0x25, 0xE8, 0xF6, 0xFF, 0xFF, 0xFF);             // 10025: call r
        put(code, 0x2A, 0xC3);                                     // 1002a: ret
        Map<String, Long> s = runBoth(code, 1_000_000);
        long predicted = s.get("bt-returns-predicted");
        assertTrue(predicted > 1000, "returns predicted: " + s);
        assertTrue(predicted <= 30 * 64, "never more than the stack's depth per recursion: " + s);
        assertTranslatedShare(s, 2, 3);
    }
}
