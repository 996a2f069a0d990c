package org.polyvisor.cpu;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The architectural state of one vCPU: everything the guest can observe, identical for every
 * engine. A swap exports it from one engine and imports it into another.
 *
 * <p>This is an immutable value; change it through {@link #toBuilder()}. Registers are 64 bits
 * wide so that long mode fits later; a 32-bit engine uses the low halves and keeps the high
 * halves zero.
 */
public final class CpuState {

    /** Format version of this value; engines check it on import. */
    public static final int FORMAT_VERSION = 1;

    /** Index of RAX in {@link #gpr()} (register numbers as in the ModRM encoding). */
    public static final int RAX = 0;
    /** Index of RCX. */
    public static final int RCX = 1;
    /** Index of RDX. */
    public static final int RDX = 2;
    /** Index of RBX. */
    public static final int RBX = 3;
    /** Index of RSP. */
    public static final int RSP = 4;
    /** Index of RBP. */
    public static final int RBP = 5;
    /** Index of RSI. */
    public static final int RSI = 6;
    /** Index of RDI. */
    public static final int RDI = 7;

    /** Index of ES in {@link #segments()} (segment register numbers as in the encoding). */
    public static final int ES = 0;
    /** Index of CS. */
    public static final int CS = 1;
    /** Index of SS. */
    public static final int SS = 2;
    /** Index of DS. */
    public static final int DS = 3;
    /** Index of FS. */
    public static final int FS = 4;
    /** Index of GS. */
    public static final int GS = 5;

    /** Interrupt shadow: blocking by STI (SDM Vol. 3C, 24.4.2). */
    public static final int SHADOW_STI = 1;
    /** Interrupt shadow: blocking by MOV SS / POP SS. */
    public static final int SHADOW_MOV_SS = 2;

    private final int formatVersion;
    private final long[] gpr;
    private final long rip;
    private final long rflags;
    private final SegmentRegister[] segments;
    private final SegmentRegister ldtr;
    private final SegmentRegister tr;
    private final DescriptorTableRegister gdtr;
    private final DescriptorTableRegister idtr;
    private final long cr0;
    private final long cr2;
    private final long cr3;
    private final long cr4;
    private final long cr8;
    private final long efer;
    private final long[] dr;
    private final SortedMap<Integer, Long> msrs;
    private final FpuState fpu;
    private final PendingEvents events;
    private final ActivityState activity;
    private final int interruptShadow;
    private final long tsc;

    private CpuState(Builder b) {
        this.formatVersion = b.formatVersion;
        this.gpr = b.gpr.clone();
        this.rip = b.rip;
        this.rflags = b.rflags;
        this.segments = b.segments.clone();
        for (int i = 0; i < segments.length; i++) {
            Objects.requireNonNull(segments[i], "segment " + i);
        }
        this.ldtr = Objects.requireNonNull(b.ldtr, "ldtr");
        this.tr = Objects.requireNonNull(b.tr, "tr");
        this.gdtr = Objects.requireNonNull(b.gdtr, "gdtr");
        this.idtr = Objects.requireNonNull(b.idtr, "idtr");
        this.cr0 = b.cr0;
        this.cr2 = b.cr2;
        this.cr3 = b.cr3;
        this.cr4 = b.cr4;
        this.cr8 = b.cr8;
        this.efer = b.efer;
        this.dr = b.dr.clone();
        this.msrs = Collections.unmodifiableSortedMap(new TreeMap<>(b.msrs));
        this.fpu = Objects.requireNonNull(b.fpu, "fpu");
        this.events = Objects.requireNonNull(b.events, "events");
        this.activity = Objects.requireNonNull(b.activity, "activity");
        this.interruptShadow = b.interruptShadow;
        this.tsc = b.tsc;
    }

    /**
     * Returns the state of an x86 processor after power-on (SDM Vol. 3A, 9.1.1, Table 9-1):
     * real mode, CS.selector F000 with base FFFF0000, IP FFF0, so that the first instruction is
     * fetched at FFFFFFF0.
     *
     * @param edxSignature the value of EDX after reset (family/model/stepping of the CPU model)
     * @return the reset state
     */
    public static CpuState powerOn(int edxSignature) {
        Builder b = new Builder();
        b.gpr[RDX] = edxSignature & 0xFFFF_FFFFL;
        b.rip = 0xFFF0;
        b.rflags = 0x2; // bit 1 is always set
        for (int i = 0; i < 6; i++) {
            b.segments[i] = SegmentRegister.realMode(0);
        }
        b.segments[CS] = new SegmentRegister(0xF000, 0xFFFF_0000L, 0xFFFF, SegmentRegister.REAL_MODE_CODE);
        b.ldtr = new SegmentRegister(0, 0, 0xFFFF, SegmentRegister.P | 0x2); // LDT type
        b.tr = new SegmentRegister(0, 0, 0xFFFF, SegmentRegister.P | 0xB); // busy 32-bit TSS type
        b.gdtr = new DescriptorTableRegister(0, 0xFFFF);
        b.idtr = new DescriptorTableRegister(0, 0xFFFF);
        b.cr0 = 0x6000_0010L; // CD, NW, ET
        b.dr[6] = 0xFFFF_0FF0L;
        b.dr[7] = 0x400;
        return b.build();
    }

    /**
     * Starts an empty builder (all zero, activity ACTIVE, FPU initial); prefer
     * {@link #powerOn(int)}{@code .toBuilder()}.
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns a builder initialised with this state.
     *
     * @return a builder
     */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** @return the format version this value was made with */
    public int formatVersion() {
        return formatVersion;
    }

    /** @return a copy of the 16 general registers, RAX first */
    public long[] gpr() {
        return gpr.clone();
    }

    /**
     * Returns one general register.
     *
     * @param index 0..15, e.g. {@link #RSP}
     * @return the value
     */
    public long gpr(int index) {
        return gpr[index];
    }

    /** @return the instruction pointer (offset in CS) */
    public long rip() {
        return rip;
    }

    /** @return the flags register */
    public long rflags() {
        return rflags;
    }

    /** @return a copy of ES, CS, SS, DS, FS, GS in encoding order */
    public SegmentRegister[] segments() {
        return segments.clone();
    }

    /**
     * Returns one segment register.
     *
     * @param index 0..5, e.g. {@link #CS}
     * @return the register with its hidden part
     */
    public SegmentRegister segment(int index) {
        return segments[index];
    }

    /** @return the LDT register */
    public SegmentRegister ldtr() {
        return ldtr;
    }

    /** @return the task register */
    public SegmentRegister tr() {
        return tr;
    }

    /** @return the GDT register */
    public DescriptorTableRegister gdtr() {
        return gdtr;
    }

    /** @return the IDT register */
    public DescriptorTableRegister idtr() {
        return idtr;
    }

    /** @return CR0 */
    public long cr0() {
        return cr0;
    }

    /** @return CR2, the last page-fault linear address */
    public long cr2() {
        return cr2;
    }

    /** @return CR3 */
    public long cr3() {
        return cr3;
    }

    /** @return CR4 */
    public long cr4() {
        return cr4;
    }

    /** @return CR8 (task priority) */
    public long cr8() {
        return cr8;
    }

    /** @return the EFER MSR */
    public long efer() {
        return efer;
    }

    /** @return a copy of DR0..DR7 (DR4/DR5 unused) */
    public long[] dr() {
        return dr.clone();
    }

    /** @return the other MSRs the engine keeps, by index, sorted */
    public SortedMap<Integer, Long> msrs() {
        return msrs;
    }

    /** @return x87/MMX/SSE state */
    public FpuState fpu() {
        return fpu;
    }

    /** @return events accepted but not yet delivered */
    public PendingEvents events() {
        return events;
    }

    /** @return running, halted, shut down or waiting for SIPI */
    public ActivityState activity() {
        return activity;
    }

    /** @return interrupt shadow bits ({@link #SHADOW_STI}, {@link #SHADOW_MOV_SS}) */
    public int interruptShadow() {
        return interruptShadow;
    }

    /** @return the time-stamp counter */
    public long tsc() {
        return tsc;
    }

    /**
     * Tells whether CR0.PE is set.
     *
     * @return true in protected mode (including virtual-8086 mode)
     */
    public boolean protectedMode() {
        return (cr0 & 1) != 0;
    }

    /**
     * Returns the current privilege level, derived as VMX and KVM derive it: 0 in real mode, 3 in
     * virtual-8086 mode (RFLAGS.VM), otherwise SS.DPL (which equals CS.RPL except transiently).
     * Every engine uses this rule, so CPL is not stored separately.
     *
     * @return 0..3
     */
    public int cpl() {
        if (!protectedMode()) {
            return 0;
        }
        if ((rflags & 0x2_0000L) != 0) { // RFLAGS.VM
            return 3;
        }
        return segments[SS].dpl();
    }

    /**
     * Formats CS:IP as the guest sees it, e.g. {@code 0008:00001234}.
     *
     * @return the formatted location
     */
    public String location() {
        return String.format("%04x:%08x", segments[CS].selector(), rip);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CpuState s && formatVersion == s.formatVersion && Arrays.equals(gpr, s.gpr)
                && rip == s.rip && rflags == s.rflags && Arrays.equals(segments, s.segments)
                && ldtr.equals(s.ldtr) && tr.equals(s.tr) && gdtr.equals(s.gdtr) && idtr.equals(s.idtr)
                && cr0 == s.cr0 && cr2 == s.cr2 && cr3 == s.cr3 && cr4 == s.cr4 && cr8 == s.cr8
                && efer == s.efer && Arrays.equals(dr, s.dr) && msrs.equals(s.msrs) && fpu.equals(s.fpu)
                && events.equals(s.events) && activity == s.activity
                && interruptShadow == s.interruptShadow && tsc == s.tsc;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(gpr), rip, rflags, cr0, cr3);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        String[] names = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"};
        for (int i = 0; i < 8; i++) {
            sb.append(String.format("%s=%08x ", names[i], gpr[i]));
        }
        sb.append(String.format("rip=%08x rflags=%08x%n", rip, rflags));
        String[] seg = {"es", "cs", "ss", "ds", "fs", "gs"};
        for (int i = 0; i < 6; i++) {
            sb.append(seg[i]).append('=').append(segments[i]).append('\n');
        }
        sb.append("ldtr=").append(ldtr).append(" tr=").append(tr).append('\n');
        sb.append("gdtr=").append(gdtr).append(" idtr=").append(idtr).append('\n');
        sb.append(String.format("cr0=%08x cr2=%08x cr3=%08x cr4=%08x efer=%x activity=%s shadow=%d tsc=%d",
                cr0, cr2, cr3, cr4, efer, activity, interruptShadow, tsc));
        return sb.toString();
    }

    /** Builds a {@link CpuState}. */
    public static final class Builder {
        private int formatVersion = FORMAT_VERSION;
        private long[] gpr = new long[16];
        private long rip;
        private long rflags = 0x2;
        private SegmentRegister[] segments = new SegmentRegister[6];
        private SegmentRegister ldtr = new SegmentRegister(0, 0, 0, SegmentRegister.UNUSABLE);
        private SegmentRegister tr = new SegmentRegister(0, 0, 0, SegmentRegister.UNUSABLE);
        private DescriptorTableRegister gdtr = new DescriptorTableRegister(0, 0);
        private DescriptorTableRegister idtr = new DescriptorTableRegister(0, 0);
        private long cr0;
        private long cr2;
        private long cr3;
        private long cr4;
        private long cr8;
        private long efer;
        private long[] dr = new long[8];
        private Map<Integer, Long> msrs = new TreeMap<>();
        private FpuState fpu = FpuState.initial();
        private PendingEvents events = PendingEvents.NONE;
        private ActivityState activity = ActivityState.ACTIVE;
        private int interruptShadow;
        private long tsc;

        private Builder() {
            for (int i = 0; i < 6; i++) {
                segments[i] = new SegmentRegister(0, 0, 0, SegmentRegister.UNUSABLE);
            }
        }

        private Builder(CpuState s) {
            formatVersion = s.formatVersion;
            gpr = s.gpr.clone();
            rip = s.rip;
            rflags = s.rflags;
            segments = s.segments.clone();
            ldtr = s.ldtr;
            tr = s.tr;
            gdtr = s.gdtr;
            idtr = s.idtr;
            cr0 = s.cr0;
            cr2 = s.cr2;
            cr3 = s.cr3;
            cr4 = s.cr4;
            cr8 = s.cr8;
            efer = s.efer;
            dr = s.dr.clone();
            msrs = new TreeMap<>(s.msrs);
            fpu = s.fpu;
            events = s.events;
            activity = s.activity;
            interruptShadow = s.interruptShadow;
            tsc = s.tsc;
        }

        /**
         * Sets one general register.
         *
         * @param index 0..15
         * @param value the value
         * @return this builder
         */
        public Builder gpr(int index, long value) {
            gpr[index] = value;
            return this;
        }

        /**
         * Sets RIP.
         *
         * @param value the instruction pointer
         * @return this builder
         */
        public Builder rip(long value) {
            rip = value;
            return this;
        }

        /**
         * Sets RFLAGS.
         *
         * @param value the flags
         * @return this builder
         */
        public Builder rflags(long value) {
            rflags = value;
            return this;
        }

        /**
         * Sets a segment register.
         *
         * @param index 0..5
         * @param value the register
         * @return this builder
         */
        public Builder segment(int index, SegmentRegister value) {
            segments[index] = Objects.requireNonNull(value);
            return this;
        }

        /**
         * Sets LDTR.
         *
         * @param value the register
         * @return this builder
         */
        public Builder ldtr(SegmentRegister value) {
            ldtr = value;
            return this;
        }

        /**
         * Sets TR.
         *
         * @param value the register
         * @return this builder
         */
        public Builder tr(SegmentRegister value) {
            tr = value;
            return this;
        }

        /**
         * Sets GDTR.
         *
         * @param value the register
         * @return this builder
         */
        public Builder gdtr(DescriptorTableRegister value) {
            gdtr = value;
            return this;
        }

        /**
         * Sets IDTR.
         *
         * @param value the register
         * @return this builder
         */
        public Builder idtr(DescriptorTableRegister value) {
            idtr = value;
            return this;
        }

        /**
         * Sets CR0.
         *
         * @param value the value
         * @return this builder
         */
        public Builder cr0(long value) {
            cr0 = value;
            return this;
        }

        /**
         * Sets CR2.
         *
         * @param value the value
         * @return this builder
         */
        public Builder cr2(long value) {
            cr2 = value;
            return this;
        }

        /**
         * Sets CR3.
         *
         * @param value the value
         * @return this builder
         */
        public Builder cr3(long value) {
            cr3 = value;
            return this;
        }

        /**
         * Sets CR4.
         *
         * @param value the value
         * @return this builder
         */
        public Builder cr4(long value) {
            cr4 = value;
            return this;
        }

        /**
         * Sets CR8.
         *
         * @param value the value
         * @return this builder
         */
        public Builder cr8(long value) {
            cr8 = value;
            return this;
        }

        /**
         * Sets EFER.
         *
         * @param value the value
         * @return this builder
         */
        public Builder efer(long value) {
            efer = value;
            return this;
        }

        /**
         * Sets a debug register.
         *
         * @param index 0..7
         * @param value the value
         * @return this builder
         */
        public Builder dr(int index, long value) {
            dr[index] = value;
            return this;
        }

        /**
         * Sets an MSR.
         *
         * @param index the MSR number
         * @param value the value
         * @return this builder
         */
        public Builder msr(int index, long value) {
            msrs.put(index, value);
            return this;
        }

        /**
         * Replaces all MSRs.
         *
         * @param values MSR numbers to values
         * @return this builder
         */
        public Builder msrs(Map<Integer, Long> values) {
            msrs = new TreeMap<>(values);
            return this;
        }

        /**
         * Sets the FPU state.
         *
         * @param value the state
         * @return this builder
         */
        public Builder fpu(FpuState value) {
            fpu = value;
            return this;
        }

        /**
         * Sets the pending events.
         *
         * @param value the events
         * @return this builder
         */
        public Builder events(PendingEvents value) {
            events = value;
            return this;
        }

        /**
         * Sets the activity state.
         *
         * @param value the state
         * @return this builder
         */
        public Builder activity(ActivityState value) {
            activity = value;
            return this;
        }

        /**
         * Sets the interrupt shadow bits.
         *
         * @param value {@link #SHADOW_STI} and/or {@link #SHADOW_MOV_SS}
         * @return this builder
         */
        public Builder interruptShadow(int value) {
            interruptShadow = value;
            return this;
        }

        /**
         * Sets the TSC.
         *
         * @param value the counter
         * @return this builder
         */
        public Builder tsc(long value) {
            tsc = value;
            return this;
        }

        /**
         * Builds the immutable value.
         *
         * @return the state
         */
        public CpuState build() {
            return new CpuState(this);
        }
    }
}
