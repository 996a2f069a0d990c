package org.polyvisor.cpu.interpreter;

import org.polyvisor.cpu.Exit;

/**
 * Measures the interpreter's speed on two tight guest loops in flat 32-bit mode: {@code dec ecx; jnz}
 * and a mix of ALU and memory operations. Prints instructions per second for each.
 *
 * <p>Run after {@code mvn -o -pl bundles/x86,bundles/cpu-interpreter install}:
 * {@code java -cp <test-classes:classes:api.jar:x86.jar> org.polyvisor.cpu.interpreter.InterpreterBench [seconds]}
 */
public final class InterpreterBench {

    private static final int[] DEC_JNZ = {
        0x49,                   // L: dec ecx
        0x75, 0xFD,             // jnz L
        0xEB, 0xFB,             // jmp L
    };

    private static final int[] MIX = {
        0xBE, 0x00, 0x00, 0x02, 0x00,   // mov esi, 0x20000
        0xB9, 0xE8, 0x03, 0x00, 0x00,   // L: mov ecx, 1000
        0x01, 0xC8,                     // M: add eax, ecx
        0x31, 0xC3,                     // xor ebx, eax
        0x89, 0x1E,                     // mov [esi], ebx
        0x8B, 0x16,                     // mov edx, [esi]
        0xFF, 0x46, 0x04,               // inc dword [esi+4]
        0x49,                           // dec ecx
        0x75, 0xF2,                     // jnz M
        0xEB, 0xEB,                     // jmp L
    };

    private InterpreterBench() {
    }

    public static void main(String[] args) {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        run("dec ecx; jnz", DEC_JNZ, seconds);
        run("alu+memory mix", MIX, seconds);
    }

    private static void run(String name, int[] code, double seconds) {
        TestMachine m = new TestMachine();
        m.flat32(0x10000);
        m.memory.load(0x10000, code);
        // warm up the JIT
        long warmEnd = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < warmEnd) {
            m.run(1_000_000);
        }
        long start = m.engine.instructionsRetired();
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        long now;
        do {
            Exit e = m.run(5_000_000);
            if (!(e instanceof Exit.BudgetSpent)) {
                throw new IllegalStateException("unexpected exit " + e);
            }
            now = System.nanoTime();
        } while (now < end);
        long n = m.engine.instructionsRetired() - start;
        double ips = n / ((now - t0) / 1e9);
        System.out.printf("%-16s %,14d instructions in %.2f s: %.1f M instructions/s%n", name, n, (now - t0) / 1e9,
                ips / 1e6);
        System.out.println("  " + m.engine.stats());
    }
}
