package org.polyvisor.cpu.bt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
        return runBoth(code, budget, setUp, 0x100);
    }

    /** {@link #runBoth(int[], long, Function)} comparing {@code dataBytes} of the data area. */
    private static Map<String, Long> runBoth(int[] code, long budget, Function<TestMachine, TestMachine> setUp,
                                             int dataBytes) {
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
        for (int off = 0; off < dataBytes; off += 4) {
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

    /** A program followed by the #GP handler of {@link #limitEsWithGpHandler} (hlt) at CODE + 0x100. */
    private static int[] withGpHandler(int... prog) {
        int[] code = Arrays.copyOf(prog, 0x120);
        code[0x100] = 0xF4;
        return code;
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

    /** Ring-0 32-bit interrupt gates, each given as vector, handler offset from CODE, gate DPL. */
    private static Function<TestMachine, TestMachine> gates(int... vectorOffsetDpl) {
        return m -> {
            for (int i = 0; i < vectorOffsetDpl.length; i += 3) {
                m.gate(vectorOffsetDpl[i], TestMachine.CODE32, CODE + vectorOffsetDpl[i + 1], 0xE, vectorOffsetDpl[i + 2]);
            }
            return m;
        };
    }

    /** Code bytes from parts, each its offset followed by its bytes. */
    private static int[] layout(int[]... parts) {
        int[] code = new int[0x60];
        for (int[] p : parts) {
            System.arraycopy(p, 1, code, p[0], p.length - 1);
        }
        return code;
    }

    /**
     * A block whose loop back edge is a branch in its middle (taken on odd EAX) and at its end: one
     * more iteration may run the whole block, so the translation may go round only while all of it
     * fits in the budget. Run in slices of 997 instructions, both engines retire exactly as many.
     */
    @Test
    void aBackEdgeInsideABlockNeverRunsPastTheBudget() {
        int[] code = {
            0x31, 0xC0,                         // 10000: xor eax, eax
            0x40,                               // 10002: loop: inc eax
            0xA8, 0x01,                         // 10003: test al, 1
            0x75, 0xFB,                         // 10005: jnz loop       (the back edge inside the block)
            0x42, 0x46, 0x47,                   // 10007: inc edx; inc esi; inc edi
            0xEB, 0xF6,                         // 1000a: jmp loop
        };
        TestMachine a = machine(INTERPRETER, code);
        TestMachine b = machine(BT, code);
        for (int i = 0; i < 3000; i++) {
            assertInstanceOf(Exit.BudgetSpent.class, a.run(997));
            assertInstanceOf(Exit.BudgetSpent.class, b.run(997));
            assertEquals(a.engine.instructionsRetired(), b.engine.instructionsRetired(), "retired after slice " + i);
        }
        assertEquals(a.engine.exportState(), b.engine.exportState());
        assertTrue(b.engine.stats().get("bt-translated-instructions") > 2_000_000, () -> "ran translated: " + b.engine.stats());
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

    /**
     * Every condition (SETcc 0..15 to memory) after each kind of flag writer the translator keeps
     * statically (CMP, SUB, AND, TEST, OR, XOR, ADD, INC, DEC, NEG, SHL) at each size, on operands
     * that change every iteration (with equal low bytes now and then): all results compared with
     * the interpreter's.
     */
    @Test
    void everyConditionAfterEveryFlagWriterMatchesTheInterpreter() {
        int[][] writers = {
            {0x39, 0xD8},                   // cmp eax, ebx
            {0x38, 0xD8},                   // cmp al, bl
            {0x66, 0x39, 0xD8},             // cmp ax, bx
            {0x83, 0xF8, 0x00},             // cmp eax, 0
            {0x89, 0xC2, 0x29, 0xDA},       // mov edx, eax; sub edx, ebx
            {0x89, 0xC2, 0x66, 0x29, 0xDA}, // mov edx, eax; sub dx, bx
            {0x89, 0xC2, 0x21, 0xDA},       // mov edx, eax; and edx, ebx
            {0x84, 0xD8},                   // test al, bl
            {0x89, 0xC2, 0x08, 0xDA},       // mov edx, eax; or dl, bl
            {0x89, 0xC2, 0x66, 0x31, 0xDA}, // mov edx, eax; xor dx, bx
            {0x89, 0xC2, 0x01, 0xDA},       // mov edx, eax; add edx, ebx
            {0x89, 0xC2, 0x00, 0xDA},       // mov edx, eax; add dl, bl
            {0x89, 0xC2, 0x42},             // mov edx, eax; inc edx
            {0x89, 0xC2, 0x66, 0x4A},       // mov edx, eax; dec dx
            {0x89, 0xC2, 0xF7, 0xDA},       // mov edx, eax; neg edx
            {0x89, 0xC2, 0xD1, 0xE2},       // mov edx, eax; shl edx, 1
        };
        List<Integer> c = familyLoop(1);
        int loop = c.size();
        nextSeed(c);
        add(c, 0x89, 0xE8);                          // mov eax, ebp
        add(c, 0x25, 0x0F, 0x8F, 0x0F, 0x8F);        // and eax, 0x8F0F8F0F
        add(c, 0x89, 0xEB);                          // mov ebx, ebp
        add(c, 0xC1, 0xCB, 0x0B);                    // ror ebx, 11
        add(c, 0x81, 0xE3, 0x0F, 0x8F, 0x0F, 0x8F);  // and ebx, 0x8F0F8F0F
        for (int[] w : writers) {
            add(c, w);
            for (int cc = 0; cc < 16; cc++) {
                add(c, 0x0F, 0x90 + cc, 0x46, cc);   // setcc [esi + cc]
            }
            add(c, 0x8D, 0x76, 0x10);                // lea esi, [esi + 16]
        }
        add(c, 0x49);                                // dec ecx
        int[] code = jnzAndHalt(c, loop);
        Map<String, Long> stats = runBoth(code, 1_000_000, m -> m, 48 * 16 * writers.length);
        assertTranslatedShare(stats, 1, 3);
    }

    /**
     * Loads and stores of every size at every offset around a page boundary (DATA + 0x1000), in
     * a translated loop: those that cross it must take the slow path (the inline tag is that of
     * the last byte's page), those that do not the inline one; memory and registers compared.
     * Paging maps the page after the boundary onto DATA's own frame, so the bytes past the end of
     * the first page in the host buffer are not those the access must see.
     */
    @Test
    void accessesAcrossAPageBoundaryMatchTheInterpreter() {
        List<Integer> c = new ArrayList<>();
        add(c, 0xBE, 0xD0, 0x0F, 0x02, 0x00);        // mov esi, DATA + 0xfd0 (crossing in the translated rounds)
        add(c, 0xBD, 0x78, 0x56, 0x34, 0x12);        // mov ebp, 0x12345678
        add(c, 0xB9, 0x30, 0x00, 0x00, 0x00);        // mov ecx, 48
        int loop = c.size();
        add(c, 0x69, 0xED, 0x6D, 0x4E, 0xC6, 0x41);  // imul ebp, ebp, 0x41C64E6D
        add(c, 0x89, 0x2E);                          // mov [esi], ebp
        add(c, 0x66, 0x89, 0x6E, 0x05);              // mov [esi+5], bp
        add(c, 0x89, 0x6E, 0x09);                    // mov [esi+9], ebp
        add(c, 0x8B, 0x46, 0x03);                    // mov eax, [esi+3]
        add(c, 0x0F, 0xB7, 0x5E, 0x07);              // movzx ebx, word [esi+7]
        add(c, 0x8A, 0x56, 0x08);                    // mov dl, [esi+8]
        add(c, 0x01, 0x46, 0x06);                    // add [esi+6], eax
        add(c, 0x01, 0x05, 0x00, 0x00, 0x02, 0x00);  // add [DATA], eax
        add(c, 0x01, 0x1D, 0x04, 0x00, 0x02, 0x00);  // add [DATA + 4], ebx
        add(c, 0x01, 0x15, 0x08, 0x00, 0x02, 0x00);  // add [DATA + 8], edx
        add(c, 0x8D, 0x76, 0x01);                    // lea esi, [esi+1]
        add(c, 0x83, 0xFE, 0x00);                    // cmp esi, 0
        add(c, 0x49);                                // dec ecx
        int[] code = jnzAndHalt(c, loop);
        Map<String, Long> stats = runBoth(code, 1_000_000, m -> {
            for (int i = 0; i < 1024; i++) {
                m.memory.writeDword(0x42000 + i * 4L, (i == 0x21 ? 0x20 : i) << 12 | 0x3);
            }
            m.memory.writeDword(0x40000, 0x42000 | 0x3);
            CpuState st = m.engine.exportState();
            m.engine.importState(st.toBuilder().cr3(0x40000).cr0(st.cr0() | 0x8000_0000L).build());
            return m;
        }, 0x1100);
        assertTranslatedShare(stats, 1, 3);
    }

    /** The loop prologue of the instruction-family tests: esi = DATA, ecx = 48, ebp = a seed. */
    private static List<Integer> familyLoop() {
        return familyLoop(1);
    }

    /** The loop prologue with the iteration count (48) in register {@code counter}. */
    private static List<Integer> familyLoop(int counter) {
        List<Integer> c = new ArrayList<>();
        add(c, 0xBE, 0x00, 0x00, 0x02, 0x00);        // mov esi, DATA
        add(c, 0xB8 + counter, 0x30, 0x00, 0x00, 0x00); // mov counter, 48
        add(c, 0xBD, 0x78, 0x56, 0x34, 0x12);        // mov ebp, 0x12345678
        return c;
    }

    /** The next pseudo-random seed in ebp (a linear congruential step). */
    private static void nextSeed(List<Integer> c) {
        add(c, 0x69, 0xED, 0x6D, 0x4E, 0xC6, 0x41);  // imul ebp, ebp, 0x41C64E6D
        add(c, 0x81, 0xC5, 0x39, 0x30, 0x00, 0x00);  // add ebp, 12345
    }

    /** Closes the loop opened at {@code loop} (the next seed, esi += 32, dec ecx, jnz) and halts. */
    private static int[] closeLoop(List<Integer> c, int loop) {
        nextSeed(c);
        add(c, 0x83, 0xC6, 0x20);                    // add esi, 32
        add(c, 0x49);                                // dec ecx
        return jnzAndHalt(c, loop);
    }

    /** Appends {@code jnz loop} (rel32) and {@code hlt}; returns the program. */
    private static int[] jnzAndHalt(List<Integer> c, int loop) {
        int rel = loop - (c.size() + 6);
        add(c, 0x0F, 0x85, rel & 0xFF, rel >> 8 & 0xFF, rel >> 16 & 0xFF, rel >>> 24); // jnz loop
        add(c, 0xF4);                                // hlt
        return c.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * MUL, IMUL, DIV, IDIV at every size on changing operands, results stored and compared with
     * the interpreter; on the last iteration a DIV by zero (ebx = ecx - 1) raises #DE in the middle
     * of the translated loop, with flags of the instructions before it still in locals: the
     * handler (halt) sees the state and stack the interpreter leaves.
     */
    @Test
    void multiplyAndDivideAndAPreciseDivideError() {
        List<Integer> c = familyLoop();
        int loop = c.size();
        add(c, 0x89, 0xEB, 0xC1, 0xCB, 0x0D);        // mov ebx, ebp; ror ebx, 13
        add(c, 0x81, 0xCB, 0x01, 0xC1, 0x00, 0x00);  // or ebx, 0xc101
        add(c, 0x80, 0xE3, 0x7F);                    // and bl, 0x7f
        add(c, 0x89, 0xE8, 0xF7, 0xE3);              // mov eax, ebp; mul ebx
        add(c, 0x89, 0x06, 0x89, 0x56, 0x04);        // mov [esi], eax; mov [esi+4], edx
        add(c, 0x89, 0xE8, 0xF6, 0xEB);              // mov eax, ebp; imul bl
        add(c, 0x89, 0x46, 0x08);                    // mov [esi+8], eax
        add(c, 0x89, 0xE8, 0x66, 0xF7, 0x2E);        // mov eax, ebp; imul word [esi]
        add(c, 0x89, 0x46, 0x0C, 0x89, 0x56, 0x10);  // mov [esi+12], eax; mov [esi+16], edx
        add(c, 0x89, 0xE8, 0x31, 0xD2, 0xF7, 0xF3);  // mov eax, ebp; xor edx, edx; div ebx
        add(c, 0x89, 0x46, 0x14, 0x89, 0x56, 0x18);  // mov [esi+20], eax; mov [esi+24], edx
        add(c, 0x89, 0xE8, 0x99, 0xF7, 0xFB);        // mov eax, ebp; cdq; idiv ebx
        add(c, 0x01, 0x46, 0x14, 0x01, 0x56, 0x18);  // add [esi+20], eax; add [esi+24], edx
        add(c, 0x89, 0xEA, 0x81, 0xE2, 0xFF, 0x3F, 0x00, 0x00); // mov edx, ebp; and edx, 0x3fff
        add(c, 0x81, 0xCA, 0x00, 0x80, 0x00, 0x00);  // or edx, 0x8000: DX:AX >= 2^31, DX < BX
        add(c, 0x66, 0xF7, 0xF3, 0x01, 0x56, 0x18);  // div bx; add [esi+24], edx
        add(c, 0x0F, 0xB6, 0xC0, 0xF6, 0xF3);        // movzx eax, al; div bl
        add(c, 0x66, 0x98, 0xF6, 0xFB);              // cbw; idiv bl
        add(c, 0x89, 0x46, 0x1C);                    // mov [esi+28], eax
        add(c, 0x8D, 0x59, 0xFF);                    // lea ebx, [ecx-1]
        add(c, 0xB8, 0x64, 0x00, 0x00, 0x00);        // mov eax, 100
        add(c, 0x31, 0xD2);                          // xor edx, edx (flags in locals)
        add(c, 0xF7, 0xF3);                          // div ebx: #DE when ecx = 1
        int[] code = Arrays.copyOf(closeLoop(c, loop), 0x900);
        code[0x800] = 0xF4;                          // #DE handler: hlt
        Map<String, Long> stats = runBoth(code, 1_000_000, m -> {
            m.gate(0, TestMachine.CODE32, CODE + 0x800, 0xE, 0);
            return m;
        }, 48 * 32);
        assertTranslatedShare(stats, 1, 3);
    }

    /** BT, BTS, BTR, BTC on registers and memory, immediate and register (signed) bit offsets. */
    @Test
    void bitTestsOnRegistersAndMemory() {
        List<Integer> c = familyLoop();
        int loop = c.size();
        add(c, 0x89, 0xE8, 0x89, 0xEB, 0xC1, 0xCB, 0x05); // mov eax, ebp; mov ebx, ebp; ror ebx, 5
        add(c, 0x0F, 0xA3, 0xD8, 0x0F, 0x92, 0x06);       // bt eax, ebx; setc [esi]
        add(c, 0x0F, 0xBA, 0xE8, 0x07, 0x0F, 0x92, 0x46, 0x01); // bts eax, 7; setc [esi+1]
        add(c, 0x0F, 0xB3, 0xD8, 0x0F, 0x92, 0x46, 0x02); // btr eax, ebx; setc [esi+2]
        add(c, 0x66, 0x0F, 0xBB, 0xD8, 0x0F, 0x92, 0x46, 0x03); // btc ax, bx; setc [esi+3]
        add(c, 0x89, 0x46, 0x04, 0x89, 0x6E, 0x08);       // mov [esi+4], eax; mov [esi+8], ebp
        add(c, 0x89, 0x6E, 0x0C);                         // mov [esi+12], ebp
        add(c, 0x83, 0xE3, 0x3F, 0x83, 0xEB, 0x10);       // and ebx, 63; sub ebx, 16
        add(c, 0x0F, 0xAB, 0x5E, 0x08, 0x0F, 0x92, 0x46, 0x10); // bts [esi+8], ebx; setc [esi+16]
        add(c, 0x66, 0x0F, 0xB3, 0x5E, 0x08, 0x0F, 0x92, 0x46, 0x11); // btr [esi+8], bx; setc [esi+17]
        add(c, 0x0F, 0xBB, 0x5E, 0x08, 0x0F, 0x92, 0x46, 0x12); // btc [esi+8], ebx; setc [esi+18]
        add(c, 0x0F, 0xBA, 0x7E, 0x0C, 0x03);             // btc dword [esi+12], 3
        add(c, 0x0F, 0xBA, 0x66, 0x08, 0x1F, 0x0F, 0x92, 0x46, 0x13); // bt dword [esi+8], 31; setc [esi+19]
        add(c, 0x0F, 0xA3, 0x5E, 0x08, 0x0F, 0x92, 0x46, 0x14); // bt [esi+8], ebx; setc [esi+20]
        add(c, 0x0F, 0x94, 0x46, 0x15);                   // setz [esi+21] (ZF kept by BT*)
        int[] code = closeLoop(c, loop);
        assertTranslatedShare(runBoth(code, 1_000_000, m -> m, 48 * 32), 1, 3);
    }

    /** SHLD/SHRD on registers and memory by CL (0..31, 16-bit counts above 16 too) and immediates. */
    @Test
    void doublePrecisionShifts() {
        List<Integer> c = familyLoop(7);
        int loop = c.size();
        nextSeed(c);
        add(c, 0x89, 0xE8, 0x89, 0xEB, 0xC1, 0xCB, 0x09); // mov eax, ebp; mov ebx, ebp; ror ebx, 9
        add(c, 0x89, 0xE9, 0xC1, 0xE9, 0x1B);             // mov ecx, ebp; shr ecx, 27 (0..31)
        add(c, 0x0F, 0xA5, 0xD8);                         // shld eax, ebx, cl
        add(c, 0x0F, 0x92, 0x06, 0x0F, 0x90, 0x46, 0x01); // setc [esi]; seto [esi+1]
        add(c, 0x0F, 0x98, 0x46, 0x02);                   // sets [esi+2]
        add(c, 0x89, 0xEA, 0x0F, 0xAC, 0xDA, 0x0D);       // mov edx, ebp; shrd edx, ebx, 13
        add(c, 0x0F, 0x92, 0x46, 0x03);                   // setc [esi+3]
        add(c, 0x89, 0x6E, 0x04, 0x0F, 0xA5, 0x5E, 0x04); // mov [esi+4], ebp; shld [esi+4], ebx, cl
        add(c, 0x0F, 0x94, 0x46, 0x08);                   // setz [esi+8]
        add(c, 0x89, 0x6E, 0x0C, 0x66, 0x0F, 0xAD, 0x5E, 0x0C); // mov [esi+12], ebp; shrd [esi+12], bx, cl
        add(c, 0x66, 0x0F, 0xA5, 0xD8);                   // shld ax, bx, cl
        add(c, 0x0F, 0x92, 0x46, 0x09, 0x0F, 0x90, 0x46, 0x0A); // setc [esi+9]; seto [esi+10]
        add(c, 0x0F, 0xAC, 0xD8, 0x00);                   // shrd eax, ebx, 0 (nothing)
        add(c, 0x0F, 0x92, 0x46, 0x0B);                   // setc [esi+11]
        add(c, 0x89, 0x46, 0x10, 0x89, 0x56, 0x14);       // mov [esi+16], eax; mov [esi+20], edx
        add(c, 0x83, 0xC6, 0x20, 0x4F);                   // add esi, 32; dec edi
        int[] code = jnzAndHalt(c, loop);
        assertTranslatedShare(runBoth(code, 1_000_000, m -> m, 48 * 32), 1, 3);
    }

    /**
     * XADD and CMPXCHG on registers (also high bytes) and memory, equal and unequal compares; XCHG on
     * registers, and with memory, which is locked and left to the interpreter between translations.
     */
    @Test
    void exchangesOnRegistersAndMemory() {
        List<Integer> c = familyLoop();
        int loop = c.size();
        add(c, 0x89, 0xE8, 0x89, 0xEB, 0xC1, 0xCB, 0x03); // mov eax, ebp; mov ebx, ebp; ror ebx, 3
        add(c, 0x89, 0x1E, 0x87, 0x06);                   // mov [esi], ebx; xchg [esi], eax
        add(c, 0x89, 0x6E, 0x04, 0x0F, 0xC1, 0x5E, 0x04); // mov [esi+4], ebp; xadd [esi+4], ebx
        add(c, 0x0F, 0x92, 0x46, 0x08, 0x0F, 0x90, 0x46, 0x09); // setc [esi+8]; seto [esi+9]
        add(c, 0x0F, 0xC1, 0xDA);                         // xadd edx, ebx
        add(c, 0x0F, 0xC0, 0xE4);                         // xadd ah, ah
        add(c, 0x89, 0x46, 0x0C, 0x0F, 0xB1, 0x5E, 0x0C); // mov [esi+12], eax; cmpxchg [esi+12], ebx
        add(c, 0x0F, 0x94, 0x46, 0x0A);                   // setz [esi+10]
        add(c, 0x0F, 0xB1, 0x56, 0x0C);                   // cmpxchg [esi+12], edx
        add(c, 0x0F, 0x94, 0x46, 0x0B, 0x0F, 0x92, 0x46, 0x1C); // setz [esi+11]; setc [esi+28]
        add(c, 0x0F, 0xB0, 0xDA, 0x0F, 0x94, 0x46, 0x1D); // cmpxchg dl, bl; setz [esi+29]
        add(c, 0x66, 0x0F, 0xB1, 0xD3);                   // cmpxchg bx, dx
        add(c, 0x86, 0xE0, 0x66, 0x87, 0x56, 0x1E);       // xchg al, ah; xchg [esi+30], dx
        add(c, 0x89, 0x46, 0x10, 0x89, 0x56, 0x14);       // mov [esi+16], eax; mov [esi+20], edx
        add(c, 0x89, 0x5E, 0x18);                         // mov [esi+24], ebx
        int[] code = closeLoop(c, loop);
        assertTranslatedShare(runBoth(code, 1_000_000, m -> m, 48 * 32), 1, 3);
    }

    private static void add(List<Integer> code, int... bytes) {
        for (int b : bytes) {
            code.add(b);
        }
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
        int[] code = withGpHandler(
            0xBA, 0x00, 0xF0, 0x01, 0x00,       // 00: mov edx, 0x1f000
            0x89, 0xD7,                         // 05: loop: mov edi, edx
            0x31, 0xF6,                         // 07: xor esi, esi
            0xB9, 0x40, 0x00, 0x00, 0x00,       // 09: mov ecx, 64
            0xF3, 0xA5,                         // 0e: rep movsd
            0x83, 0xC2, 0x10,                   // 10: add edx, 16
            0xEB, 0xF0                          // 13: jmp loop
        );
        TestMachine b = gpFaultOnBoth(code, CODE + 0x0E);
        assertEquals(4, b.engine.exportState().gpr(1), "ECX: the 4 iterations not done");
    }

    /**
     * REPE CMPSD up to a planted difference, REPNE SCASB for a byte, and 16-bit addressing (SI, DI,
     * CX only; the upper halves kept) with REP STOSB, CMPSB and a downward REPNE SCASB: registers,
     * flags and results compared with the interpreter.
     */
    @Test
    void compareAndScanStringsWithRepeConditionsAndSixteenBitAddressing() {
        List<Integer> c = new ArrayList<>();
        add(c, 0xBD, 0x78, 0x56, 0x34, 0x12);        // mov ebp, 0x12345678
        add(c, 0xBB, 0x3C, 0x00, 0x00, 0x00);        // mov ebx, 60
        int loop = c.size();
        add(c, 0x69, 0xED, 0x6D, 0x4E, 0xC6, 0x41);  // imul ebp, ebp, 0x41C64E6D
        add(c, 0x81, 0xC5, 0x39, 0x30, 0x00, 0x00);  // add ebp, 12345
        add(c, 0xBE, 0x00, 0x00, 0x02, 0x00);        // mov esi, DATA
        add(c, 0xBF, 0x40, 0x00, 0x02, 0x00);        // mov edi, DATA + 0x40
        add(c, 0xB9, 0x10, 0x00, 0x00, 0x00);        // mov ecx, 16
        add(c, 0xF3, 0xA5);                          // rep movsd
        add(c, 0x89, 0xE8, 0x83, 0xE0, 0x0F);        // mov eax, ebp; and eax, 15
        add(c, 0x89, 0x2C, 0x85, 0x40, 0x00, 0x02, 0x00); // mov [DATA + 0x40 + eax*4], ebp
        add(c, 0xBE, 0x00, 0x00, 0x02, 0x00);        // mov esi, DATA
        add(c, 0xBF, 0x40, 0x00, 0x02, 0x00);        // mov edi, DATA + 0x40
        add(c, 0xB9, 0x10, 0x00, 0x00, 0x00);        // mov ecx, 16
        add(c, 0xF3, 0xA7);                          // repe cmpsd
        add(c, 0x0F, 0x94, 0x05, 0x84, 0x00, 0x02, 0x00); // setz [DATA + 0x84]
        add(c, 0x0F, 0x92, 0x05, 0x85, 0x00, 0x02, 0x00); // setc [DATA + 0x85]
        add(c, 0x89, 0x0D, 0x80, 0x00, 0x02, 0x00);  // mov [DATA + 0x80], ecx
        add(c, 0x89, 0xE8);                          // mov eax, ebp
        add(c, 0xBF, 0x40, 0x00, 0x02, 0x00);        // mov edi, DATA + 0x40
        add(c, 0xB9, 0x40, 0x00, 0x00, 0x00);        // mov ecx, 64
        add(c, 0xF2, 0xAE);                          // repne scasb
        add(c, 0x0F, 0x94, 0x05, 0x86, 0x00, 0x02, 0x00); // setz [DATA + 0x86]
        add(c, 0x89, 0x0D, 0x88, 0x00, 0x02, 0x00);  // mov [DATA + 0x88], ecx
        add(c, 0x89, 0x3D, 0x8C, 0x00, 0x02, 0x00);  // mov [DATA + 0x8c], edi
        add(c, 0x89, 0xD8);                          // mov eax, ebx
        add(c, 0xBF, 0x00, 0xA0, 0xCD, 0xAB);        // mov edi, 0xabcda000
        add(c, 0xB9, 0x00, 0x01, 0x34, 0x12);        // mov ecx, 0x12340100
        add(c, 0x67, 0xF3, 0xAA);                    // rep stosb (DI, CX)
        add(c, 0x88, 0x2D, 0x80, 0xA0, 0x00, 0x00);  // mov [0xa080], ch: plants a difference
        add(c, 0xBE, 0x00, 0xA0, 0x11, 0x11);        // mov esi, 0x1111a000
        add(c, 0xBF, 0x40, 0xA0, 0x22, 0x22);        // mov edi, 0x2222a040
        add(c, 0xB9, 0x80, 0x00, 0x33, 0x33);        // mov ecx, 0x33330080
        add(c, 0x67, 0xF3, 0xA6);                    // repe cmpsb (SI, DI, CX)
        add(c, 0x0F, 0x97, 0x05, 0x87, 0x00, 0x02, 0x00); // seta [DATA + 0x87]
        add(c, 0x89, 0x35, 0x90, 0x00, 0x02, 0x00);  // mov [DATA + 0x90], esi
        add(c, 0x89, 0x0D, 0x94, 0x00, 0x02, 0x00);  // mov [DATA + 0x94], ecx
        add(c, 0xFD);                                // std
        add(c, 0xBF, 0xFF, 0xA0, 0x44, 0x44);        // mov edi, 0x4444a0ff
        add(c, 0xB9, 0x00, 0x01, 0x55, 0x55);        // mov ecx, 0x55550100
        add(c, 0x67, 0xF2, 0xAE);                    // repne scasb (DI, CX, downwards)
        add(c, 0xFC);                                // cld
        add(c, 0x89, 0x3D, 0x98, 0x00, 0x02, 0x00);  // mov [DATA + 0x98], edi
        add(c, 0x89, 0x0D, 0x9C, 0x00, 0x02, 0x00);  // mov [DATA + 0x9c], ecx
        add(c, 0x4B);                                // dec ebx
        int[] code = jnzAndHalt(c, loop);
        Map<String, Long> stats = runBoth(code, 1_000_000, m -> m, 0x100);
        assertTranslatedShare(stats, 1, 3);
    }

    @Test
    void aFaultInTheMiddleOfARepeCmpsLeavesTheIterationsDoneAndTheirFlags() {
        // As the REP MOVS case, with REPE CMPSD over equal (zero) memory after an add whose flags
        // differ from a compare's: the #GP handler sees ECX, ESI, EDI and the flags of the 60th compare.
        int[] code = withGpHandler(
            0xBA, 0x00, 0xF0, 0x01, 0x00,       // 00: mov edx, 0x1f000
            0x89, 0xD7,                         // 05: loop: mov edi, edx
            0xBE, 0x00, 0x00, 0x03, 0x00,       // 07: mov esi, 0x30000
            0xB9, 0x40, 0x00, 0x00, 0x00,       // 0c: mov ecx, 64
            0x83, 0xC0, 0xFF,                   // 11: add eax, -1
            0xF3, 0xA7,                         // 14: repe cmpsd
            0x83, 0xC2, 0x10,                   // 16: add edx, 16
            0xEB, 0xEA                          // 19: jmp loop
        );
        TestMachine b = gpFaultOnBoth(code, CODE + 0x14);
        assertEquals(4, b.engine.exportState().gpr(1), "ECX: the 4 iterations not done");
    }

    @Test
    void aFaultAtTheLoopHeadSeesTheFlagsOfThePreviousIteration() {
        // The load at the loop head faults at the ES limit; the flags the #GP handler pushes are
        // those of the previous iteration's sub (kept in locals across the back edge).
        int[] code = withGpHandler(
            0xBE, 0x00, 0xF0, 0x01, 0x00,       // 00: mov esi, 0x1f000
            0xB8, 0x00, 0x00, 0x00, 0x80,       // 05: mov eax, 0x80000000
            0x26, 0x8B, 0x16,                   // 0a: loop: mov edx, es:[esi]
            0x83, 0xC6, 0x40,                   // 0d: add esi, 64
            0x29, 0xF0,                         // 10: sub eax, esi
            0xEB, 0xF6                          // 12: jmp loop
        );
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

    @Test
    void softwareInterruptsExceptionsAndIretRunTranslatedInProtectedMode() {
        // INT n, UD2 (#UD), INT3 and INTO (#OF when the add overflowed) go through ring-0 interrupt
        // gates to handlers that IRET to the same ring; the #UD handler skips the UD2.
        int[] code = layout(
            new int[] {0x00, 0xB9, 0xE8, 0x03, 0x00, 0x00,  // 00: mov ecx, 1000
                0xCD, 0x30,                     // 05: loop: int 0x30
                0x0F, 0x0B,                     // 07: ud2
                0xCC,                           // 09: int3
                0x05, 0xF0, 0xFF, 0xFF, 0x7F,   // 0a: add eax, 0x7ffffff0
                0xCE,                           // 0f: into
                0x49,                           // 10: dec ecx
                0x75, 0xF2,                     // 11: jnz loop
                0xF4},                          // 13: hlt
            new int[] {0x40, 0x43, 0xCF},                   // int 0x30: inc ebx; iret
            new int[] {0x48, 0x83, 0x04, 0x24, 0x02, 0xCF}, // #UD: add dword [esp], 2; iret
            new int[] {0x50, 0x83, 0xC6, 0x03, 0xCF},       // #BP: add esi, 3; iret
            new int[] {0x58, 0x47, 0xCF});                  // #OF: inc edi; iret
        Map<String, Long> s = runBoth(code, 1_000_000, gates(0x30, 0x40, 0, 6, 0x48, 0, 3, 0x50, 0, 4, 0x58, 0));
        assertEquals(1000L, s.get("exceptions"), "a #UD per iteration (INT3 and INTO count as software interrupts): " + s);
        assertTrue(s.get("bt-sensitive-sites-int-iret") >= 7, "INT 0x30, INT3, INTO and four IRETs: " + s);
        long runs = s.get("bt-sensitive-runs-int-iret");
        assertTrue(runs > 5000 && runs <= 8000, "about 7 INT/IRET per iteration once hot: " + s);
        assertTranslatedShare(s, 1, 2);
    }

    @Test
    void softwareInterruptsRunTranslatedInRealMode() {
        int[] code = {
            0xB9, 0xE8, 0x03,                   // 00: mov cx, 1000
            0xCD, 0x30,                         // 03: loop: int 0x30
            0x01, 0xC2,                         // 05: add dx, ax
            0x49,                               // 07: dec cx
            0x75, 0xF9,                         // 08: jnz loop
            0xF4,                               // 0a: hlt
            0, 0, 0, 0, 0,
            0x40,                               // 10: handler: inc ax
            0xCF,                               // 11: iret
        };
        Map<String, Long> s = runBoth(code, 1_000_000, m -> {
            m.real(CODE >>> 4, 0);
            m.memory.writeWord(0x30 * 4, 0x10);             // IVT: 1000:0010
            m.memory.writeWord(0x30 * 4 + 2, CODE >>> 4);
            return m;
        });
        long runs = s.get("bt-sensitive-runs-int-iret");
        assertTrue(runs > 1800 && runs <= 2000, "INT and IRET of each iteration once hot: " + s);
        assertTranslatedShare(s, 1, 2);
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
    void interruptsFromRingThreeReturnToItAndFaultsWhileDeliveringArePrecise() {
        // Ring 0 IRETs to a ring-3 loop. There, INT 0x31 (a DPL-3 gate) enters a ring-0 handler on
        // the TSS stack that IRETs back to the outer ring; INT 0x33 (a DPL-0 gate) faults while it
        // is delivered: #GP(0x33 * 8 + 2) at the INT, whose handler keeps the error code and skips it.
        int[] code = layout(
            new int[] {0x00, 0x6A, 0x33,        // 00: push 0x33          (SS: ring-3 data)
                0x68, 0x00, 0x88, 0x00, 0x00,   // 02: push 0x8800        (ESP)
                0x6A, 0x02,                     // 07: push 2             (EFLAGS)
                0x6A, 0x2B,                     // 09: push 0x2b          (CS: ring-3 code)
                0x68, 0x20, 0x00, 0x01, 0x00,   // 0b: push 0x10020       (EIP)
                0xB9, 0xE8, 0x03, 0x00, 0x00,   // 10: mov ecx, 1000
                0xCF},                          // 15: iret               (to ring 3)
            new int[] {0x20, 0xCD, 0x31,        // 20: loop: int 0x31
                0xCD, 0x33,                     // 22: int 0x33           (#GP while delivering)
                0x01, 0xD8,                     // 24: add eax, ebx
                0x01, 0xD6,                     // 26: add esi, edx
                0x49,                           // 28: dec ecx
                0x75, 0xF5,                     // 29: jnz loop
                0xCD, 0x32},                    // 2b: int 0x32           (its handler halts)
            new int[] {0x40, 0x43, 0xCF},       // 40: inc ebx; iret      (to ring 3)
            new int[] {0x48, 0xF4},             // 48: hlt
            new int[] {0x50, 0x8B, 0x14, 0x24,  // 50: mov edx, [esp]     (the error code)
                0x83, 0xC4, 0x04,               // 53: add esp, 4
                0x83, 0x04, 0x24, 0x02,         // 56: add dword [esp], 2
                0xCF});                         // 5a: iret               (to ring 3)
        Map<String, Long> s = runBoth(code, 1_000_000, gates(0x31, 0x40, 3, 0x32, 0x48, 3, 0x33, 0x50, 0, 13, 0x50, 0));
        assertTrue(s.get("exceptions") >= 1000, "a #GP per iteration: " + s);
        long runs = s.get("bt-sensitive-runs-int-iret");
        assertTrue(runs > 3500 && runs <= 4001, "INT 0x31, INT 0x33 and two IRETs per iteration once hot: " + s);
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
