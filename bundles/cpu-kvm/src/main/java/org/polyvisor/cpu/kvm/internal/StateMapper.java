package org.polyvisor.cpu.kvm.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.TreeMap;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.FpuState;
import org.polyvisor.cpu.PendingEvents;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.kvm.DebugRegs;
import org.polyvisor.kvm.Dtable;
import org.polyvisor.kvm.Regs;
import org.polyvisor.kvm.Segment;
import org.polyvisor.kvm.Sregs;
import org.polyvisor.kvm.VcpuEvents;

/**
 * Converts the architectural state value to KVM's structures and back, without the kernel in
 * between (so it is unit-tested alone). What each side has survives a round trip:
 * <ul>
 * <li>segment caches: our VMX access-rights word is split into {@code kvm_segment}'s fields and
 *     packed again bit for bit ({@link Segment#fromAccessRights}/{@link Segment#accessRights});</li>
 * <li>x87/SSE: the FXSAVE legacy image (the first 512 bytes of KVM's XSAVE area). The full tag word
 *     is abridged to one bit per register and rebuilt from the register contents as FXRSTOR
 *     would (SDM Vol. 1, 10.5.1.1), which is lossless for a tag word consistent with its
 *     registers. KVM keeps the 64-bit FIP/FDP; outside long mode the 16-bit FCS/FDS ride in their
 *     bits 47:32, which is exactly where a 32-bit FXSAVE image keeps them;</li>
 * <li>events: an exception or external interrupt accepted but not delivered is injected again;
 *     the interrupt shadow bits are renumbered (ours: STI 1, MOV SS 2; KVM's: MOV SS 1, STI 2).</li>
 * </ul>
 * The activity state and DR4/DR5 are not KVM's business and are kept by the engine; the TSC is
 * the IA32_TIME_STAMP_COUNTER MSR.
 */
public final class StateMapper {

    /** IA32_TIME_STAMP_COUNTER. */
    public static final int MSR_TSC = 0x10;
    /** Offset of the XSTATE_BV bitmap in an XSAVE area. */
    public static final int XSTATE_BV = 512;
    /** XSTATE_BV bits: x87 and SSE state present. */
    public static final long XSTATE_X87_SSE = 0x3;
    private static final long EFER_LMA = 1L << 10;

    private StateMapper() {
    }

    /** KVM's view of one vCPU, as the engine reads or writes it. */
    public record KvmState(Regs regs, Sregs sregs, byte[] fxsave, DebugRegs debug, VcpuEvents events,
                           Map<Integer, Long> msrs, long tsc) {
    }

    /**
     * Converts our state to KVM's.
     *
     * @param s        the state
     * @param apicBase the vCPU's IA32_APIC_BASE (not part of our state)
     * @param fxsave   the current 512-byte legacy area, whose reserved and unknown bytes are kept
     * @return KVM's structures
     */
    public static KvmState toKvm(CpuState s, long apicBase, byte[] fxsave) {
        Regs regs = new Regs(s.gpr(), s.rip(), s.rflags());
        SegmentRegister[] seg = s.segments();
        Dtable gdt = new Dtable(s.gdtr().base(), s.gdtr().limit() & 0xFFFF);
        Dtable idt = new Dtable(s.idtr().base(), s.idtr().limit() & 0xFFFF);
        Sregs sregs = new Sregs(segment(seg[CpuState.CS]), segment(seg[CpuState.DS]), segment(seg[CpuState.ES]),
                segment(seg[CpuState.FS]), segment(seg[CpuState.GS]), segment(seg[CpuState.SS]), segment(s.tr()),
                segment(s.ldtr()), gdt, idt, s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), apicBase,
                new long[4]);
        long[] dr = s.dr();
        DebugRegs debug = new DebugRegs(new long[] {dr[0], dr[1], dr[2], dr[3]}, dr[6], dr[7], 0);
        PendingEvents p = s.events();
        int shadow = ((s.interruptShadow() & CpuState.SHADOW_STI) != 0 ? VcpuEvents.SHADOW_STI : 0)
                | ((s.interruptShadow() & CpuState.SHADOW_MOV_SS) != 0 ? VcpuEvents.SHADOW_MOV_SS : 0);
        VcpuEvents events = new VcpuEvents(p.exceptionVector() >= 0, Math.max(0, p.exceptionVector()),
                p.hasErrorCode(), false, p.errorCode(), p.interruptVector() >= 0, Math.max(0, p.interruptVector()),
                false, shadow, false, p.nmiPending(), p.nmiBlocked(), 0,
                VcpuEvents.VALID_NMI_PENDING | VcpuEvents.VALID_SHADOW, 0, false, false, 0);
        return new KvmState(regs, sregs, fxsave(s.fpu(), (s.efer() & EFER_LMA) != 0, fxsave), debug, events,
                new TreeMap<>(s.msrs()), s.tsc());
    }

    /**
     * Converts KVM's state to ours.
     *
     * @param k        KVM's structures
     * @param activity the engine's activity state
     * @param dr4      DR4 as last imported (KVM has none)
     * @param dr5      DR5 as last imported
     * @return the state
     */
    public static CpuState fromKvm(KvmState k, ActivityState activity, long dr4, long dr5) {
        CpuState.Builder b = CpuState.builder();
        for (int i = 0; i < 16; i++) {
            b.gpr(i, k.regs().gpr(i));
        }
        b.rip(k.regs().rip()).rflags(k.regs().rflags());
        Segment[] seg = k.sregs().segmentsInEncodingOrder();
        for (int i = 0; i < 6; i++) {
            b.segment(i, segment(seg[i]));
        }
        Sregs s = k.sregs();
        b.ldtr(segment(s.ldt())).tr(segment(s.tr()));
        b.gdtr(new DescriptorTableRegister(s.gdt().base(), s.gdt().limit()));
        b.idtr(new DescriptorTableRegister(s.idt().base(), s.idt().limit()));
        b.cr0(s.cr0()).cr2(s.cr2()).cr3(s.cr3()).cr4(s.cr4()).cr8(s.cr8()).efer(s.efer());
        long[] db = k.debug().db();
        for (int i = 0; i < 4; i++) {
            b.dr(i, db[i]);
        }
        b.dr(4, dr4).dr(5, dr5).dr(6, k.debug().dr6()).dr(7, k.debug().dr7());
        Map<Integer, Long> msrs = new TreeMap<>(k.msrs());
        msrs.remove(MSR_TSC);
        b.msrs(msrs);
        b.fpu(fpu(k.fxsave(), (s.efer() & EFER_LMA) != 0));
        VcpuEvents e = k.events();
        // A software interrupt in delivery is dropped: RIP still points at its INT n (SDM Vol. 3C,
        // 27.2.4), so the next engine executes it again.
        boolean exception = e.exceptionInjected() || e.exceptionPending();
        boolean interrupt = e.interruptInjected() && !e.interruptSoft();
        b.events(new PendingEvents(exception ? e.exceptionNr() : -1, exception ? e.exceptionErrorCode() : 0,
                exception && e.exceptionHasErrorCode(), interrupt ? e.interruptNr() : -1,
                e.nmiPending() || e.nmiInjected(), e.nmiMasked()));
        int shadow = 0;
        if ((e.flags() & VcpuEvents.VALID_SHADOW) != 0 || e.interruptShadow() != 0) {
            shadow = ((e.interruptShadow() & VcpuEvents.SHADOW_STI) != 0 ? CpuState.SHADOW_STI : 0)
                    | ((e.interruptShadow() & VcpuEvents.SHADOW_MOV_SS) != 0 ? CpuState.SHADOW_MOV_SS : 0);
        }
        b.interruptShadow(shadow);
        b.activity(activity);
        b.tsc(k.tsc());
        return b.build();
    }

    /**
     * Splits a VMX access-rights word into {@code kvm_segment} fields.
     *
     * @param r our segment register
     * @return KVM's
     */
    public static Segment segment(SegmentRegister r) {
        return Segment.fromAccessRights(r.selector(), r.base(), r.limit(), r.attributes());
    }

    /**
     * Packs {@code kvm_segment} fields into a VMX access-rights word.
     *
     * @param s KVM's segment
     * @return ours
     */
    public static SegmentRegister segment(Segment s) {
        return new SegmentRegister(s.selector(), s.base(), s.limit(), s.accessRights());
    }

    /**
     * Writes the FXSAVE legacy image of an x87/SSE state.
     *
     * @param f        the state
     * @param longMode whether FIP/FDP are 64-bit (else FCS/FDS go to bits 47:32)
     * @param base     the current 512-byte image, whose other bytes are kept (may be null)
     * @return a new 512-byte image
     */
    public static byte[] fxsave(FpuState f, boolean longMode, byte[] base) {
        byte[] out = base == null ? new byte[512] : java.util.Arrays.copyOf(base, 512);
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) f.fcw());
        b.putShort(2, (short) f.fsw());
        int abridged = 0;
        for (int i = 0; i < 8; i++) {
            if (((f.ftw() >>> (2 * i)) & 3) != 3) {
                abridged |= 1 << i;
            }
        }
        b.put(4, (byte) abridged);
        b.put(5, (byte) 0);
        b.putShort(6, (short) (f.fop() & 0x7FF));
        long fip = longMode ? f.fip() : (f.fip() & 0xFFFF_FFFFL) | (long) (f.fcs() & 0xFFFF) << 32;
        long fdp = longMode ? f.fdp() : (f.fdp() & 0xFFFF_FFFFL) | (long) (f.fds() & 0xFFFF) << 32;
        b.putLong(8, fip);
        b.putLong(16, fdp);
        b.putInt(24, f.mxcsr());
        byte[] st = f.st();
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 16; j++) {
                out[32 + 16 * i + j] = j < 10 ? st[10 * i + j] : 0;
            }
        }
        long[] xmm = f.xmm();
        for (int i = 0; i < 32; i++) {
            b.putLong(160 + 8 * i, xmm[i]);
        }
        return out;
    }

    /**
     * Reads an x87/SSE state from an FXSAVE legacy image.
     *
     * @param image    at least 512 bytes
     * @param longMode whether FIP/FDP are 64-bit
     * @return the state
     */
    public static FpuState fpu(byte[] image, boolean longMode) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int fcw = b.getShort(0) & 0xFFFF;
        int fsw = b.getShort(2) & 0xFFFF;
        int abridged = b.get(4) & 0xFF;
        int fop = b.getShort(6) & 0x7FF;
        long fip = b.getLong(8);
        long fdp = b.getLong(16);
        int fcs = 0;
        int fds = 0;
        if (!longMode) {
            fcs = (int) (fip >>> 32) & 0xFFFF;
            fds = (int) (fdp >>> 32) & 0xFFFF;
            fip &= 0xFFFF_FFFFL;
            fdp &= 0xFFFF_FFFFL;
        }
        byte[] st = new byte[80];
        for (int i = 0; i < 8; i++) {
            System.arraycopy(image, 32 + 16 * i, st, 10 * i, 10);
        }
        long[] xmm = new long[32];
        for (int i = 0; i < 32; i++) {
            xmm[i] = b.getLong(160 + 8 * i);
        }
        int top = (fsw >>> 11) & 7;
        int ftw = 0;
        for (int phys = 0; phys < 8; phys++) {
            int tag;
            if ((abridged & (1 << phys)) == 0) {
                tag = 3; // empty
            } else {
                tag = classify(st, (phys - top) & 7);
            }
            ftw |= tag << (2 * phys);
        }
        return new FpuState(fcw, fsw, ftw, fop, fip, fcs, fdp, fds, st, xmm, b.getInt(24));
    }

    /** Tag of a non-empty register from its contents: 00 valid, 01 zero, 10 special. */
    private static int classify(byte[] st, int index) {
        int o = 10 * index;
        long mantissa = 0;
        for (int i = 7; i >= 0; i--) {
            mantissa = mantissa << 8 | (st[o + i] & 0xFF);
        }
        int exponent = ((st[o + 9] & 0x7F) << 8) | (st[o + 8] & 0xFF);
        if (exponent == 0x7FFF) {
            return 2;
        }
        if (exponent == 0) {
            return mantissa == 0 ? 1 : 2;
        }
        return mantissa < 0 ? 0 : 2; // integer bit (63) set: valid; clear: unnormal
    }
}
