package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.cpu.CpuState;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.LazyFlags;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;

/** Data movement and the stack: MOV forms, extensions, exchanges, PUSH/POP families, ENTER/LEAVE. */
final class DataOps {

    private DataOps() {
    }

    static void mov(Cpu c, Instruction in) {
        if (in.size(0) == 4 && in.kind(0) == Instruction.KIND_REG) {
            c.r[in.reg(0)] = c.readOp(in, 1); // the commonest form: a load into a 32-bit register
            return;
        }
        c.writeOp(in, 0, c.readOp(in, 1));
    }

    /** MOV Ev,Sw and MOV Sw,Ew. */
    static void movSreg(Cpu c, Instruction in) {
        if (in.kind(0) == Instruction.KIND_SREG) {
            int seg = in.reg(0);
            int sel = c.readOp(in, 1) & 0xFFFF;
            c.loadSegment(seg, sel);
            if (seg == Cpu.SS) {
                c.shadow |= CpuState.SHADOW_MOV_SS;
            }
            return;
        }
        int sel = c.segSel[in.reg(1)];
        if (in.kind(0) == Instruction.KIND_MEM) {
            c.write(in.segment(), c.ea(in), 2, sel); // always a 16-bit store
        } else {
            c.setReg(in.size(0), in.reg(0), sel); // zero-extended into a 32-bit register
        }
    }

    static void movzx(Cpu c, Instruction in) {
        c.writeOp(in, 0, c.readOp(in, 1) & LazyFlags.mask(in.size(1)));
    }

    static void movsx(Cpu c, Instruction in) {
        c.writeOp(in, 0, LazyFlags.signExtend(c.readOp(in, 1) & LazyFlags.mask(in.size(1)), in.size(1)));
    }

    static void lea(Cpu c, Instruction in) {
        c.writeOp(in, 0, c.ea(in));
    }

    static void xchg(Cpu c, Instruction in) {
        int a = c.readOp(in, 0);
        int b = c.readOp(in, 1);
        // Memory (operand 0 when present) first, so a fault leaves the register unchanged.
        c.writeOp(in, 0, b);
        c.writeOp(in, 1, a);
    }

    static void xadd(Cpu c, Instruction in) {
        int size = in.size(0);
        int a = c.readOp(in, 0);
        int b = c.readOp(in, 1);
        int r = a + b;
        if (in.kind(0) == Instruction.KIND_MEM) {
            c.writeOp(in, 0, r); // memory first: a faulting store leaves the register alone
            c.writeOp(in, 1, a);
        } else {
            // SDM order SRC <- DEST, then DEST <- sum: XADD r, r (same register) keeps the sum.
            c.writeOp(in, 1, a);
            c.writeOp(in, 0, r);
        }
        c.lazy.set(LazyFlags.OP_ADD, size, a, b, r);
    }

    static void cmpxchg(Cpu c, Instruction in) {
        int size = in.size(0);
        int dest = c.readOp(in, 0);
        int acc = c.reg(size, 0);
        // the store comes first: if it faults, EFLAGS and the accumulator are left as they were
        if (((acc ^ dest) & LazyFlags.mask(size)) == 0) {
            c.writeOp(in, 0, c.readOp(in, 1));
        } else {
            c.writeOp(in, 0, dest); // the processor always writes the destination back
            c.setReg(size, 0, dest);
        }
        c.lazy.set(LazyFlags.OP_SUB, size, acc, dest, acc - dest);
    }

    static void cmpxchg8b(Cpu c, Instruction in) {
        SystemOps.requireFeature(c, org.polyvisor.x86.CpuModel.EDX_CX8);
        int seg = in.segment();
        int off = c.ea(in);
        int lo = c.read(seg, off, 4);
        int hi = c.read(seg, off + 4, 4);
        int f = c.lazy.get() & ~Eflags.ZF;
        if (lo == c.r[0] && hi == c.r[2]) {
            c.write(seg, off, 4, c.r[3]);
            c.write(seg, off + 4, 4, c.r[1]);
            f |= Eflags.ZF;
        } else {
            c.write(seg, off, 4, lo);
            c.write(seg, off + 4, 4, hi);
            c.r[0] = lo;
            c.r[2] = hi;
        }
        c.lazy.setAll(f);
    }

    static void bswap(Cpu c, Instruction in) {
        int n = in.reg(0);
        c.r[n] = in.opSize() == 4 ? Integer.reverseBytes(c.r[n]) : c.r[n] & 0xFFFF_0000; // 16-bit: undefined, P6 gives 0
    }

    static void cbw(Cpu c, Instruction in) {
        if (in.opSize() == 4) {
            c.r[0] = (short) c.r[0];
        } else {
            c.setReg(2, 0, (byte) c.r[0]);
        }
    }

    static void cwd(Cpu c, Instruction in) {
        if (in.opSize() == 4) {
            c.r[2] = c.r[0] >> 31;
        } else {
            c.setReg(2, 2, ((short) c.r[0]) >> 15);
        }
    }

    static void lahf(Cpu c) {
        c.setReg(1, 4, c.getFlags() & 0xFF);
    }

    static void sahf(Cpu c) {
        int ah = (c.r[0] >>> 8) & 0xFF;
        int mask = Eflags.SF | Eflags.ZF | Eflags.AF | Eflags.PF | Eflags.CF;
        c.lazy.setAll((c.lazy.get() & ~mask) | (ah & mask));
    }

    static void xlat(Cpu c, Instruction in) {
        int off = c.reg(in.addrSize(), 3) + (c.r[0] & 0xFF);
        if (in.addrSize() == 2) {
            off &= 0xFFFF;
        }
        c.setReg(1, 0, c.read(in.segment(), off, 1));
    }

    static void salc(Cpu c) {
        c.setReg(1, 0, c.cf() ? 0xFF : 0);
    }

    static void cmov(Cpu c, Instruction in) {
        int v = c.readOp(in, 1); // the source is read (and may fault) even if the condition is false
        if (c.lazy.condition(in.condition())) {
            c.writeOp(in, 0, v);
        } else if (in.size(0) == 4) {
            c.writeOp(in, 0, c.readOp(in, 0));
        }
    }

    static void setcc(Cpu c, Instruction in) {
        c.writeOp(in, 0, c.lazy.condition(in.condition()) ? 1 : 0);
    }

    static void bound(Cpu c, Instruction in) {
        int size = in.opSize();
        int idx = LazyFlags.signExtend(c.readOp(in, 0) & LazyFlags.mask(size), size);
        int off = c.ea(in);
        int lower = LazyFlags.signExtend(c.read(in.segment(), off, size) & LazyFlags.mask(size), size);
        int upper = LazyFlags.signExtend(c.read(in.segment(), off + size, size) & LazyFlags.mask(size), size);
        if (idx < lower || idx > upper) {
            throw X86Exception.of(5, 0);
        }
    }

    static void arpl(Cpu c, Instruction in) {
        if (!c.pe || c.v86()) {
            throw X86Exception.invalidOpcode();
        }
        int dest = c.readOp(in, 0);
        int src = c.readOp(in, 1);
        int f = c.lazy.get() & ~Eflags.ZF;
        if ((dest & 3) < (src & 3)) {
            c.writeOp(in, 0, (dest & ~3) | (src & 3));
            f |= Eflags.ZF;
        }
        c.lazy.setAll(f);
    }

    /** LDS/LES/LSS/LFS/LGS Gz, Mp. */
    static void loadFarPointer(Cpu c, Instruction in, int seg) {
        int size = in.opSize();
        int off = c.ea(in);
        int offset = c.read(in.segment(), off, size);
        int selector = c.read(in.segment(), off + size, 2);
        c.loadSegment(seg, selector);
        c.setReg(size, in.reg(0), offset);
        // No interrupt shadow after LSS: only MOV SS and POP SS inhibit (SDM Vol. 3A 6.8.3); LSS
        // loads SS:ESP in one instruction, which is what the shadow exists for.
    }

    // ---- stack ----

    static void push(Cpu c, Instruction in) {
        if (in.kind(0) == Instruction.KIND_SREG) {
            int size = in.opSize();
            // P6: a 32-bit push of a segment register moves only 16 bits (SDM PUSH).
            int sp = (c.sp() - size) & (c.stack32 ? -1 : 0xFFFF);
            c.linearWrite(Cpu.SS, sp, size);
            c.write(Cpu.SS, sp, 2, c.segSel[in.reg(0)]);
            c.setSp(sp);
            return;
        }
        int size = in.kind(0) == Instruction.KIND_IMM ? in.opSize() : in.size(0);
        c.push(size, c.readOp(in, 0));
    }

    static void pop(Cpu c, Instruction in) {
        if (in.kind(0) == Instruction.KIND_SREG) {
            int size = in.opSize();
            int sel = c.peek(0, 2);
            int seg = in.reg(0);
            c.loadSegment(seg, sel);
            c.setSp(c.sp() + size);
            if (seg == Cpu.SS) {
                c.shadow |= CpuState.SHADOW_MOV_SS;
            }
            return;
        }
        int size = in.size(0);
        if (in.kind(0) == Instruction.KIND_MEM) {
            int v = c.peek(0, size);
            c.setSp(c.sp() + size); // ESP-based addresses use the incremented ESP (SDM POP)
            c.writeOp(in, 0, v);
            return;
        }
        int v = c.pop(size);
        c.setReg(size, in.reg(0), v);
    }

    static void pusha(Cpu c, Instruction in) {
        int size = in.opSize();
        int sp = c.sp();
        int spMask = c.stack32 ? -1 : 0xFFFF;
        int top = (sp - 8 * size) & spMask;
        // Each push wraps within a 16-bit stack (SP = 8 stores at 6..0 and FFFE..FFF8); check every
        // slot before storing any, so a fault leaves memory untouched.
        for (int i = 0; i < 8; i++) {
            c.linearWrite(Cpu.SS, (top + (7 - i) * size) & spMask, size);
        }
        for (int i = 0; i < 8; i++) {
            int v = i == Cpu.ESP ? sp : c.r[i];
            c.write(Cpu.SS, (top + (7 - i) * size) & spMask, size, v);
        }
        c.setSp(top);
    }

    static void popa(Cpu c, Instruction in) {
        int size = in.opSize();
        int[] v = new int[8];
        for (int i = 0; i < 8; i++) {
            v[7 - i] = c.peek(i * size, size);
        }
        for (int i = 0; i < 8; i++) {
            if (i != Cpu.ESP) {
                c.setReg(size, i, v[i]);
            }
        }
        c.setSp(c.sp() + 8 * size);
    }

    static void pushf(Cpu c, Instruction in) {
        if (c.v86() && c.iopl() < 3) {
            throw X86Exception.generalProtection(0);
        }
        int f = c.getFlags() & ~(Eflags.VM | Eflags.RF); // VM and RF are not pushed
        c.push(in.opSize(), f);
    }

    static void popf(Cpu c, Instruction in) {
        if (c.v86() && c.iopl() < 3) {
            throw X86Exception.generalProtection(0);
        }
        int size = in.opSize();
        int v = c.pop(size);
        int mask = Eflags.ARITH | Eflags.TF | Eflags.DF | Eflags.NT | Eflags.AC | Eflags.ID;
        if (!c.pe || c.cpl == 0) {
            mask |= Eflags.IOPL | Eflags.IF;
        } else if (c.cpl <= c.iopl()) {
            mask |= Eflags.IF;
        }
        if (c.v86()) {
            mask &= ~Eflags.IOPL;
            mask |= Eflags.IF;
        }
        if (size == 2) {
            mask &= 0xFFFF;
        }
        c.setFlags((c.getFlags() & ~mask) | (v & mask));
    }

    static void enter(Cpu c, Instruction in) {
        int size = in.opSize();
        int frameSize = in.imm() & 0xFFFF;
        int level = in.imm2() & 0x1F;
        int spMask = c.stack32 ? -1 : 0xFFFF;
        int bp = c.reg(c.stack32 ? 4 : 2, 5);
        c.push(size, c.reg(size, 5));
        int frameTemp = c.sp();
        if (level > 0) {
            for (int i = 1; i < level; i++) {
                bp = (bp - size) & spMask;
                c.push(size, c.read(Cpu.SS, bp, size));
            }
            c.push(size, frameTemp);
        }
        int newSp = (c.sp() - frameSize) & spMask;
        c.linearWrite(Cpu.SS, newSp, 1); // #SS if the frame does not fit
        c.setReg(size, 5, frameTemp);
        c.setSp(newSp);
    }

    static void leave(Cpu c, Instruction in) {
        int size = in.opSize();
        int bp = c.stack32 ? c.r[5] : c.r[5] & 0xFFFF;
        int v = c.read(Cpu.SS, bp, size);
        c.setSp(bp + size);
        c.setReg(size, 5, v);
    }
}
