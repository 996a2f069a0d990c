package org.polyvisor.x86;

import org.polyvisor.cpu.SegmentRegister;

/**
 * Segment and gate descriptors as they sit in the GDT/LDT/IDT (SDM Vol. 3A, 3.4.5 and 6.11), and
 * the checks the CPU applies when loading them into segment registers (SDM Vol. 3A, 5.5-5.8 and
 * the MOV/POP/LSS, far JMP/CALL/RET pseudo-code in Vol. 2).
 *
 * <p>A descriptor is handled as two 32-bit halves, {@code lo} (bytes 0-3) and {@code hi}
 * (bytes 4-7). Attributes are returned in the VMX access-rights layout used by
 * {@link SegmentRegister}, which is exactly bits 8-23 of {@code hi} with the limit nibble cleared.
 */
public final class Descriptors {

    /** System type: available 16-bit TSS. */
    public static final int TSS16_AVAILABLE = 0x1;
    /** System type: LDT. */
    public static final int LDT = 0x2;
    /** System type: busy 16-bit TSS. */
    public static final int TSS16_BUSY = 0x3;
    /** System type: 16-bit call gate. */
    public static final int CALL_GATE16 = 0x4;
    /** System type: task gate. */
    public static final int TASK_GATE = 0x5;
    /** System type: 16-bit interrupt gate. */
    public static final int INTERRUPT_GATE16 = 0x6;
    /** System type: 16-bit trap gate. */
    public static final int TRAP_GATE16 = 0x7;
    /** System type: available 32-bit TSS. */
    public static final int TSS32_AVAILABLE = 0x9;
    /** System type: busy 32-bit TSS. */
    public static final int TSS32_BUSY = 0xB;
    /** System type: 32-bit call gate. */
    public static final int CALL_GATE32 = 0xC;
    /** System type: 32-bit interrupt gate. */
    public static final int INTERRUPT_GATE32 = 0xE;
    /** System type: 32-bit trap gate. */
    public static final int TRAP_GATE32 = 0xF;

    /** Selector bit 2: table indicator (LDT). */
    public static final int SELECTOR_TI = 4;
    /** Selector bits 1:0: requested privilege level. */
    public static final int SELECTOR_RPL = 3;

    private Descriptors() {
    }

    /**
     * @param lo descriptor bytes 0-3
     * @param hi descriptor bytes 4-7
     * @return the 32-bit base address
     */
    public static long base(int lo, int hi) {
        return ((lo >>> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000)) & 0xFFFF_FFFFL;
    }

    /**
     * @param lo descriptor bytes 0-3
     * @param hi descriptor bytes 4-7
     * @return the byte limit, scaled by the granularity bit
     */
    public static int limit(int lo, int hi) {
        int raw = (lo & 0xFFFF) | (hi & 0x000F_0000);
        return (hi & (1 << 23)) != 0 ? (raw << 12) | 0xFFF : raw;
    }

    /**
     * @param hi descriptor bytes 4-7
     * @return the attributes in the VMX access-rights layout of {@link SegmentRegister}
     */
    public static int attributes(int hi) {
        return (hi >>> 8) & 0xF0FF;
    }

    /**
     * Builds the cached form of a code, data or system segment descriptor.
     *
     * @param selector the selector that named it
     * @param lo       descriptor bytes 0-3
     * @param hi       descriptor bytes 4-7
     * @return the segment register value
     */
    public static SegmentRegister toSegment(int selector, int lo, int hi) {
        return new SegmentRegister(selector & 0xFFFF, base(lo, hi), limit(lo, hi), attributes(hi));
    }

    /**
     * @param attributes VMX-layout attributes
     * @return the 4-bit type field
     */
    public static int type(int attributes) {
        return attributes & 0xF;
    }

    /**
     * @param attributes VMX-layout attributes
     * @return true for a code or data segment (S = 1), false for a system descriptor
     */
    public static boolean isCodeOrData(int attributes) {
        return (attributes & SegmentRegister.S) != 0;
    }

    /**
     * @param attributes VMX-layout attributes
     * @return true for a code segment
     */
    public static boolean isCode(int attributes) {
        return (attributes & (SegmentRegister.S | SegmentRegister.TYPE_CODE)) == (SegmentRegister.S | SegmentRegister.TYPE_CODE);
    }

    /**
     * @param attributes VMX-layout attributes
     * @return true for a data segment
     */
    public static boolean isData(int attributes) {
        return (attributes & (SegmentRegister.S | SegmentRegister.TYPE_CODE)) == SegmentRegister.S;
    }

    /**
     * @param attributes VMX-layout attributes
     * @return true for a conforming code segment
     */
    public static boolean isConforming(int attributes) {
        return isCode(attributes) && (attributes & SegmentRegister.TYPE_CE) != 0;
    }

    /**
     * @param attributes VMX-layout attributes
     * @return the descriptor privilege level
     */
    public static int dpl(int attributes) {
        return (attributes >>> SegmentRegister.DPL_SHIFT) & 3;
    }

    /**
     * @param attributes VMX-layout attributes
     * @return the present bit
     */
    public static boolean isPresent(int attributes) {
        return (attributes & SegmentRegister.P) != 0;
    }

    /**
     * Tells whether {@code bytes} bytes at {@code offset} lie inside a stack segment, as the pushes of
     * a stack switch need (SDM Vol. 3A 6.12.1, CALL "MORE-PRIVILEGE": #SS(new SS) otherwise): an
     * expand-up segment holds offsets 0..limit, an expand-down one limit+1..0xFFFF (0xFFFF_FFFF with
     * the B bit); the range may not wrap.
     *
     * @param attributes the stack segment's attributes
     * @param limit      its byte-granular limit
     * @param offset     the lowest offset written (the new ESP)
     * @param bytes      how many bytes
     * @return whether the whole range is inside
     */
    public static boolean stackRoomFor(int attributes, int limit, int offset, int bytes) {
        long lo = offset & 0xFFFF_FFFFL;
        long hi = lo + bytes - 1;
        long top = limit & 0xFFFF_FFFFL;
        if ((attributes & SegmentRegister.TYPE_CE) != 0 && (attributes & SegmentRegister.TYPE_CODE) == 0) {
            long max = (attributes & SegmentRegister.DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
            return lo > top && hi <= max;
        }
        return hi <= top;
    }

    /**
     * @param lo gate bytes 0-3
     * @return the target code-segment selector of a call/interrupt/trap gate
     */
    public static int gateSelector(int lo) {
        return lo >>> 16;
    }

    /**
     * @param lo gate bytes 0-3
     * @param hi gate bytes 4-7
     * @return the target offset of a gate (a 16-bit gate uses only the low half)
     */
    public static int gateOffset(int lo, int hi) {
        return (lo & 0xFFFF) | (hi & 0xFFFF_0000);
    }

    /**
     * The error code of a selector-related fault: the selector with RPL cleared, plus EXT.
     *
     * @param selector the selector
     * @param external whether the event was external (EXT bit)
     * @return the error code
     */
    public static int selectorError(int selector, boolean external) {
        return (selector & 0xFFFC) | (external ? ExceptionVectors.ERROR_EXT : 0);
    }

    /**
     * Checks a descriptor for loading into DS, ES, FS or GS in protected mode (MOV/POP/LDS...).
     * A null selector is allowed and must be handled by the caller before.
     *
     * @param selector   the non-null selector
     * @param attributes its descriptor's attributes
     * @param cpl        current privilege level
     * @throws X86Exception #GP(selector) if not a readable segment or privilege does not allow it,
     *                      #NP(selector) if not present
     */
    public static void checkDataSegmentLoad(int selector, int attributes, int cpl) {
        int rpl = selector & SELECTOR_RPL;
        if (!isCodeOrData(attributes)
                || isCode(attributes) && (attributes & SegmentRegister.TYPE_RW) == 0) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (!isConforming(attributes) && (rpl > dpl(attributes) || cpl > dpl(attributes))) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (!isPresent(attributes)) {
            throw X86Exception.notPresent(selector & 0xFFFC);
        }
    }

    /**
     * Checks a descriptor for loading into SS in protected mode (MOV/POP/LSS).
     *
     * @param selector   the selector (a null selector raises #GP(0))
     * @param attributes its descriptor's attributes (ignored for a null selector)
     * @param cpl        current privilege level
     * @throws X86Exception #GP(0) for null, #GP(selector) for a wrong type or privilege,
     *                      #SS(selector) if not present
     */
    public static void checkStackSegmentLoad(int selector, int attributes, int cpl) {
        if ((selector & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        if ((selector & SELECTOR_RPL) != cpl || !isData(attributes)
                || (attributes & SegmentRegister.TYPE_RW) == 0 || dpl(attributes) != cpl) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (!isPresent(attributes)) {
            throw X86Exception.stackFault(selector & 0xFFFC);
        }
    }

    /**
     * Checks a code-segment descriptor named directly by a far JMP or far CALL (not a gate).
     *
     * @param selector   the selector
     * @param attributes its descriptor's attributes
     * @param cpl        current privilege level
     * @throws X86Exception #GP(selector) on type or privilege violation, #NP(selector) if not present
     */
    public static void checkDirectCodeTransfer(int selector, int attributes, int cpl) {
        int rpl = selector & SELECTOR_RPL;
        if (!isCode(attributes)) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (isConforming(attributes) ? dpl(attributes) > cpl : rpl > cpl || dpl(attributes) != cpl) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (!isPresent(attributes)) {
            throw X86Exception.notPresent(selector & 0xFFFC);
        }
    }

    /**
     * Checks the code segment popped by a far RET or IRET.
     *
     * @param selector   the popped selector (its RPL is the privilege returned to)
     * @param attributes its descriptor's attributes
     * @param cpl        current privilege level
     * @throws X86Exception #GP(selector) on type or privilege violation, #NP(selector) if not present
     */
    public static void checkReturnCodeSegment(int selector, int attributes, int cpl) {
        int rpl = selector & SELECTOR_RPL;
        if (!isCode(attributes) || rpl < cpl
                || (isConforming(attributes) ? dpl(attributes) > rpl : dpl(attributes) != rpl)) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (!isPresent(attributes)) {
            throw X86Exception.notPresent(selector & 0xFFFC);
        }
    }
}
