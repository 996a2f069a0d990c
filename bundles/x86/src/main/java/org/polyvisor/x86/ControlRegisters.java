package org.polyvisor.x86;

/** Control-register and EFER bits (SDM Vol. 3A, 2.5). */
public final class ControlRegisters {
    /** CR0.PE: protection enable. */
    public static final int CR0_PE = 1;
    /** CR0.MP: monitor coprocessor. */
    public static final int CR0_MP = 1 << 1;
    /** CR0.EM: x87 emulation (x87 instructions raise #NM). */
    public static final int CR0_EM = 1 << 2;
    /** CR0.TS: task switched (x87 instructions raise #NM). */
    public static final int CR0_TS = 1 << 3;
    /** CR0.ET: extension type, hardwired to 1 on i486 and later. */
    public static final int CR0_ET = 1 << 4;
    /** CR0.NE: numeric error reporting. */
    public static final int CR0_NE = 1 << 5;
    /** CR0.WP: supervisor writes honour read-only pages. */
    public static final int CR0_WP = 1 << 16;
    /** CR0.AM: alignment mask. */
    public static final int CR0_AM = 1 << 18;
    /** CR0.NW: not write-through. */
    public static final int CR0_NW = 1 << 29;
    /** CR0.CD: cache disable. */
    public static final int CR0_CD = 1 << 30;
    /** CR0.PG: paging. */
    public static final int CR0_PG = 1 << 31;

    /** CR4.VME: virtual-8086 mode extensions. */
    public static final int CR4_VME = 1;
    /** CR4.PVI: protected-mode virtual interrupts. */
    public static final int CR4_PVI = 1 << 1;
    /** CR4.TSD: RDTSC is privileged. */
    public static final int CR4_TSD = 1 << 2;
    /** CR4.DE: debugging extensions. */
    public static final int CR4_DE = 1 << 3;
    /** CR4.PSE: 4 MiB pages in 32-bit paging. */
    public static final int CR4_PSE = 1 << 4;
    /** CR4.PAE: physical address extension. */
    public static final int CR4_PAE = 1 << 5;
    /** CR4.MCE: machine-check enable. */
    public static final int CR4_MCE = 1 << 6;
    /** CR4.PGE: global pages. */
    public static final int CR4_PGE = 1 << 7;
    /** CR4.PCE: RDPMC at any privilege. */
    public static final int CR4_PCE = 1 << 8;
    /** CR4.OSFXSR: FXSAVE/FXRSTOR and SSE enabled. */
    public static final int CR4_OSFXSR = 1 << 9;

    /** EFER.NXE: execute-disable bit in PAE page tables. */
    public static final long EFER_NXE = 1L << 11;

    private ControlRegisters() {
    }
}
