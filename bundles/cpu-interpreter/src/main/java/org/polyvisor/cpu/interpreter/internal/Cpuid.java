package org.polyvisor.cpu.interpreter.internal;

/**
 * The CPUID model: a P6-family "GenuineIntel" processor (family 6, model 3, stepping 3) that
 * reports only what this engine implements (SDM Vol. 2A, CPUID).
 */
final class Cpuid {

    /** Signature in EAX of leaf 1 and in EDX at reset. */
    static final int SIGNATURE = 0x0000_0633;

    /** Leaf 1 EDX: TSC (4), MSR (5), CX8 (8), SEP (11), CMOV (15), PSE (3), PAE (6). */
    static final int FEATURES_EDX = 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 8 | 1 << 11 | 1 << 15;

    private Cpuid() {
    }

    static void execute(Cpu c) {
        int leaf = c.r[0];
        int a;
        int b;
        int cx;
        int d;
        if (leaf == 0) {
            a = 1;
            b = 0x756E_6547; // "Genu"
            d = 0x4965_6E69; // "ineI"
            cx = 0x6C65_746E; // "ntel"
        } else if (leaf == 1 || leaf > 1 && leaf < 0x8000_0000) {
            // Intel returns the highest basic leaf for leaves above it.
            a = SIGNATURE;
            b = c.context.vcpuId() << 24;
            cx = 0;
            d = FEATURES_EDX;
        } else {
            a = 0;
            b = 0;
            cx = 0;
            d = 0;
        }
        c.r[0] = a;
        c.r[3] = b;
        c.r[1] = cx;
        c.r[2] = d;
    }
}
