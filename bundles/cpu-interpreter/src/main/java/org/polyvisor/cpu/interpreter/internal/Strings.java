package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.x86.Descriptors;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.LazyFlags;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;
import org.polyvisor.x86.decode.Mnemonic;

/** String instructions with REP/REPE/REPNE, and port I/O (IN, OUT, INS, OUTS) with the I/O permission check. */
final class Strings {

    /**
     * Iterations of a REP string instruction done in one go; if more remain, the instruction is
     * restarted (EIP stays on it), so interrupts and exit requests are seen between the slices.
     */
    private static final int REP_SLICE = 1024;

    private Strings() {
    }

    static void string(Cpu c, Instruction in, Mnemonic m) {
        int size = m == Mnemonic.OUTS ? in.size(1) : in.size(0);
        int asize = in.addrSize();
        int amask = asize == 2 ? 0xFFFF : -1;
        int delta = (c.flags & Eflags.DF) != 0 ? -size : size;
        if (m == Mnemonic.INS || m == Mnemonic.OUTS) {
            checkIo(c, c.r[2] & 0xFFFF, size);
        }
        if (in.repPrefix() == 0) {
            once(c, in, m, size, asize, delta);
            return;
        }
        int count = c.reg(asize, 1) & amask;
        boolean conditional = m == Mnemonic.CMPS || m == Mnemonic.SCAS;
        boolean repe = in.repPrefix() == 0xF3;
        for (int n = 0; n < REP_SLICE && count != 0; n++) {
            once(c, in, m, size, asize, delta);
            count = (count - 1) & amask;
            c.setReg(asize, 1, count);
            if (conditional && c.lazy.zf() != repe) {
                return;
            }
        }
        if (count != 0) {
            c.eip = c.startEip;
        }
    }

    private static void once(Cpu c, Instruction in, Mnemonic m, int size, int asize, int delta) {
        int si = c.reg(asize, 6);
        int di = c.reg(asize, 7);
        switch (m) {
            case MOVS -> {
                int v = c.read(in.segment(), si, size);
                c.write(Cpu.ES, di, size, v);
                c.setReg(asize, 6, si + delta);
                c.setReg(asize, 7, di + delta);
            }
            case CMPS -> {
                int a = c.read(in.segment(), si, size);
                int b = c.read(Cpu.ES, di, size);
                c.lazy.set(LazyFlags.OP_SUB, size, a, b, a - b);
                c.setReg(asize, 6, si + delta);
                c.setReg(asize, 7, di + delta);
            }
            case STOS -> {
                c.write(Cpu.ES, di, size, c.reg(size, 0));
                c.setReg(asize, 7, di + delta);
            }
            case LODS -> {
                c.setReg(size, 0, c.read(in.segment(), si, size));
                c.setReg(asize, 6, si + delta);
            }
            case SCAS -> {
                int a = c.reg(size, 0);
                int b = c.read(Cpu.ES, di, size);
                c.lazy.set(LazyFlags.OP_SUB, size, a, b, a - b);
                c.setReg(asize, 7, di + delta);
            }
            case INS -> {
                c.linearWrite(Cpu.ES, di, size); // check the destination before the port side effect
                c.portIo++;
                int v = c.ports.read(c.r[2] & 0xFFFF, size);
                c.write(Cpu.ES, di, size, v);
                c.setReg(asize, 7, di + delta);
            }
            case OUTS -> {
                int v = c.read(in.segment(), si, size);
                c.portIo++;
                c.ports.write(c.r[2] & 0xFFFF, size, v & LazyFlags.mask(size));
                c.syncDecoding();
                c.setReg(asize, 6, si + delta);
            }
            default -> throw new IllegalStateException(m.name());
        }
    }

    static void in(Cpu c, Instruction in) {
        int size = in.size(0);
        int port = in.kind(1) == Instruction.KIND_IMM ? in.imm() & 0xFF : c.r[2] & 0xFFFF;
        checkIo(c, port, size);
        c.portIo++;
        c.setReg(size, 0, c.ports.read(port, size));
    }

    static void out(Cpu c, Instruction in) {
        int size = in.size(1);
        int port = in.kind(0) == Instruction.KIND_IMM ? in.imm() & 0xFF : c.r[2] & 0xFFFF;
        checkIo(c, port, size);
        c.portIo++;
        c.ports.write(port, size, c.reg(size, 0) & LazyFlags.mask(size));
        c.syncDecoding(); // an A20 gate (0x92, 0x60) or PAM write takes effect at the next instruction, not the next run
    }

    /** The protected-mode I/O permission check (SDM Vol. 1, 19.5): IOPL, then the TSS bitmap. */
    static void checkIo(Cpu c, int port, int size) {
        if (!c.pe || c.cpl <= c.iopl() && !c.v86()) {
            return;
        }
        var tr = c.tr;
        int type = tr.attributes() & 0xF;
        if (!tr.usable() || type != Descriptors.TSS32_BUSY && type != Descriptors.TSS32_AVAILABLE || tr.limit() < 0x67) {
            throw X86Exception.generalProtection(0);
        }
        int mapBase = c.readLinear(tr.base() + 0x66, 2, false);
        int at = mapBase + (port >>> 3);
        if (at + 1 > tr.limit()) {
            throw X86Exception.generalProtection(0);
        }
        int bits = c.readLinear(tr.base() + at, 2, false);
        int mask = ((1 << size) - 1) << (port & 7);
        if ((bits & mask) != 0) {
            throw X86Exception.generalProtection(0);
        }
    }
}
