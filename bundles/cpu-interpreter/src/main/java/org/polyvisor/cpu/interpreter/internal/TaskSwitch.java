package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.x86.ControlRegisters;
import org.polyvisor.x86.Descriptors;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.X86Exception;

/**
 * Hardware task switching (SDM Vol. 3A, chapter 7): far JMP/CALL to a TSS descriptor or a task
 * gate, interrupts and exceptions through task gates, and IRET with NT set (return to the task
 * named by the back link). 16- and 32-bit TSS formats.
 *
 * <p>Everything that can fault before the commit point (descriptor checks, reading the whole new
 * TSS, probing the old TSS for writes) happens before any state changes, so such a fault is
 * delivered in the old task as if the instruction (or event) had not started. Faults after the
 * commit point -- while loading the new task's LDT and segment descriptors, pushing an error code,
 * or an EIP beyond the new CS limit -- are delivered here, in the context of the new task
 * (SDM 7.3, step 13 and Table 7-1).
 */
final class TaskSwitch {

    /** Far JMP: the old task's TSS becomes available, no back link. */
    static final int JMP = 0;
    /** Far CALL: back link and NT, the old task stays busy. */
    static final int CALL = 1;
    /** IRET with NT: return to the back link; the old task becomes available. */
    static final int IRET = 2;
    /** An interrupt or exception through a task gate: like CALL. */
    static final int INTERRUPT = 3;

    /** Smallest limit of a 32-bit TSS (104 bytes). */
    private static final int TSS32_MIN_LIMIT = 0x67;
    /** Smallest limit of a 16-bit TSS (44 bytes). */
    private static final int TSS16_MIN_LIMIT = 0x2B;
    /** Descriptor high dword: the busy bit of a TSS type (1 -> 3, 9 -> B). */
    private static final int BUSY = 0x200;
    /** Bound on task switches nested through faults after their commit points. */
    private static final int MAX_NESTING = 4;

    /** Offsets in a 32-bit TSS. */
    private static final int T32_CR3 = 0x1C;
    private static final int T32_EIP = 0x20;
    private static final int T32_EFLAGS = 0x24;
    private static final int T32_GPR = 0x28;
    private static final int T32_SEG = 0x48;
    private static final int T32_LDT = 0x60;
    /** Offsets in a 16-bit TSS. */
    private static final int T16_IP = 0x0E;
    private static final int T16_FLAGS = 0x10;
    private static final int T16_GPR = 0x12;
    private static final int T16_SEG = 0x22;
    private static final int T16_LDT = 0x2A;

    /** TSS segment-register slots are in the order ES, CS, SS, DS (, FS, GS): the CpuState order. */
    private static final int[] LOAD_ORDER = {Cpu.CS, Cpu.SS, Cpu.ES, Cpu.DS, Cpu.FS, Cpu.GS};

    private TaskSwitch() {
    }

    /**
     * A far JMP or CALL whose selector names a TSS descriptor or a task gate (already read).
     *
     * @param selector the selector of the far pointer
     * @param desc     its descriptor
     */
    static void farTransfer(Cpu c, int selector, long desc, boolean call) {
        int attr = Descriptors.attributes((int) (desc >>> 32));
        int dpl = Descriptors.dpl(attr);
        if (dpl < c.cpl || dpl < (selector & 3)) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(selector & 0xFFFC);
        }
        int tssSelector = selector;
        long tssDesc = desc;
        if (Descriptors.type(attr) == Descriptors.TASK_GATE) {
            tssSelector = Descriptors.gateSelector((int) desc);
            tssDesc = readTssDescriptor(c, tssSelector, false);
        }
        switchTo(c, tssSelector, tssDesc, call ? CALL : JMP, false, false, 0);
    }

    /**
     * An interrupt or exception through a task gate of the IDT (gate DPL and presence already checked).
     *
     * @param gateLo the gate's low dword (TSS selector in bits 31:16)
     */
    static void interrupt(Cpu c, int gateLo, boolean ext, boolean hasErr, int err) {
        int tssSelector = Descriptors.gateSelector(gateLo);
        long tssDesc = readTssDescriptor(c, tssSelector, ext);
        switchTo(c, tssSelector, tssDesc, INTERRUPT, ext, hasErr, err);
    }

    /** IRET with EFLAGS.NT set: back to the task whose selector is the current TSS's link field. */
    static void iret(Cpu c) {
        SegmentRegister tr = c.tr;
        int link = c.readLinear(tr.base(), 2, false);
        if ((link & Descriptors.SELECTOR_TI) != 0 || (link & 0xFFFC) == 0) {
            throw X86Exception.invalidTss(link & 0xFFFC);
        }
        long desc;
        try {
            desc = c.readDescriptor(link, false);
        } catch (X86Exception e) {
            throw e.vector() == ExceptionVectors.GP ? X86Exception.invalidTss(link & 0xFFFC) : e;
        }
        int attr = Descriptors.attributes((int) (desc >>> 32));
        int type = Descriptors.type(attr);
        if (Descriptors.isCodeOrData(attr) || type != Descriptors.TSS16_BUSY && type != Descriptors.TSS32_BUSY) {
            throw X86Exception.invalidTss(link & 0xFFFC);
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(link & 0xFFFC);
        }
        switchTo(c, link, desc, IRET, false, false, 0);
    }

    /**
     * The TSS descriptor a task gate names: global, an available TSS, present
     * (SDM Vol. 2, JMP/CALL/INT "TASK-GATE").
     */
    private static long readTssDescriptor(Cpu c, int tssSelector, boolean ext) {
        int error = Descriptors.selectorError(tssSelector, ext);
        if ((tssSelector & Descriptors.SELECTOR_TI) != 0 || (tssSelector & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(error);
        }
        long desc;
        try {
            desc = c.readDescriptor(tssSelector, ext);
        } catch (X86Exception e) {
            throw e.vector() == ExceptionVectors.GP ? X86Exception.generalProtection(error) : e;
        }
        int attr = Descriptors.attributes((int) (desc >>> 32));
        int type = Descriptors.type(attr);
        if (Descriptors.isCodeOrData(attr) || type != Descriptors.TSS16_AVAILABLE && type != Descriptors.TSS32_AVAILABLE) {
            throw X86Exception.generalProtection(error);
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(error);
        }
        return desc;
    }

    /**
     * The task switch proper (SDM 7.3): checks, save the old task, commit, load the new task.
     *
     * @param selector the new TSS selector
     * @param desc     its descriptor (an available TSS, or a busy one for IRET)
     */
    private static void switchTo(Cpu c, int selector, long desc, int source, boolean ext, boolean hasErr, int err) {
        int lo = (int) desc;
        int hi = (int) (desc >>> 32);
        int attr = Descriptors.attributes(hi);
        int type = Descriptors.type(attr);
        int error = Descriptors.selectorError(selector, ext);
        if (Descriptors.isCodeOrData(attr) || (type & 7) != (source == IRET ? Descriptors.TSS16_BUSY : Descriptors.TSS16_AVAILABLE)
                || (selector & Descriptors.SELECTOR_TI) != 0) {
            throw X86Exception.generalProtection(error);
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(error);
        }
        boolean new32 = (type & 8) != 0;
        long base = Descriptors.base(lo, hi);
        int limit = Descriptors.limit(lo, hi);
        if (Integer.compareUnsigned(limit, new32 ? TSS32_MIN_LIMIT : TSS16_MIN_LIMIT) < 0) {
            throw X86Exception.invalidTss(error);
        }
        SegmentRegister oldTr = c.tr;
        int oldType = oldTr.attributes() & 0xF;
        boolean old32 = (oldType & 8) != 0;
        if (!oldTr.usable() || Integer.compareUnsigned(oldTr.limit(), old32 ? TSS32_MIN_LIMIT : TSS16_MIN_LIMIT) < 0) {
            throw X86Exception.invalidTss(Descriptors.selectorError(oldTr.selector(), ext));
        }

        // Read the whole new task state first: a #PF here is still in the old task.
        int newCr3;
        int newEip;
        int newFlags;
        int[] newRegs = new int[8];
        int[] newSegs = new int[6];
        int newLdt;
        if (new32) {
            newCr3 = c.readLinear(base + T32_CR3, 4, false);
            newEip = c.readLinear(base + T32_EIP, 4, false);
            newFlags = c.readLinear(base + T32_EFLAGS, 4, false);
            for (int i = 0; i < 8; i++) {
                newRegs[i] = c.readLinear(base + T32_GPR + 4 * i, 4, false);
            }
            for (int i = 0; i < 6; i++) {
                newSegs[i] = c.readLinear(base + T32_SEG + 4 * i, 2, false);
            }
            newLdt = c.readLinear(base + T32_LDT, 2, false);
        } else {
            newCr3 = 0;
            newEip = c.readLinear(base + T16_IP, 2, false);
            newFlags = c.readLinear(base + T16_FLAGS, 2, false);
            for (int i = 0; i < 8; i++) {
                // The high words read as ones after a switch to a 16-bit task (as QEMU and Bochs do).
                newRegs[i] = 0xFFFF_0000 | c.readLinear(base + T16_GPR + 2 * i, 2, false);
            }
            for (int i = 0; i < 4; i++) {
                newSegs[i] = c.readLinear(base + T16_SEG + 2 * i, 2, false);
            }
            newLdt = c.readLinear(base + T16_LDT, 2, false);
        }

        // The old task's dynamic fields must be writable (and the new TSS's link field for CALL).
        long oldBase = oldTr.base();
        if (old32) {
            c.probeWrite(oldBase + T32_EIP, T32_SEG + 24 - T32_EIP, false);
        } else {
            c.probeWrite(oldBase + T16_IP, T16_SEG + 8 - T16_IP, false);
        }
        boolean nests = source == CALL || source == INTERRUPT;
        if (nests) {
            c.probeWrite(base, 2, false);
        }

        // Save the old task.
        if (source == JMP || source == IRET) {
            setBusy(c, oldTr.selector(), false);
        }
        int oldFlags = c.getFlags();
        if (source == IRET) {
            oldFlags &= ~Eflags.NT;
        }
        if (old32) {
            c.writeLinear(oldBase + T32_EIP, 4, c.eip, false);
            c.writeLinear(oldBase + T32_EFLAGS, 4, oldFlags, false);
            for (int i = 0; i < 8; i++) {
                c.writeLinear(oldBase + T32_GPR + 4 * i, 4, c.r[i], false);
            }
            for (int i = 0; i < 6; i++) {
                c.writeLinear(oldBase + T32_SEG + 4 * i, 2, c.segSel[i], false);
            }
        } else {
            c.writeLinear(oldBase + T16_IP, 2, c.eip, false);
            c.writeLinear(oldBase + T16_FLAGS, 2, oldFlags, false);
            for (int i = 0; i < 8; i++) {
                c.writeLinear(oldBase + T16_GPR + 2 * i, 2, c.r[i], false);
            }
            for (int i = 0; i < 4; i++) {
                c.writeLinear(oldBase + T16_SEG + 2 * i, 2, c.segSel[i], false);
            }
        }
        if (nests) {
            c.writeLinear(base, 2, oldTr.selector(), false);
            newFlags |= Eflags.NT;
        }
        if (source != IRET) {
            setBusy(c, selector, true);
            hi |= BUSY;
        }

        // Commit: the new task is current from here on.
        c.taskSwitches++;
        c.tr = Descriptors.toSegment(selector, lo, hi);
        c.cr0 |= ControlRegisters.CR0_TS;
        if (new32 && c.paging) {
            c.cr3 = newCr3;
            c.updatePagingMode();
        }
        c.setFlags(newFlags);
        c.eip = newEip;
        System.arraycopy(newRegs, 0, c.r, 0, 8);
        c.ldtr = new SegmentRegister(newLdt, 0, 0, SegmentRegister.UNUSABLE);
        if (c.v86()) {
            for (int s = 0; s < 6; s++) {
                loadV86Segment(c, s, newSegs[s]);
            }
            c.setCpl(3);
        } else {
            // Selectors first, descriptors after (a fault leaves the selectors visible).
            for (int s = 0; s < 6; s++) {
                c.setSegment(s, newSegs[s], 0, 0, SegmentRegister.UNUSABLE);
            }
            c.setCpl(newSegs[Cpu.CS] & 3);
        }
        c.invalidateFetch();
        c.taskNesting++;
        try {
            if (c.taskNesting > MAX_NESTING) {
                throw new Interrupts.TripleFault("task switch faults nested " + c.taskNesting + " deep");
            }
            loadNewTask(c, newLdt, newSegs, ext);
            if (hasErr) {
                c.push(new32 ? 4 : 2, err);
            }
        } catch (X86Exception e) {
            // After the commit point: the fault belongs to the new task.
            c.startEip = c.eip;
            c.startEsp = c.r[Cpu.ESP];
            Interrupts.raise(c, e.vector(), e.errorCode(), e.hasErrorCode(), Interrupts.EXCEPTION, e.faultAddress());
        } finally {
            c.taskNesting--;
        }
    }

    /** Loads LDTR and the segment descriptors of the new task, with the checks of SDM Table 7-1. */
    private static void loadNewTask(Cpu c, int ldt, int[] segs, boolean ext) {
        if ((ldt & 0xFFFC) != 0) {
            int error = Descriptors.selectorError(ldt, ext);
            if ((ldt & Descriptors.SELECTOR_TI) != 0) {
                throw X86Exception.invalidTss(error);
            }
            long d = readOrTs(c, ldt, ext);
            int attr = Descriptors.attributes((int) (d >>> 32));
            if (Descriptors.isCodeOrData(attr) || Descriptors.type(attr) != Descriptors.LDT || !Descriptors.isPresent(attr)) {
                throw X86Exception.invalidTss(error);
            }
            c.ldtr = Descriptors.toSegment(ldt, (int) d, (int) (d >>> 32));
        }
        if (c.v86()) {
            return;
        }
        int cpl = segs[Cpu.CS] & 3;
        for (int s : LOAD_ORDER) {
            int sel = segs[s];
            int error = Descriptors.selectorError(sel, ext);
            if ((sel & 0xFFFC) == 0) {
                if (s == Cpu.CS || s == Cpu.SS) {
                    throw X86Exception.invalidTss(error);
                }
                c.setSegment(s, sel, 0, 0, SegmentRegister.UNUSABLE);
                continue;
            }
            long d = readOrTs(c, sel, ext);
            int lo = (int) d;
            int hi = (int) (d >>> 32);
            int attr = Descriptors.attributes(hi);
            int dpl = Descriptors.dpl(attr);
            int rpl = sel & 3;
            boolean ok;
            if (s == Cpu.CS) {
                ok = Descriptors.isCode(attr) && (Descriptors.isConforming(attr) ? dpl <= rpl : dpl == rpl);
            } else if (s == Cpu.SS) {
                ok = Descriptors.isData(attr) && (attr & SegmentRegister.TYPE_RW) != 0 && dpl == cpl && rpl == cpl;
            } else {
                ok = Descriptors.isCodeOrData(attr)
                        && (Descriptors.isData(attr) || (attr & SegmentRegister.TYPE_RW) != 0)
                        && (Descriptors.isConforming(attr) || dpl >= cpl && dpl >= rpl);
            }
            if (!ok) {
                throw X86Exception.invalidTss(error);
            }
            if (!Descriptors.isPresent(attr)) {
                throw s == Cpu.SS ? X86Exception.stackFault(error) : X86Exception.notPresent(error);
            }
            c.markAccessed(sel, d);
            c.setSegment(s, sel, Descriptors.base(lo, hi), Descriptors.limit(lo, hi), attr | SegmentRegister.TYPE_ACCESSED);
        }
        if (Integer.compareUnsigned(c.eip, c.segLimit[Cpu.CS]) > 0) {
            throw X86Exception.generalProtection(0);
        }
    }

    private static long readOrTs(Cpu c, int sel, boolean ext) {
        try {
            return c.readDescriptor(sel, ext);
        } catch (X86Exception e) {
            throw e.vector() == ExceptionVectors.GP ? X86Exception.invalidTss(Descriptors.selectorError(sel, ext)) : e;
        }
    }

    /** A segment register as virtual-8086 mode loads it: base = selector * 16, 64 KiB, DPL 3. */
    static void loadV86Segment(Cpu c, int seg, int selector) {
        int attr = (seg == Cpu.CS ? SegmentRegister.REAL_MODE_CODE : SegmentRegister.REAL_MODE_DATA)
                | 3 << SegmentRegister.DPL_SHIFT;
        c.setSegment(seg, selector & 0xFFFF, (long) (selector & 0xFFFF) << 4, 0xFFFF, attr);
    }

    /** Sets or clears the busy bit of a TSS descriptor in the GDT. */
    private static void setBusy(Cpu c, int selector, boolean busy) {
        long at = c.gdtBase + (selector & 0xFFF8) + 4;
        int hi = c.readLinear(at, 4, false);
        c.writeLinear(at, 4, busy ? hi | BUSY : hi & ~BUSY, false);
    }
}
