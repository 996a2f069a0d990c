package org.polyvisor.x86;

/** EFLAGS bits (SDM Vol. 1, 3.4.3). */
public final class Eflags {
    /** Carry. */
    public static final int CF = 1;
    /** Bit 1, always set. */
    public static final int FIXED = 1 << 1;
    /** Parity of the low result byte. */
    public static final int PF = 1 << 2;
    /** Auxiliary carry out of bit 3. */
    public static final int AF = 1 << 4;
    /** Zero. */
    public static final int ZF = 1 << 6;
    /** Sign. */
    public static final int SF = 1 << 7;
    /** Trap (single step). */
    public static final int TF = 1 << 8;
    /** Interrupt enable. */
    public static final int IF = 1 << 9;
    /** Direction. */
    public static final int DF = 1 << 10;
    /** Overflow. */
    public static final int OF = 1 << 11;
    /** I/O privilege level (two bits). */
    public static final int IOPL = 3 << 12;
    /** Shift of IOPL. */
    public static final int IOPL_SHIFT = 12;
    /** Nested task. */
    public static final int NT = 1 << 14;
    /** Resume. */
    public static final int RF = 1 << 16;
    /** Virtual-8086 mode. */
    public static final int VM = 1 << 17;
    /** Alignment check. */
    public static final int AC = 1 << 18;
    /** Virtual interrupt flag. */
    public static final int VIF = 1 << 19;
    /** Virtual interrupt pending. */
    public static final int VIP = 1 << 20;
    /** CPUID available (writable on CPUs that have CPUID). */
    public static final int ID = 1 << 21;

    /** The six arithmetic flags that instructions compute. */
    public static final int ARITH = CF | PF | AF | ZF | SF | OF;

    private Eflags() {
    }
}
