package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.x86.Descriptors;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;

/** Control transfer: near and far jumps, calls and returns, loops, INT n and IRET. */
final class Control {

    private Control() {
    }

    private static int ipMask(Instruction in) {
        return in.opSize() == 2 ? 0xFFFF : -1;
    }

    /** Sets EIP to a near target after the CS limit check (#GP(0) before anything changes). */
    private static void jumpNear(Cpu c, int target) {
        if (Integer.compareUnsigned(target, c.segLimit[Cpu.CS]) > 0) {
            throw X86Exception.generalProtection(0);
        }
        c.eip = target;
    }

    private static int relativeTarget(Cpu c, Instruction in) {
        return (c.eip + in.imm()) & ipMask(in);
    }

    static void jmp(Cpu c, Instruction in) {
        if (in.kind(0) == Instruction.KIND_IMM) {
            jumpNear(c, relativeTarget(c, in));
        } else {
            jumpNear(c, c.readOp(in, 0) & ipMask(in));
        }
    }

    /** Jcc with the next instruction at {@code next}: returns the new EIP (the target when taken). */
    static int jcc(Cpu c, Instruction in, int next) {
        return c.lazy.condition(in.condition()) ? jmpRelative(c, in, next) : next;
    }

    /** JMP rel with the next instruction at {@code next}: returns the target. */
    static int jmpRelative(Cpu c, Instruction in, int next) {
        int target = (next + in.imm()) & ipMask(in);
        if (Integer.compareUnsigned(target, c.segLimit[Cpu.CS]) > 0) {
            throw X86Exception.generalProtection(0);
        }
        return target;
    }

    static void jcc(Cpu c, Instruction in) {
        if (c.lazy.condition(in.condition())) {
            jumpNear(c, relativeTarget(c, in));
        }
    }

    static void call(Cpu c, Instruction in) {
        int target = in.kind(0) == Instruction.KIND_IMM ? relativeTarget(c, in) : c.readOp(in, 0) & ipMask(in);
        if (Integer.compareUnsigned(target, c.segLimit[Cpu.CS]) > 0) {
            throw X86Exception.generalProtection(0);
        }
        c.push(in.opSize(), c.eip);
        c.eip = target;
    }

    static void ret(Cpu c, Instruction in) {
        int size = in.opSize();
        int target = c.peek(0, size) & ipMask(in);
        jumpNear(c, target);
        c.setSp(c.sp() + size + (in.operandCount() > 0 ? in.imm() & 0xFFFF : 0));
    }

    /** LOOP, LOOPE, LOOPNE, JCXZ: the counter is CX or ECX by address size. */
    static void loop(Cpu c, Instruction in, int kind) {
        int asize = in.addrSize();
        int count = c.reg(asize, 1);
        boolean jump;
        if (kind == 3) {
            jump = count == 0;
        } else {
            count = (count - 1) & (asize == 2 ? 0xFFFF : -1);
            c.setReg(asize, 1, count);
            jump = count != 0;
            if (kind == 1) {
                jump &= c.lazy.zf();
            } else if (kind == 2) {
                jump &= !c.lazy.zf();
            }
        }
        if (jump) {
            jumpNear(c, relativeTarget(c, in));
        }
    }

    // ---- far transfers ----

    static void jmpFar(Cpu c, Instruction in) {
        int offset;
        int selector;
        if (in.kind(0) == Instruction.KIND_IMM) {
            offset = in.imm();
            selector = in.imm2() & 0xFFFF;
        } else {
            int off = c.ea(in);
            offset = c.read(in.segment(), off, in.opSize());
            selector = c.read(in.segment(), off + in.opSize(), 2);
        }
        offset &= ipMask(in);
        farTransfer(c, selector, offset, false, in.opSize());
    }

    static void callFar(Cpu c, Instruction in) {
        int offset;
        int selector;
        if (in.kind(0) == Instruction.KIND_IMM) {
            offset = in.imm();
            selector = in.imm2() & 0xFFFF;
        } else {
            int off = c.ea(in);
            offset = c.read(in.segment(), off, in.opSize());
            selector = c.read(in.segment(), off + in.opSize(), 2);
        }
        offset &= ipMask(in);
        farTransfer(c, selector, offset, true, in.opSize());
    }

    private static void farTransfer(Cpu c, int selector, int offset, boolean call, int size) {
        if (!c.pe || c.v86()) {
            if (Integer.compareUnsigned(offset, c.v86() ? 0xFFFF : c.segLimit[Cpu.CS]) > 0) {
                throw X86Exception.generalProtection(0);
            }
            if (call) {
                pushReturn(c, size);
            }
            c.loadCodeSegment(selector, 0, 0);
            c.eip = offset;
            return;
        }
        if ((selector & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        long desc = c.readDescriptor(selector, false);
        int attr = Descriptors.attributes((int) (desc >>> 32));
        if (Descriptors.isCodeOrData(attr)) {
            Descriptors.checkDirectCodeTransfer(selector, attr, c.cpl);
            int limit = Descriptors.limit((int) desc, (int) (desc >>> 32));
            if (Integer.compareUnsigned(offset, limit) > 0) {
                throw X86Exception.generalProtection(0);
            }
            if (call) {
                pushReturn(c, size);
            }
            c.loadCodeSegment(selector, desc, c.cpl);
            c.eip = offset;
            return;
        }
        int type = Descriptors.type(attr);
        if (type == Descriptors.CALL_GATE16 || type == Descriptors.CALL_GATE32) {
            callGate(c, selector, desc, call);
            return;
        }
        if (type == Descriptors.TASK_GATE || type == Descriptors.TSS16_AVAILABLE || type == Descriptors.TSS32_AVAILABLE) {
            TaskSwitch.farTransfer(c, selector, desc, call);
            return;
        }
        throw X86Exception.generalProtection(selector & 0xFFFC);
    }

    private static void pushReturn(Cpu c, int size) {
        int spMask = c.stack32 ? -1 : 0xFFFF;
        // Both slots checked before either store; each wraps on its own within a 16-bit stack.
        c.linearWrite(Cpu.SS, (c.sp() - size) & spMask, size);
        c.linearWrite(Cpu.SS, (c.sp() - 2 * size) & spMask, size);
        c.push(size, c.segSel[Cpu.CS]);
        c.push(size, c.eip);
    }

    /** A far JMP or CALL through a call gate to a code segment of the same privilege. */
    private static void callGate(Cpu c, int gateSelector, long gate, boolean call) {
        int lo = (int) gate;
        int hi = (int) (gate >>> 32);
        int gateAttr = Descriptors.attributes(hi);
        int dpl = Descriptors.dpl(gateAttr);
        if (dpl < c.cpl || dpl < (gateSelector & 3)) {
            throw X86Exception.generalProtection(gateSelector & 0xFFFC);
        }
        if (!Descriptors.isPresent(gateAttr)) {
            throw X86Exception.notPresent(gateSelector & 0xFFFC);
        }
        boolean gate32 = Descriptors.type(gateAttr) == Descriptors.CALL_GATE32;
        int selector = Descriptors.gateSelector(lo);
        int offset = gate32 ? Descriptors.gateOffset(lo, hi) : lo & 0xFFFF;
        if ((selector & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        long desc = c.readDescriptor(selector, false);
        int attr = Descriptors.attributes((int) (desc >>> 32));
        if (!Descriptors.isCode(attr) || Descriptors.dpl(attr) > c.cpl) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(selector & 0xFFFC);
        }
        if (call && !Descriptors.isConforming(attr) && Descriptors.dpl(attr) < c.cpl) {
            callGateInner(c, selector, desc, offset, gate32, hi & 0x1F);
            return;
        }
        if (!call && !Descriptors.isConforming(attr) && Descriptors.dpl(attr) != c.cpl) {
            throw X86Exception.generalProtection(selector & 0xFFFC);
        }
        int limit = Descriptors.limit((int) desc, (int) (desc >>> 32));
        if (Integer.compareUnsigned(offset, limit) > 0) {
            throw X86Exception.generalProtection(0);
        }
        if (call) {
            pushReturn(c, gate32 ? 4 : 2);
        }
        c.loadCodeSegment(selector, desc, c.cpl);
        c.eip = offset;
    }

    /**
     * CALL through a call gate to a non-conforming code segment of a more privileged ring
     * (SDM Vol. 2, CALL "MORE-PRIVILEGE"): the inner stack from the TSS, the caller's SS:ESP and
     * {@code params} words (16-bit gate) or dwords (32-bit gate) copied onto it, then CS:EIP.
     */
    private static void callGateInner(Cpu c, int selector, long desc, int offset, boolean gate32, int params) {
        int dpl = Descriptors.dpl(Descriptors.attributes((int) (desc >>> 32)));
        int limit = Descriptors.limit((int) desc, (int) (desc >>> 32));
        if (Integer.compareUnsigned(offset, limit) > 0) {
            throw X86Exception.generalProtection(0);
        }
        int[] stack = Interrupts.innerStack(c, dpl, false);
        int newSs = stack[0];
        long ssDesc;
        try {
            ssDesc = c.readDescriptor(newSs, false);
        } catch (X86Exception e) {
            throw e.vector() == ExceptionVectors.GP ? X86Exception.invalidTss(newSs & 0xFFFC) : e;
        }
        int ssAttr = Descriptors.attributes((int) (ssDesc >>> 32));
        if ((newSs & 3) != dpl || !Descriptors.isData(ssAttr) || (ssAttr & SegmentRegister.TYPE_RW) == 0
                || Descriptors.dpl(ssAttr) != dpl) {
            throw X86Exception.invalidTss(newSs & 0xFFFC);
        }
        if (!Descriptors.isPresent(ssAttr)) {
            throw X86Exception.stackFault(newSs & 0xFFFC);
        }
        int size = gate32 ? 4 : 2;
        long ssBase = Descriptors.base((int) ssDesc, (int) (ssDesc >>> 32));
        int ssLimit = Descriptors.limit((int) ssDesc, (int) (ssDesc >>> 32));
        boolean big = (ssAttr & SegmentRegister.DB) != 0;
        int count = 4 + params;
        int sp = stack[1] - count * size;
        if (!big) {
            sp &= 0xFFFF;
        }
        if (!Descriptors.stackRoomFor(ssAttr, ssLimit, sp, count * size)) {
            throw X86Exception.stackFault(newSs & 0xFFFC);
        }
        // Values from the highest address down: SS, ESP, parameters (last first), CS, EIP.
        int[] values = new int[count];
        values[0] = c.segSel[Cpu.SS];
        values[1] = c.r[Cpu.ESP];
        int oldSp = c.sp();
        int spMask = c.stack32 ? -1 : 0xFFFF;
        for (int i = 0; i < params; i++) {
            values[2 + i] = c.read(Cpu.SS, (oldSp + (params - 1 - i) * size) & spMask, size);
        }
        values[count - 2] = c.segSel[Cpu.CS];
        values[count - 1] = c.eip;
        long top = ssBase + (sp & 0xFFFF_FFFFL);
        c.probeWrite(top, count * size, false);
        for (int i = 0; i < count; i++) {
            c.writeLinear((top + (long) (count - 1 - i) * size) & 0xFFFF_FFFFL, size, values[i], false);
        }
        c.markAccessed(newSs, ssDesc);
        c.setSegment(Cpu.SS, newSs, ssBase, ssLimit, ssAttr | SegmentRegister.TYPE_ACCESSED);
        c.r[Cpu.ESP] = big ? sp : (c.r[Cpu.ESP] & 0xFFFF_0000) | sp;
        c.loadCodeSegment(selector, desc, dpl);
        c.eip = offset;
    }

    static void retFar(Cpu c, Instruction in) {
        int size = in.opSize();
        int extra = in.operandCount() > 0 ? in.imm() & 0xFFFF : 0;
        int offset = c.peek(0, size) & ipMask(in);
        int selector = c.peek(size, 2);
        if (!c.pe || c.v86()) {
            if (Integer.compareUnsigned(offset, c.v86() ? 0xFFFF : c.segLimit[Cpu.CS]) > 0) {
                throw X86Exception.generalProtection(0);
            }
            c.loadCodeSegment(selector, 0, 0);
            c.eip = offset;
            c.setSp(c.sp() + 2 * size + extra);
            return;
        }
        if ((selector & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        long desc = c.readDescriptor(selector, false);
        int attr = Descriptors.attributes((int) (desc >>> 32));
        Descriptors.checkReturnCodeSegment(selector, attr, c.cpl);
        int limit = Descriptors.limit((int) desc, (int) (desc >>> 32));
        int rpl = selector & 3;
        if (rpl == c.cpl) {
            if (Integer.compareUnsigned(offset, limit) > 0) {
                throw X86Exception.generalProtection(0);
            }
            c.loadCodeSegment(selector, desc, c.cpl);
            c.eip = offset;
            c.setSp(c.sp() + 2 * size + extra);
            return;
        }
        // Return to an outer ring: also pop SS:ESP.
        int newEsp = c.peek(2 * size + extra, size);
        int newSs = c.peek(3 * size + extra, 2);
        long ssDesc = checkOuterStack(c, newSs, rpl);
        if (Integer.compareUnsigned(offset, limit) > 0) {
            throw X86Exception.generalProtection(0);
        }
        c.loadCodeSegment(selector, desc, rpl);
        loadOuterStack(c, newSs, ssDesc, size == 2 ? newEsp & 0xFFFF : newEsp);
        c.setSp(c.sp() + extra);
        c.eip = offset;
        c.nullifyDataSegments();
    }

    private static long checkOuterStack(Cpu c, int newSs, int rpl) {
        if ((newSs & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        long ssDesc = c.readDescriptor(newSs, false);
        int ssAttr = Descriptors.attributes((int) (ssDesc >>> 32));
        Descriptors.checkStackSegmentLoad(newSs, ssAttr, rpl);
        return ssDesc;
    }

    private static void loadOuterStack(Cpu c, int newSs, long ssDesc, int esp) {
        int lo = (int) ssDesc;
        int hi = (int) (ssDesc >>> 32);
        c.markAccessed(newSs, ssDesc);
        c.setSegment(Cpu.SS, newSs, Descriptors.base(lo, hi), Descriptors.limit(lo, hi),
                Descriptors.attributes(hi) | SegmentRegister.TYPE_ACCESSED);
        if (c.stack32) {
            c.r[Cpu.ESP] = esp;
        } else {
            c.r[Cpu.ESP] = (c.r[Cpu.ESP] & 0xFFFF_0000) | (esp & 0xFFFF);
        }
    }

    // ---- software interrupts ----

    static void interrupt(Cpu c, int vector) {
        if (c.v86() && c.iopl() < 3) {
            throw X86Exception.generalProtection(0);
        }
        Interrupts.raise(c, vector, 0, false, Interrupts.SOFTWARE, 0);
    }

    static void into(Cpu c) {
        if (c.lazy.of()) {
            Interrupts.raise(c, ExceptionVectors.OF, 0, false, Interrupts.SOFTWARE, 0);
        }
    }

    static void iret(Cpu c, Instruction in) {
        iret(c, in.opSize());
    }

    /** IRET with an operand size of 2 or 4 (also translated code's, through the core). */
    static void iret(Cpu c, int size) {
        int ipMask = size == 2 ? 0xFFFF : -1;
        if (!c.pe) {
            int ip = c.peek(0, size);
            int cs = c.peek(size, 2);
            int fl = c.peek(2 * size, size);
            if (Integer.compareUnsigned(ip & ipMask, c.segLimit[Cpu.CS]) > 0) {
                throw X86Exception.generalProtection(0);
            }
            c.setSp(c.sp() + 3 * size);
            c.loadCodeSegment(cs, 0, 0);
            c.eip = ip & ipMask;
            int mask = size == 4 ? ~(Eflags.VM | Eflags.VIF | Eflags.VIP) : 0xFFFF;
            c.setFlags((c.getFlags() & ~mask) | (fl & mask));
            c.nmiBlocked = false;
            return;
        }
        if (c.v86()) {
            iretV86(c, size);
            return;
        }
        if ((c.flags & Eflags.NT) != 0) {
            TaskSwitch.iret(c);
            c.nmiBlocked = false;
            return;
        }
        int offset = c.peek(0, size) & ipMask;
        int selector = c.peek(size, 2);
        int newFlags = c.peek(2 * size, size);
        if (size == 4 && (newFlags & Eflags.VM) != 0 && c.cpl == 0) {
            iretToV86(c, newFlags);
            return;
        }
        if ((selector & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        long desc = c.readDescriptor(selector, false);
        int attr = Descriptors.attributes((int) (desc >>> 32));
        Descriptors.checkReturnCodeSegment(selector, attr, c.cpl);
        int limit = Descriptors.limit((int) desc, (int) (desc >>> 32));
        if (Integer.compareUnsigned(offset, limit) > 0) {
            throw X86Exception.generalProtection(0);
        }
        int oldCpl = c.cpl;
        int rpl = selector & 3;
        if (rpl == c.cpl) {
            c.loadCodeSegment(selector, desc, c.cpl);
            c.setSp(c.sp() + 3 * size);
        } else {
            int newEsp = c.peek(3 * size, size);
            int newSs = c.peek(4 * size, 2);
            long ssDesc = checkOuterStack(c, newSs, rpl);
            c.loadCodeSegment(selector, desc, rpl);
            loadOuterStack(c, newSs, ssDesc, size == 2 ? newEsp & 0xFFFF : newEsp);
            c.nullifyDataSegments();
        }
        c.eip = offset;
        int mask = Eflags.ARITH | Eflags.TF | Eflags.DF | Eflags.NT | Eflags.RF | Eflags.AC | Eflags.ID;
        if (oldCpl == 0) {
            mask |= Eflags.IOPL | Eflags.IF | Eflags.VIF | Eflags.VIP;
        } else if (oldCpl <= c.iopl()) {
            mask |= Eflags.IF;
        }
        if (size == 2) {
            mask &= 0xFFFF;
        }
        c.setFlags((c.getFlags() & ~mask) | (newFlags & mask));
        c.nmiBlocked = false;
    }

    /**
     * IRET in virtual-8086 mode: IOPL-sensitive (#GP(0) to the monitor unless IOPL is 3); then as
     * in real mode, with VM and IOPL (and VIF/VIP) unchanged (SDM Vol. 2, IRET; 20.2.7).
     */
    private static void iretV86(Cpu c, int size) {
        if (c.iopl() < 3) {
            throw X86Exception.generalProtection(0);
        }
        int ip = c.peek(0, size);
        int cs = c.peek(size, 2);
        int fl = c.peek(2 * size, size);
        if (Integer.compareUnsigned(ip, 0xFFFF) > 0) {
            throw X86Exception.generalProtection(0);
        }
        c.setSp(c.sp() + 3 * size);
        c.loadCodeSegment(cs, 0, 0);
        c.eip = ip;
        int mask = Eflags.ARITH | Eflags.TF | Eflags.IF | Eflags.DF | Eflags.NT | Eflags.RF | Eflags.AC | Eflags.ID;
        if (size == 2) {
            mask &= 0xFFFF;
        }
        c.setFlags((c.getFlags() & ~mask) | (fl & mask));
        c.nmiBlocked = false;
    }

    /**
     * IRET at CPL 0 with VM set in the popped EFLAGS (32-bit operand size): enters virtual-8086
     * mode, popping EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS (SDM Vol. 2, IRET "RETURN-TO-VIRTUAL-8086-MODE").
     */
    private static void iretToV86(Cpu c, int newFlags) {
        int[] v = new int[9];
        for (int i = 8; i >= 0; i--) { // the deepest slot first: #SS before anything changes
            v[i] = c.peek(4 * i, 4);
        }
        c.setFlags(newFlags);
        c.setCpl(3);
        TaskSwitch.loadV86Segment(c, Cpu.CS, v[1]);
        TaskSwitch.loadV86Segment(c, Cpu.SS, v[4]);
        TaskSwitch.loadV86Segment(c, Cpu.ES, v[5]);
        TaskSwitch.loadV86Segment(c, Cpu.DS, v[6]);
        TaskSwitch.loadV86Segment(c, Cpu.FS, v[7]);
        TaskSwitch.loadV86Segment(c, Cpu.GS, v[8]);
        c.r[Cpu.ESP] = v[3];
        c.eip = v[0] & 0xFFFF;
        c.invalidateFetch();
        c.nmiBlocked = false;
    }
}
