package org.polyvisor.tools.conformance;

/**
 * Every way a run may deviate from a plain comparison with the vector, each with its reason: the
 * documented differences between the processor the vectors were captured on (an 80286 in real
 * mode) and the i686 our engines model, and the flags the manuals leave undefined. This is the one
 * list; the runner applies nothing that is not named here, and counts how often each applies.
 *
 * <p>Where the captured hardware disagreed with a reading of the manual, the hardware won; the
 * reason says so. Not listed because the data did not need it: the README warns that the upstream
 * masks miss OF of C0/C1 shifts by counts other than 1 (undefined per the SDM), but the 80286 values
 * equal the P6 rule this engine implements (OF from the last step), so OF stays compared. AAS follows
 * the current SDM (AX - 6 borrows into AH, then AH - 1), which is what the 80286 does.
 */
enum KnownDifference {

    /** Masks FLAGS bits 12-15 in registers and in FLAGS images written to memory. */
    FLAGS_12_15("flags-12-15",
            "80286 real mode: IOPL, NT and bit 15 always read as 0 (PUSHF, INT/exception frames, after"
            + " POPF/IRET); an i686 in real mode lets POPF/IRET set IOPL and NT and pushes them (SDM Vol. 1,"
            + " 3.4.3; vector README). Initial FLAGS are loaded as flags & 0FFFh."),

    /** Masks the flags the vector metadata lists as undefined. */
    UNDEFINED_FLAGS("undefined-flags",
            "flags the vector metadata marks undefined for the opcode (flags-mask), also in the FLAGS image"
            + " pushed by a fault (DIV/IDIV #DE); the 80286 and the P6 compute different values for them."),

    /** Reruns a LOCK-prefixed vector without its LOCK prefix. */
    LOCK_PREFIX("lock-prefix",
            "the 80286 accepts LOCK on any instruction; a 386 or later raises #UD for LOCK on an instruction"
            + " that cannot be locked or with a register destination (SDM Vol. 2, LOCK). Such vectors are rerun"
            + " without the LOCK byte(s), the instruction placed to end at the same address; the IP pushed by a"
            + " fault (which then points past the removed bytes) is not compared."),

    /** A valid instruction longer than 10 bytes: the 80286 raises #GP, an i686 runs it. */
    LENGTH_LIMIT("length-limit",
            "the 80286 limits an instruction to 10 bytes and raises #13 for a valid 11-byte one (pushed IP at"
            + " the first prefix); the i686 limit is 15 bytes (SDM Vol. 2, 2.3.11), so it executes it. Not"
            + " comparable."),

    /** SS-relative access straddling offset FFFFh: 80286 #13, i686 #SS. */
    STACK_LIMIT("ss-limit",
            "a word access straddling offset FFFFh of SS (stack ops, BP-based operands) raises #13 on the"
            + " 80286; a 386 or later raises #SS (12) (SDM real-address-mode exceptions: '#SS if a memory"
            + " operand effective address is outside the SS segment limit'). Rerun with IVT entry 12 pointing"
            + " where entry 13 does; accepted only when the engine took vector 12 where the 286 took 13."),

    /** String instruction faulting on a limit straddle: the 80286 has already stepped SI/DI/CX. */
    STRING_FAULT_REGS("string-fault-regs",
            "when a string instruction (MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS) faults (#13) on an operand"
            + " straddling offset FFFFh, the captured 80286 has already advanced SI and/or DI past the element"
            + " (and under REP decremented CX) although the pushed IP restarts the instruction; a 386 or later"
            + " reports the fault with the registers of the faulting iteration so that it can be restarted"
            + " (SDM Vol. 3A, 6.5 and 6.6). Hardware data, not in the README: SI, DI and CX are not compared"
            + " for these vectors; memory, FLAGS, the other registers and the fault frame are."),

    /** 8C/8E with ModRM.reg 4 or 5 (FS, GS). */
    SREG_FS_GS("fs-gs",
            "8C/8E with reg=4/5 name FS/GS on a 386 or later; the 80286 has no FS/GS and raises #6. Not"
            + " comparable.");

    private final String id;
    private final String reason;

    KnownDifference(String id, String reason) {
        this.id = id;
        this.reason = reason;
    }

    /** @return the short name used in reports */
    String id() {
        return id;
    }

    /** @return why the difference exists */
    String reason() {
        return reason;
    }
}
