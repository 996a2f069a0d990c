package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.x86.Descriptors;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.X86Exception;

/**
 * Event delivery: exceptions, software interrupts, external interrupts and NMI through the
 * real-mode IVT or the protected-mode IDT (SDM Vol. 3A, 6.12 and 20.1.4), with the double-fault
 * and triple-fault rules of {@link ExceptionVectors#combine}.
 */
final class Interrupts {

    /** A CPU-detected exception. */
    static final int EXCEPTION = 0;
    /** INT n, INT3, INTO: the gate's DPL is checked against CPL. */
    static final int SOFTWARE = 1;
    /** An external interrupt from the interrupt controller (EXT = 1 in error codes). */
    static final int EXTERNAL = 2;
    /** A non-maskable interrupt. */
    static final int NMI = 3;

    /** Set by {@link #raise} when delivery ended in a triple fault. */
    static final class TripleFault extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TripleFault(String detail) {
            super(detail, null, false, false);
        }
    }

    private Interrupts() {
    }

    /**
     * Delivers a fault raised by the instruction that started at {@code c.startEip}: EIP goes back
     * to it (and ESP to {@code c.startEsp} when the instruction may have moved it), with no interrupt
     * shadow. The one path of the instruction loop's faults and of translated code's event
     * instructions (see CoreBridge#event).
     *
     * @throws TripleFault if the processor must shut down
     */
    static void fault(Cpu c, X86Exception e, boolean restoreEsp) {
        c.eip = c.startEip;
        if (restoreEsp) {
            c.r[Cpu.ESP] = c.startEsp;
        }
        c.shadow = 0;
        raise(c, e.vector(), e.errorCode(), e.hasErrorCode(), EXCEPTION, e.faultAddress());
        c.pollIrq = true; // a task gate may have loaded IF=1
    }

    /**
     * Delivers an event, applying the double-fault rules if delivery itself faults.
     *
     * @throws TripleFault if the processor must shut down
     */
    static void raise(Cpu c, int vector, int errorCode, boolean hasErrorCode, int type, long faultAddress) {
        int current = vector;
        int err = errorCode;
        boolean hasErr = hasErrorCode;
        int kind = type;
        StringBuilder history = null; // only when delivery itself faults: most events never need it
        if (vector == ExceptionVectors.PF && type == EXCEPTION) {
            c.cr2 = (int) faultAddress;
        }
        int esp = c.r[Cpu.ESP];
        for (int attempt = 0; attempt < 4; attempt++) {
            try {
                deliver(c, current, err, hasErr, kind);
                return;
            } catch (X86Exception e) {
                c.r[Cpu.ESP] = esp;
                if (kind == SOFTWARE) {
                    c.eip = c.startEip; // a fault while delivering INT n points at the INT
                }
                if (history == null) {
                    history = new StringBuilder(ExceptionVectors.mnemonic(vector));
                }
                history.append(", then ").append(e.getMessage());
                if (kind != EXCEPTION && kind != NMI) {
                    // A software or external interrupt counts as benign for Table 6-5.
                    current = -1;
                }
                ExceptionVectors.Outcome o = current < 0 ? ExceptionVectors.Outcome.SERIAL
                        : ExceptionVectors.combine(current, e.vector());
                if (o == ExceptionVectors.Outcome.TRIPLE_FAULT) {
                    throw new TripleFault(history.toString());
                }
                if (e.vector() == ExceptionVectors.PF) {
                    c.cr2 = (int) e.faultAddress();
                }
                kind = type == EXTERNAL || type == NMI ? EXTERNAL : EXCEPTION;
                if (o == ExceptionVectors.Outcome.DOUBLE_FAULT) {
                    current = ExceptionVectors.DF;
                    err = 0;
                    hasErr = true;
                } else {
                    current = e.vector();
                    err = e.errorCode();
                    hasErr = e.hasErrorCode();
                }
            }
        }
        throw new TripleFault(history.toString());
    }

    private static void deliver(Cpu c, int vector, int err, boolean hasErr, int type) {
        c.exceptions += type == EXCEPTION ? 1 : 0;
        c.interruptsDelivered += type == EXTERNAL ? 1 : 0;
        if (!c.pe) {
            deliverReal(c, vector);
        } else {
            deliverProtected(c, vector, err, hasErr, type);
        }
        if (type == NMI) {
            c.nmiBlocked = true;
        }
    }

    private static void deliverReal(Cpu c, int vector) {
        int offset = vector * 4;
        if (offset + 3 > (c.idtLimit & 0xFFFF_FFFFL)) {
            throw X86Exception.generalProtection(0);
        }
        int ip = c.readLinear(c.idtBase + offset, 2, false);
        int cs = c.readLinear(c.idtBase + offset + 2, 2, false);
        c.push(2, c.getFlags());
        c.push(2, c.segSel[Cpu.CS]);
        c.push(2, c.eip);
        c.flags &= ~(Eflags.IF | Eflags.TF | Eflags.AC | Eflags.RF);
        c.loadCodeSegment(cs, 0, 0);
        c.eip = ip;
    }

    private static void deliverProtected(Cpu c, int vector, int err, boolean hasErr, int type) {
        boolean ext = type == EXTERNAL || type == NMI;
        int extBit = ext ? ExceptionVectors.ERROR_EXT : 0;
        int gateError = vector * 8 + ExceptionVectors.ERROR_IDT + extBit;
        if (vector * 8 + 7 > (c.idtLimit & 0xFFFF_FFFFL)) {
            throw X86Exception.generalProtection(gateError);
        }
        int lo = c.readLinear(c.idtBase + vector * 8L, 4, false);
        int hi = c.readLinear(c.idtBase + vector * 8L + 4, 4, false);
        int gateType = (hi >>> 8) & 0x1F; // S bit and type
        boolean gate32;
        boolean trapGate;
        switch (gateType) {
            case Descriptors.INTERRUPT_GATE16 -> { gate32 = false; trapGate = false; }
            case Descriptors.TRAP_GATE16 -> { gate32 = false; trapGate = true; }
            case Descriptors.INTERRUPT_GATE32 -> { gate32 = true; trapGate = false; }
            case Descriptors.TRAP_GATE32 -> { gate32 = true; trapGate = true; }
            case Descriptors.TASK_GATE -> { gate32 = false; trapGate = false; }
            default -> throw X86Exception.generalProtection(gateError);
        }
        int gateDpl = (hi >>> 13) & 3;
        if (type == SOFTWARE && gateDpl < c.cpl) {
            throw X86Exception.generalProtection(vector * 8 + ExceptionVectors.ERROR_IDT);
        }
        if ((hi & 0x8000) == 0) {
            throw X86Exception.notPresent(gateError);
        }
        if (gateType == Descriptors.TASK_GATE) {
            TaskSwitch.interrupt(c, lo, ext, hasErr, err);
            return;
        }
        boolean fromV86 = c.v86();
        int selector = Descriptors.gateSelector(lo);
        int offset = gate32 ? Descriptors.gateOffset(lo, hi) : lo & 0xFFFF;
        if ((selector & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(extBit);
        }
        long desc = c.readDescriptor(selector, ext);
        int attr = Descriptors.attributes((int) (desc >>> 32));
        int dpl = Descriptors.dpl(attr);
        if (!Descriptors.isCode(attr) || dpl > c.cpl
                || fromV86 && (dpl != 0 || Descriptors.isConforming(attr))) {
            // From virtual-8086 mode only a non-conforming ring-0 handler will do (SDM 20.3.1.1).
            throw X86Exception.generalProtection(Descriptors.selectorError(selector, ext));
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(Descriptors.selectorError(selector, ext));
        }
        int limit = Descriptors.limit((int) desc, (int) (desc >>> 32));
        if (Integer.compareUnsigned(offset, limit) > 0) {
            throw X86Exception.generalProtection(extBit);
        }
        int size = gate32 ? 4 : 2;
        int oldFlags = c.getFlags();
        int oldCs = c.segSel[Cpu.CS];
        int oldEip = c.eip;
        if (!Descriptors.isConforming(attr) && dpl < c.cpl) {
            // Inter-privilege: switch to the inner stack named by the TSS (SDM 6.12.1).
            int[] ss = innerStack(c, dpl, ext);
            int newSs = ss[0];
            int newEsp = ss[1];
            long ssDesc;
            try {
                ssDesc = c.readDescriptor(newSs, ext);
            } catch (X86Exception e) {
                throw e.vector() == ExceptionVectors.GP ? X86Exception.invalidTss(Descriptors.selectorError(newSs, ext)) : e;
            }
            int ssAttr = Descriptors.attributes((int) (ssDesc >>> 32));
            if ((newSs & 3) != dpl || !Descriptors.isData(ssAttr) || (ssAttr & SegmentRegister.TYPE_RW) == 0
                    || Descriptors.dpl(ssAttr) != dpl) {
                throw X86Exception.invalidTss(Descriptors.selectorError(newSs, ext));
            }
            if (!Descriptors.isPresent(ssAttr)) {
                throw X86Exception.stackFault(Descriptors.selectorError(newSs, ext));
            }
            long ssBase = Descriptors.base((int) ssDesc, (int) (ssDesc >>> 32));
            int ssLimit = Descriptors.limit((int) ssDesc, (int) (ssDesc >>> 32));
            boolean big = (ssAttr & SegmentRegister.DB) != 0;
            // From virtual-8086 mode GS, FS, DS and ES go first (SDM 20.3.1.1, Figure 20-5).
            int count = (hasErr ? 6 : 5) + (fromV86 ? 4 : 0);
            int sp = newEsp - count * size;
            if (!big) {
                sp &= 0xFFFF;
            }
            if (!Descriptors.stackRoomFor(ssAttr, ssLimit, sp, count * size)) {
                throw X86Exception.stackFault(Descriptors.selectorError(newSs, ext));
            }
            int[] values = fromV86
                    ? new int[] {c.segSel[Cpu.GS], c.segSel[Cpu.FS], c.segSel[Cpu.DS], c.segSel[Cpu.ES],
                        c.segSel[Cpu.SS], c.r[Cpu.ESP], oldFlags, oldCs, oldEip, err}
                    : new int[] {c.segSel[Cpu.SS], c.r[Cpu.ESP], oldFlags, oldCs, oldEip, err};
            long top = ssBase + (sp & 0xFFFF_FFFFL);
            c.probeWrite(top, count * size, false);
            for (int i = 0; i < count; i++) {
                c.writeLinear((top + (long) (count - 1 - i) * size) & 0xFFFF_FFFFL, size, values[i], false);
            }
            c.markAccessed(newSs, ssDesc);
            if (fromV86) {
                c.flags &= ~Eflags.VM;
                for (int seg : new int[] {Cpu.ES, Cpu.DS, Cpu.FS, Cpu.GS}) {
                    c.setSegment(seg, 0, 0, 0, SegmentRegister.UNUSABLE);
                }
            }
            c.setSegment(Cpu.SS, newSs, ssBase, ssLimit, ssAttr | SegmentRegister.TYPE_ACCESSED);
            c.r[Cpu.ESP] = big ? sp : (c.r[Cpu.ESP] & 0xFFFF_0000) | sp;
            c.loadCodeSegment(selector, desc, dpl);
        } else {
            c.push(size, oldFlags);
            c.push(size, oldCs);
            c.push(size, oldEip);
            if (hasErr) {
                c.push(size, err);
            }
            c.loadCodeSegment(selector, desc, c.cpl);
        }
        c.flags &= ~(Eflags.TF | Eflags.NT | Eflags.RF | Eflags.VM);
        if (!trapGate) {
            c.flags &= ~Eflags.IF;
        }
        c.eip = offset;
    }

    /** Reads SS:ESP for a privilege level from the current TSS; #TS if it is not there. */
    static int[] innerStack(Cpu c, int dpl, boolean ext) {
        SegmentRegister tr = c.tr;
        int type = tr.attributes() & 0xF;
        int trError = Descriptors.selectorError(tr.selector(), ext);
        if (!tr.usable()) {
            throw X86Exception.invalidTss(trError);
        }
        if (type == Descriptors.TSS32_BUSY || type == Descriptors.TSS32_AVAILABLE) {
            int at = 4 + 8 * dpl;
            if (at + 5 > tr.limit()) {
                throw X86Exception.invalidTss(trError);
            }
            int esp = c.readLinear(tr.base() + at, 4, false);
            int ss = c.readLinear(tr.base() + at + 4, 2, false);
            if ((ss & 0xFFFC) == 0) {
                throw X86Exception.invalidTss(ext ? 1 : 0);
            }
            return new int[] {ss, esp};
        }
        int at = 2 + 4 * dpl;
        if (at + 3 > tr.limit()) {
            throw X86Exception.invalidTss(trError);
        }
        int sp = c.readLinear(tr.base() + at, 2, false);
        int ss = c.readLinear(tr.base() + at + 2, 2, false);
        if ((ss & 0xFFFC) == 0) {
            throw X86Exception.invalidTss(ext ? 1 : 0);
        }
        return new int[] {ss, sp};
    }
}
