package org.polyvisor.kvm;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Marshalling between the records and the kernel's structure layouts (x86_64, native order). */
final class Structs {

    /** Offsets of RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI in struct kvm_regs (kernel order: a b c d si di sp bp). */
    private static final int[] REG_OFFSET = {0, 16, 24, 8, 48, 56, 32, 40};

    private Structs() {
    }

    static Regs readRegs(ByteBuffer b) {
        long[] g = new long[16];
        for (int i = 0; i < 8; i++) {
            g[i] = b.getLong(REG_OFFSET[i]);
        }
        for (int i = 8; i < 16; i++) {
            g[i] = b.getLong(64 + 8 * (i - 8));
        }
        return new Regs(g, b.getLong(128), b.getLong(136));
    }

    static void writeRegs(ByteBuffer b, Regs r) {
        for (int i = 0; i < 8; i++) {
            b.putLong(REG_OFFSET[i], r.gpr(i));
        }
        for (int i = 8; i < 16; i++) {
            b.putLong(64 + 8 * (i - 8), r.gpr(i));
        }
        b.putLong(128, r.rip());
        b.putLong(136, r.rflags());
    }

    static Segment readSegment(ByteBuffer b, int o) {
        return new Segment(b.getLong(o), b.getInt(o + 8), b.getShort(o + 12) & 0xFFFF, b.get(o + 14) & 0xFF,
                b.get(o + 15) != 0, b.get(o + 16) & 0xFF, b.get(o + 17) != 0, b.get(o + 18) != 0,
                b.get(o + 19) != 0, b.get(o + 20) != 0, b.get(o + 21) != 0, b.get(o + 22) != 0);
    }

    static void writeSegment(ByteBuffer b, int o, Segment s) {
        b.putLong(o, s.base());
        b.putInt(o + 8, s.limit());
        b.putShort(o + 12, (short) s.selector());
        b.put(o + 14, (byte) s.type());
        b.put(o + 15, (byte) (s.present() ? 1 : 0));
        b.put(o + 16, (byte) s.dpl());
        b.put(o + 17, (byte) (s.db() ? 1 : 0));
        b.put(o + 18, (byte) (s.s() ? 1 : 0));
        b.put(o + 19, (byte) (s.l() ? 1 : 0));
        b.put(o + 20, (byte) (s.g() ? 1 : 0));
        b.put(o + 21, (byte) (s.avl() ? 1 : 0));
        b.put(o + 22, (byte) (s.unusable() ? 1 : 0));
        b.put(o + 23, (byte) 0);
    }

    static Sregs readSregs(ByteBuffer b) {
        Segment[] s = new Segment[8];
        for (int i = 0; i < 8; i++) {
            s[i] = readSegment(b, i * 24);
        }
        long[] bitmap = new long[4];
        for (int i = 0; i < 4; i++) {
            bitmap[i] = b.getLong(280 + 8 * i);
        }
        return new Sregs(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                new Dtable(b.getLong(192), b.getShort(200) & 0xFFFF), new Dtable(b.getLong(208), b.getShort(216) & 0xFFFF),
                b.getLong(224), b.getLong(232), b.getLong(240), b.getLong(248), b.getLong(256), b.getLong(264),
                b.getLong(272), bitmap);
    }

    static void writeSregs(ByteBuffer b, Sregs r) {
        Segment[] s = {r.cs(), r.ds(), r.es(), r.fs(), r.gs(), r.ss(), r.tr(), r.ldt()};
        for (int i = 0; i < 8; i++) {
            writeSegment(b, i * 24, s[i]);
        }
        b.putLong(192, r.gdt().base());
        b.putShort(200, (short) r.gdt().limit());
        b.putShort(202, (short) 0).putShort(204, (short) 0).putShort(206, (short) 0);
        b.putLong(208, r.idt().base());
        b.putShort(216, (short) r.idt().limit());
        b.putShort(218, (short) 0).putShort(220, (short) 0).putShort(222, (short) 0);
        b.putLong(224, r.cr0()).putLong(232, r.cr2()).putLong(240, r.cr3()).putLong(248, r.cr4());
        b.putLong(256, r.cr8()).putLong(264, r.efer()).putLong(272, r.apicBase());
        long[] bitmap = r.interruptBitmap();
        for (int i = 0; i < 4; i++) {
            b.putLong(280 + 8 * i, bitmap[i]);
        }
    }

    static Fpu readFpu(ByteBuffer b) {
        byte[] fpr = new byte[128];
        byte[] xmm = new byte[256];
        b.get(0, fpr);
        b.get(152, xmm);
        return new Fpu(fpr, b.getShort(128) & 0xFFFF, b.getShort(130) & 0xFFFF, b.get(132) & 0xFF,
                b.getShort(134) & 0xFFFF, b.getLong(136), b.getLong(144), xmm, b.getInt(408));
    }

    static void writeFpu(ByteBuffer b, Fpu f) {
        b.put(0, f.fpr());
        b.putShort(128, (short) f.fcw());
        b.putShort(130, (short) f.fsw());
        b.put(132, (byte) f.ftwx());
        b.put(133, (byte) 0);
        b.putShort(134, (short) f.lastOpcode());
        b.putLong(136, f.lastIp());
        b.putLong(144, f.lastDp());
        b.put(152, f.xmm());
        b.putInt(408, f.mxcsr());
        b.putInt(412, 0);
    }

    static VcpuEvents readEvents(ByteBuffer b) {
        return new VcpuEvents(b.get(0) != 0, b.get(1) & 0xFF, b.get(2) != 0, b.get(3) != 0, b.getInt(4),
                b.get(8) != 0, b.get(9) & 0xFF, b.get(10) != 0, b.get(11) & 0xFF,
                b.get(12) != 0, b.get(13) != 0, b.get(14) != 0,
                b.getInt(16), b.getInt(20), b.getInt(24), b.get(28) != 0, b.get(55) != 0, b.getLong(56));
    }

    static void writeEvents(ByteBuffer b, VcpuEvents e) {
        for (int i = 0; i < 64; i += 8) {
            b.putLong(i, 0);
        }
        b.put(0, (byte) (e.exceptionInjected() ? 1 : 0));
        b.put(1, (byte) e.exceptionNr());
        b.put(2, (byte) (e.exceptionHasErrorCode() ? 1 : 0));
        b.put(3, (byte) (e.exceptionPending() ? 1 : 0));
        b.putInt(4, e.exceptionErrorCode());
        b.put(8, (byte) (e.interruptInjected() ? 1 : 0));
        b.put(9, (byte) e.interruptNr());
        b.put(10, (byte) (e.interruptSoft() ? 1 : 0));
        b.put(11, (byte) e.interruptShadow());
        b.put(12, (byte) (e.nmiInjected() ? 1 : 0));
        b.put(13, (byte) (e.nmiPending() ? 1 : 0));
        b.put(14, (byte) (e.nmiMasked() ? 1 : 0));
        b.putInt(16, e.sipiVector());
        b.putInt(20, e.flags());
        b.putInt(24, e.smi());
        b.put(28, (byte) (e.tripleFaultPending() ? 1 : 0));
        b.put(55, (byte) (e.exceptionHasPayload() ? 1 : 0));
        b.putLong(56, e.exceptionPayload());
    }

    static DebugRegs readDebugRegs(ByteBuffer b) {
        return new DebugRegs(new long[] {b.getLong(0), b.getLong(8), b.getLong(16), b.getLong(24)},
                b.getLong(32), b.getLong(40), b.getLong(48));
    }

    static void writeDebugRegs(ByteBuffer b, DebugRegs d) {
        for (int i = 0; i < 128; i += 8) {
            b.putLong(i, 0);
        }
        long[] db = d.db();
        for (int i = 0; i < 4; i++) {
            b.putLong(8 * i, db[i]);
        }
        b.putLong(32, d.dr6()).putLong(40, d.dr7()).putLong(48, d.flags());
    }

    static List<CpuidEntry> readCpuid(ByteBuffer b) {
        int n = b.getInt(0);
        List<CpuidEntry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int o = 8 + i * 40;
            out.add(new CpuidEntry(b.getInt(o), b.getInt(o + 4), b.getInt(o + 8), b.getInt(o + 12), b.getInt(o + 16),
                    b.getInt(o + 20), b.getInt(o + 24)));
        }
        return out;
    }

    static void writeCpuid(ByteBuffer b, List<CpuidEntry> entries) {
        b.putInt(0, entries.size());
        b.putInt(4, 0);
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry e = entries.get(i);
            int o = 8 + i * 40;
            b.putInt(o, e.function()).putInt(o + 4, e.index()).putInt(o + 8, e.flags()).putInt(o + 12, e.eax())
                    .putInt(o + 16, e.ebx()).putInt(o + 20, e.ecx()).putInt(o + 24, e.edx())
                    .putInt(o + 28, 0).putInt(o + 32, 0).putInt(o + 36, 0);
        }
    }
}
