package org.polyvisor.x86;

/**
 * The x86 exception table (SDM Vol. 3A, 6.3.1 Table 6-1 and 6.15 Table 6-4/6-5) as data: mnemonic,
 * class for the double-fault rules, fault/trap/abort kind and error code, per vector.
 */
public final class ExceptionVectors {

    /** Divide error. */
    public static final int DE = 0;
    /** Debug. */
    public static final int DB = 1;
    /** Non-maskable interrupt. */
    public static final int NMI = 2;
    /** Breakpoint (INT3). */
    public static final int BP = 3;
    /** Overflow (INTO). */
    public static final int OF = 4;
    /** BOUND range exceeded. */
    public static final int BR = 5;
    /** Invalid opcode. */
    public static final int UD = 6;
    /** Device not available (x87 with CR0.EM or CR0.TS). */
    public static final int NM = 7;
    /** Double fault. */
    public static final int DF = 8;
    /** Coprocessor segment overrun (reserved on i486 and later). */
    public static final int CSO = 9;
    /** Invalid TSS. */
    public static final int TS = 10;
    /** Segment not present. */
    public static final int NP = 11;
    /** Stack-segment fault. */
    public static final int SS = 12;
    /** General protection. */
    public static final int GP = 13;
    /** Page fault. */
    public static final int PF = 14;
    /** x87 floating-point error. */
    public static final int MF = 16;
    /** Alignment check. */
    public static final int AC = 17;
    /** Machine check. */
    public static final int MC = 18;
    /** SIMD floating-point exception. */
    public static final int XM = 19;

    /** Error-code bit 0: the event was external to the program (SDM 6.13). */
    public static final int ERROR_EXT = 1;
    /** Error-code bit 1: the selector index refers to an IDT gate. */
    public static final int ERROR_IDT = 2;
    /** Error-code bit 2: the selector refers to the LDT. */
    public static final int ERROR_TI = 4;

    /** Class for the double-fault rules (SDM Table 6-4). */
    public enum ExceptionClass {
        /** Delivered serially after another one. */
        BENIGN,
        /** Two of these in a row make a double fault. */
        CONTRIBUTORY,
        /** Page fault: a contributory exception or a page fault after it makes a double fault. */
        PAGE_FAULT,
        /** Double fault itself: any further fault during its delivery is a triple fault. */
        DOUBLE_FAULT
    }

    /** How the saved instruction pointer relates to the instruction (SDM 6.5). */
    public enum Kind {
        /** Reported before the instruction; the saved EIP points at it, so it can restart. */
        FAULT,
        /** Reported after the instruction; the saved EIP points at the next one. */
        TRAP,
        /** Fault or trap depending on the condition (#DB). */
        FAULT_OR_TRAP,
        /** No reliable restart point. */
        ABORT,
        /** An interrupt (NMI). */
        INTERRUPT,
        /** Reserved vector. */
        RESERVED
    }

    /**
     * One row of the table.
     *
     * @param vector       the vector
     * @param mnemonic     e.g. {@code #GP}
     * @param name         e.g. {@code general protection}
     * @param exceptionClass its double-fault class
     * @param kind         fault, trap, abort ...
     * @param errorCode    whether delivery pushes an error code
     */
    public record Info(int vector, String mnemonic, String name, ExceptionClass exceptionClass, Kind kind,
                       boolean errorCode) {
    }

    private static final Info[] TABLE = new Info[32];

    static {
        row(DE, "#DE", "divide error", ExceptionClass.CONTRIBUTORY, Kind.FAULT, false);
        row(DB, "#DB", "debug", ExceptionClass.BENIGN, Kind.FAULT_OR_TRAP, false);
        row(NMI, "NMI", "non-maskable interrupt", ExceptionClass.BENIGN, Kind.INTERRUPT, false);
        row(BP, "#BP", "breakpoint", ExceptionClass.BENIGN, Kind.TRAP, false);
        row(OF, "#OF", "overflow", ExceptionClass.BENIGN, Kind.TRAP, false);
        row(BR, "#BR", "bound range exceeded", ExceptionClass.BENIGN, Kind.FAULT, false);
        row(UD, "#UD", "invalid opcode", ExceptionClass.BENIGN, Kind.FAULT, false);
        row(NM, "#NM", "device not available", ExceptionClass.BENIGN, Kind.FAULT, false);
        row(DF, "#DF", "double fault", ExceptionClass.DOUBLE_FAULT, Kind.ABORT, true);
        row(CSO, "#CSO", "coprocessor segment overrun", ExceptionClass.BENIGN, Kind.ABORT, false);
        row(TS, "#TS", "invalid TSS", ExceptionClass.CONTRIBUTORY, Kind.FAULT, true);
        row(NP, "#NP", "segment not present", ExceptionClass.CONTRIBUTORY, Kind.FAULT, true);
        row(SS, "#SS", "stack-segment fault", ExceptionClass.CONTRIBUTORY, Kind.FAULT, true);
        row(GP, "#GP", "general protection", ExceptionClass.CONTRIBUTORY, Kind.FAULT, true);
        row(PF, "#PF", "page fault", ExceptionClass.PAGE_FAULT, Kind.FAULT, true);
        row(MF, "#MF", "x87 floating-point error", ExceptionClass.BENIGN, Kind.FAULT, false);
        row(AC, "#AC", "alignment check", ExceptionClass.BENIGN, Kind.FAULT, true);
        row(MC, "#MC", "machine check", ExceptionClass.BENIGN, Kind.ABORT, false);
        row(XM, "#XM", "SIMD floating-point exception", ExceptionClass.BENIGN, Kind.FAULT, false);
        for (int v = 0; v < TABLE.length; v++) {
            if (TABLE[v] == null) {
                row(v, "#" + v, "reserved", ExceptionClass.BENIGN, Kind.RESERVED, false);
            }
        }
    }

    private ExceptionVectors() {
    }

    private static void row(int v, String mnemonic, String name, ExceptionClass c, Kind k, boolean err) {
        TABLE[v] = new Info(v, mnemonic, name, c, k, err);
    }

    /**
     * Returns the table row of an exception vector.
     *
     * @param vector 0..31
     * @return the row
     * @throws IllegalArgumentException outside 0..31 (those are interrupts, not exceptions)
     */
    public static Info info(int vector) {
        if (vector < 0 || vector >= TABLE.length) {
            throw new IllegalArgumentException("not an exception vector: " + vector);
        }
        return TABLE[vector];
    }

    /**
     * Tells whether delivering the vector as an exception pushes an error code.
     *
     * @param vector any vector
     * @return true for #DF, #TS, #NP, #SS, #GP, #PF, #AC
     */
    public static boolean hasErrorCode(int vector) {
        return vector >= 0 && vector < TABLE.length && TABLE[vector].errorCode;
    }

    /**
     * Returns the mnemonic of a vector, e.g. {@code #GP}, or {@code INT 0x41} beyond 31.
     *
     * @param vector the vector
     * @return the mnemonic
     */
    public static String mnemonic(int vector) {
        return vector >= 0 && vector < TABLE.length ? TABLE[vector].mnemonic : String.format("INT 0x%x", vector);
    }

    /**
     * Applies SDM Table 6-5: what happens when {@code second} occurs while delivering {@code first}.
     *
     * @param first  the exception being delivered (a vector 0..255; above 31 counts as benign)
     * @param second the exception raised during its delivery
     * @return the outcome
     */
    public static Outcome combine(int first, int second) {
        ExceptionClass a = first < TABLE.length ? TABLE[first].exceptionClass : ExceptionClass.BENIGN;
        ExceptionClass b = second < TABLE.length ? TABLE[second].exceptionClass : ExceptionClass.BENIGN;
        if (a == ExceptionClass.DOUBLE_FAULT) {
            return Outcome.TRIPLE_FAULT;
        }
        boolean bSerious = b == ExceptionClass.CONTRIBUTORY || b == ExceptionClass.PAGE_FAULT;
        if (a == ExceptionClass.CONTRIBUTORY && b == ExceptionClass.CONTRIBUTORY
                || a == ExceptionClass.PAGE_FAULT && bSerious) {
            return Outcome.DOUBLE_FAULT;
        }
        return Outcome.SERIAL;
    }

    /** Result of {@link #combine(int, int)}. */
    public enum Outcome {
        /** Deliver the second exception normally (the first is lost or re-raised on return). */
        SERIAL,
        /** Deliver #DF(0) instead. */
        DOUBLE_FAULT,
        /** The processor shuts down. */
        TRIPLE_FAULT
    }
}
