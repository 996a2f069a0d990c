package org.polyvisor.cpu.kvm.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.kvm.CpuidEntry;
import org.polyvisor.kvm.KvmException;
import org.polyvisor.kvm.KvmExit;
import org.polyvisor.kvm.Sregs;
import org.polyvisor.kvm.VcpuFd;
import org.polyvisor.memory.GuestMemory;

/**
 * An engine that runs guest code on the host CPU through KVM, as a userspace VMM does: it enters
 * the guest with {@code KVM_RUN}, answers port I/O and MMIO exits through the VM's buses on the
 * vCPU thread, injects interrupts from the VM's interrupt controller with {@code KVM_INTERRUPT}
 * when {@code ready_for_interrupt_injection} allows (asking for an interrupt window otherwise), and
 * turns the other exits into {@link Exit}s.
 *
 * <p>Budget: KVM cannot count instructions, so {@link #run(long)} treats its budget as a time
 * slice ({@link #SLICE_NANOS}): a per-thread POSIX timer kicks {@code KVM_RUN} out and the run
 * returns {@link Exit.BudgetSpent}. {@link #requestExit()} sets {@code immediate_exit} and signals
 * the vCPU thread, so a run in the guest returns within microseconds. {@link #instructionsRetired()}
 * is always 0 (documented: hardware does not count for us), and the deterministic clock, which
 * needs that count, is refused when the engine is created.
 */
final class KvmEngine implements CpuEngine {

    /** Longest time in the guest before returning to the VMM (timers, statistics). */
    static final long SLICE_NANOS = 2_000_000; // 2 ms, about what 200 000 interpreted instructions take

    private static final Exit HALTED = new Exit.Halted();
    private static final Exit BUDGET_SPENT = new Exit.BudgetSpent();
    private static final Exit REQUESTED = new Exit.Requested();

    /** SYSENTER_CS/ESP/EIP: every engine keeps them. */
    private static final int[] BASE_MSRS = {0x174, 0x175, 0x176};
    /** STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE: exported once the guest is in long mode. */
    private static final int[] LONG_MODE_MSRS = {0xC000_0081, 0xC000_0082, 0xC000_0083, 0xC000_0084, 0xC000_0102};

    private final VcpuContext context;
    private final VmShare.Lease lease;
    private final VcpuFd vcpu;
    private final PortBus ports;
    private final MmioBus mmio;
    private final GuestMemory memory;
    private final InterruptSource interrupts;
    private final Set<Integer> knownMsrs = new TreeSet<>();
    private final Set<Integer> trackedMsrs = new TreeSet<>();
    /**
     * MSRs of the imported state that this host's KVM does not virtualise (not in
     * KVM_GET_MSR_INDEX_LIST, e.g. IA32_PLATFORM_ID on an AMD host): the guest cannot reach them
     * through KVM, so the engine holds their values and exports them unchanged, keeping a swap
     * lossless.
     */
    private final Map<Integer, Long> heldMsrs = new TreeMap<>();

    private volatile boolean exitRequested;
    private ActivityState activity = ActivityState.ACTIVE;
    private Exit.Shutdown shutdown;
    /** The last exit was I/O or MMIO, which KVM completes only on the next KVM_RUN. */
    private boolean needsCompletion;
    /** Whether the guest can take an interrupt, as of the last exit or import. */
    private boolean interruptible;
    private boolean windowRequested;
    private long dr4;
    private long dr5;
    private volatile boolean closed;

    // statistics
    private long runs;
    private long ioExits;
    private long mmioExits;
    private long hltExits;
    private long windowExits;
    private long intrExits;
    private long injected;
    private long slices;
    private long a20Closed;

    KvmEngine(VcpuContext context, VmShare.Lease lease) {
        this.context = context;
        this.lease = lease;
        this.vcpu = lease.vcpu;
        this.ports = context.ports();
        this.mmio = context.mmio();
        this.memory = context.memory();
        this.interrupts = context.interrupts();
        for (int m : lease.share.msrIndex) {
            knownMsrs.add(m);
        }
        vcpu.setCpuid(cpuidFor(lease.share.cpuid, context.vcpuId()));
        importState(CpuState.powerOn(0x0600)); // family 6, as the host's CPUID says anyway
    }

    /** The host's supported CPUID with this vCPU's APIC id filled in. */
    private static List<CpuidEntry> cpuidFor(List<CpuidEntry> supported, int id) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            if (e.function() == 1) {
                e = new CpuidEntry(e.function(), e.index(), e.flags(), e.eax(), (e.ebx() & 0x00FF_FFFF) | id << 24,
                        e.ecx(), e.edx());
            } else if (e.function() == 0xB || e.function() == 0x1F) {
                e = new CpuidEntry(e.function(), e.index(), e.flags(), e.eax(), e.ebx(), e.ecx(), id);
            }
            out.add(e);
        }
        return out;
    }

    @Override
    public Exit run(long budget) {
        if (shutdown != null) {
            return shutdown;
        }
        vcpu.bindToCurrentThread();
        // A time-slice tick that landed after the previous run left KVM (or a kick meant for an
        // earlier engine on this thread) would end the first KVM_RUN at once: take it now. A
        // request made since is still seen, through exitRequested, checked after this.
        vcpu.acknowledgeKicks();
        vcpu.setKickable(true);
        try {
            if (exitRequested) {
                return requested();
            }
            if (context.a20Mask() != -1L) {
                a20Closed++; // KVM maps memory without the A20 wrap; the gate is open for this engine
            }
            if (interrupts.hasStartupEvent()) {
                startupEvent(interrupts.takeStartupEvent());
            }
            if (activity == ActivityState.WAIT_FOR_SIPI) {
                return HALTED;
            }
            if (activity == ActivityState.HALTED && !wake()) {
                return HALTED;
            }
            vcpu.timeSlice(SLICE_NANOS);
            try {
                return loop();
            } finally {
                vcpu.timeSlice(0);
            }
        } catch (KvmException e) {
            return new Exit.EngineFault("kvm: " + e.getMessage() + " at " + safeLocation());
        } finally {
            vcpu.setKickable(false);
        }
    }

    private Exit loop() {
        while (true) {
            if (exitRequested) {
                return requested();
            }
            injectInterrupts();
            KvmExit e = vcpu.run();
            runs++;
            needsCompletion = false;
            if (e instanceof KvmExit.Io io) {
                ioExits++;
                needsCompletion = true;
                io(io);
            } else if (e instanceof KvmExit.Mmio m) {
                mmioExits++;
                needsCompletion = true;
                mmio(m);
            } else if (e instanceof KvmExit.IrqWindowOpen) {
                windowExits++;
                interruptible = true;
            } else if (e instanceof KvmExit.Hlt) {
                hltExits++;
                activity = ActivityState.HALTED;
                interruptible = vcpu.interruptFlag();
                return HALTED;
            } else if (e instanceof KvmExit.Intr) {
                intrExits++;
                vcpu.acknowledgeKicks();
                if (exitRequested) {
                    return requested();
                }
                slices++;
                interruptible = vcpu.readyForInterruptInjection();
                return BUDGET_SPENT;
            } else if (e instanceof KvmExit.Shutdown) {
                String limit = paged32Problem();
                if (limit != null) {
                    // Not the guest's fault: this KVM cannot run what the guest turned on.
                    return new Exit.EngineFault("kvm: KVM_EXIT_SHUTDOWN with 32-bit paging on: " + limit + " at "
                            + safeLocation());
                }
                activity = ActivityState.SHUTDOWN;
                shutdown = new Exit.Shutdown(Exit.Shutdown.Cause.TRIPLE_FAULT, safeLocation(), "KVM_EXIT_SHUTDOWN");
                return shutdown;
            } else {
                return translate(e, this::safeLocation);
            }
        }
    }

    /**
     * Turns the exits the engine does not handle in its loop into what the VMM sees: a hypercall
     * KVM sent to userspace goes to the VMM as {@link Exit.Hypercall} (KVM answers the others itself);
     * everything that means KVM cannot go on (an internal error, a failed entry, an exception or
     * system event nobody asked for) ends the run as an {@link Exit.EngineFault} carrying KVM's
     * reason and the guest's CS:RIP, so the VM stops with it and the VMM goes on.
     *
     * @param e        the exit
     * @param location gives the guest's CS:RIP (read only when needed)
     * @return the exit for the VMM
     */
    static Exit translate(KvmExit e, java.util.function.Supplier<String> location) {
        String what;
        if (e instanceof KvmExit.Hypercall h) {
            return new Exit.Hypercall(h.nr());
        } else if (e instanceof KvmExit.InternalError ie) {
            what = "KVM_EXIT_INTERNAL_ERROR: " + ie.describe();
        } else if (e instanceof KvmExit.FailEntry f) {
            what = String.format("KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x%x on host cpu %d",
                    f.hardwareEntryFailureReason(), f.cpu());
        } else if (e instanceof KvmExit.SystemEvent se) {
            what = "KVM_EXIT_SYSTEM_EVENT type " + se.type();
        } else if (e instanceof KvmExit.Exception x) {
            what = String.format("KVM_EXIT_EXCEPTION vector %d error 0x%x", x.vector(), x.errorCode());
        } else if (e instanceof KvmExit.Unknown u) {
            what = String.format("KVM_EXIT_UNKNOWN: hardware exit reason 0x%x", u.hardwareExitReason());
        } else {
            what = e.name();
        }
        return new Exit.EngineFault("kvm: " + what + " at " + location.get());
    }

    /**
     * After a KVM_EXIT_SHUTDOWN: why this KVM cannot run the 32-bit paged mode the vCPU is in, or
     * was turning on with its current instruction ({@code MOV CR0, reg} with PG set, which such a
     * KVM shuts down on before CR0 changes), or null (neither, or this KVM can).
     */
    private String paged32Problem() {
        try {
            Sregs s = vcpu.getSregs();
            if ((s.efer() & (1L << 10)) != 0 || (s.cr0() & 1) == 0) {
                return null; // long mode or real mode
            }
            boolean paged = Paging32Probe.paged32(s.cr0(), s.efer());
            if (!paged && (s.cr0() & 0x8000_0000L) == 0) {
                org.polyvisor.kvm.Regs r = vcpu.getRegs();
                long at = (s.cs().base() + r.rip()) & 0xFFFF_FFFFL; // linear = physical with paging off
                if (memory.isMemory(at) && memory.isMemory(at + 2) && memory.readByte(at) == 0x0F
                        && memory.readByte(at + 1) == 0x22) {
                    int modrm = memory.readByte(at + 2);
                    paged = (modrm & 0xF8) == 0xC0 && (r.gpr(modrm & 7) & 0x8000_0000L) != 0; // MOV CR0, reg
                }
            }
            return paged ? Paging32Probe.problem() : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private String safeLocation() {
        try {
            Sregs s = vcpu.getSregs();
            return String.format("%04x:%08x", s.cs().selector(), vcpu.getRegs().rip());
        } catch (RuntimeException e) {
            return "(registers unavailable)";
        }
    }

    private void io(KvmExit.Io io) {
        int n = io.count();
        if (io.out()) {
            for (int i = 0; i < n; i++) {
                ports.write(io.port(), io.size(), vcpu.ioData(io, i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                vcpu.setIoData(io, i, ports.read(io.port(), io.size()));
            }
        }
    }

    private void mmio(KvmExit.Mmio m) {
        if (m.write()) {
            if (!memory.isMemory(m.address())) {
                mmio.write(m.address(), m.length(), m.data());
            }
            // else: a write to a read-only (ROM) slot, dropped as on a PC
        } else {
            vcpu.setMmioData(mmio.read(m.address(), m.length()));
        }
    }

    private void injectInterrupts() {
        if (interrupts.takeNmi()) {
            vcpu.nmi();
        }
        boolean want = interrupts.hasInterrupt();
        if (want && vcpu.readyForInterruptInjection() && interruptible) {
            int vector = interrupts.acknowledge();
            if (vector >= 0) {
                vcpu.interrupt(vector);
                injected++;
                interruptible = false; // one per entry; KVM tells us again at the next exit
            }
            want = interrupts.hasInterrupt();
        }
        if (want != windowRequested) {
            vcpu.requestInterruptWindow(want);
            windowRequested = want;
        }
    }

    /**
     * INIT resets the vCPU to wait for a startup IPI; a SIPI while waiting starts it in real mode
     * at {@code vector << 8 : 0} (SDM Vol. 3A, 9.4.4).
     */
    private void startupEvent(int event) {
        if (event == InterruptSource.INIT) {
            CpuState s = CpuState.powerOn(0x0600).toBuilder().activity(ActivityState.WAIT_FOR_SIPI).build();
            importState(s);
        } else if (event >= 0 && activity == ActivityState.WAIT_FOR_SIPI) {
            CpuState s = CpuState.powerOn(0x0600);
            CpuState.Builder b = s.toBuilder().rip(0)
                    .segment(CpuState.CS, new org.polyvisor.cpu.SegmentRegister(event << 8, (long) event << 12, 0xFFFF,
                            org.polyvisor.cpu.SegmentRegister.REAL_MODE_CODE));
            importState(b.build());
        }
    }

    /** Leaves the halted state if an NMI, or an interrupt the guest accepts, is waiting. */
    private boolean wake() {
        if (interrupts.takeNmi()) {
            vcpu.nmi();
            activity = ActivityState.ACTIVE;
            return true;
        }
        if (interruptible && interrupts.hasInterrupt()) {
            activity = ActivityState.ACTIVE;
            return true;
        }
        return false;
    }

    private Exit requested() {
        completePending();
        exitRequested = false;
        vcpu.acknowledgeKicks();
        return REQUESTED;
    }

    /** Lets KVM finish an I/O or MMIO instruction without entering the guest again. */
    private void completePending() {
        if (needsCompletion) {
            vcpu.setImmediateExit(true);
            vcpu.run();
            needsCompletion = false;
            vcpu.acknowledgeKicks();
        }
    }

    @Override
    public CpuState exportState() {
        completePending();
        Sregs s = vcpu.getSregs();
        Set<Integer> wanted = new TreeSet<>(trackedMsrs);
        for (int m : BASE_MSRS) {
            wanted.add(m);
        }
        if ((s.efer() & (1L << 10)) != 0) {
            for (int m : LONG_MODE_MSRS) {
                wanted.add(m);
            }
        }
        wanted.add(StateMapper.MSR_TSC);
        wanted.retainAll(knownMsrs.isEmpty() ? wanted : knownMsrs);
        wanted.add(StateMapper.MSR_TSC);
        int[] idx = wanted.stream().mapToInt(Integer::intValue).toArray();
        long[] val = new long[idx.length];
        int n = vcpu.getMsrs(idx, val);
        Map<Integer, Long> msrs = new TreeMap<>();
        long tsc = 0;
        for (int i = 0; i < n; i++) {
            if (idx[i] == StateMapper.MSR_TSC) {
                tsc = val[i];
            } else if (val[i] != 0 || trackedMsrs.contains(idx[i]) || isBase(idx[i])) {
                // long-mode MSRs the guest never set stay out, so a state round-trips unchanged
                msrs.put(idx[i], val[i]);
            }
        }
        msrs.putAll(heldMsrs);
        StateMapper.KvmState k = new StateMapper.KvmState(vcpu.getRegs(), s, legacyFpu(), vcpu.getDebugRegs(),
                vcpu.getVcpuEvents(), msrs, tsc);
        return StateMapper.fromKvm(k, activity, dr4, dr5);
    }

    private static boolean isBase(int msr) {
        for (int m : BASE_MSRS) {
            if (m == msr) {
                return true;
            }
        }
        return false;
    }

    private byte[] legacyFpu() {
        if (lease.share.xsave) {
            return java.util.Arrays.copyOf(vcpu.getXsave(), 512);
        }
        org.polyvisor.kvm.Fpu f = vcpu.getFpu();
        byte[] out = new byte[512];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(out).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) f.fcw()).putShort(2, (short) f.fsw()).put(4, (byte) f.ftwx())
                .putShort(6, (short) f.lastOpcode()).putLong(8, f.lastIp()).putLong(16, f.lastDp()).putInt(24, f.mxcsr());
        byte[] fpr = f.fpr();
        System.arraycopy(fpr, 0, out, 32, 128);
        System.arraycopy(f.xmm(), 0, out, 160, 256);
        return out;
    }

    @Override
    public void importState(CpuState state) {
        if (state.formatVersion() != CpuState.FORMAT_VERSION) {
            throw new IllegalArgumentException("CPU state format " + state.formatVersion() + " is not "
                    + CpuState.FORMAT_VERSION);
        }
        if (Paging32Probe.paged32(state.cr0(), state.efer())) {
            String limit = Paging32Probe.problem();
            if (limit != null) {
                throw new IllegalArgumentException("kvm: " + limit + "; the state has paging on (CR0 "
                        + Long.toHexString(state.cr0()) + ") without long mode (EFER " + Long.toHexString(state.efer())
                        + ")");
            }
        }
        completePending();
        Sregs current = vcpu.getSregs();
        byte[] xsave = lease.share.xsave ? vcpu.getXsave() : null;
        StateMapper.KvmState k = StateMapper.toKvm(state, current.apicBase(),
                xsave == null ? null : java.util.Arrays.copyOf(xsave, 512));
        try {
            vcpu.setSregs(k.sregs());
        } catch (KvmException e) {
            throw new IllegalArgumentException("KVM refuses the system registers (CR0 " + Long.toHexString(state.cr0())
                    + ", CR4 " + Long.toHexString(state.cr4()) + ", EFER " + Long.toHexString(state.efer()) + "): "
                    + e.getMessage(), e);
        }
        vcpu.setRegs(k.regs());
        if (xsave != null) {
            System.arraycopy(k.fxsave(), 0, xsave, 0, 512);
            java.nio.ByteBuffer xb = java.nio.ByteBuffer.wrap(xsave).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            xb.putLong(StateMapper.XSTATE_BV, xb.getLong(StateMapper.XSTATE_BV) | StateMapper.XSTATE_X87_SSE);
            vcpu.setXsave(xsave);
        } else {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(k.fxsave()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            byte[] fpr = new byte[128];
            byte[] xmm = new byte[256];
            b.get(32, fpr);
            b.get(160, xmm);
            vcpu.setFpu(new org.polyvisor.kvm.Fpu(fpr, b.getShort(0) & 0xFFFF, b.getShort(2) & 0xFFFF, b.get(4) & 0xFF,
                    b.getShort(6) & 0xFFFF, b.getLong(8), b.getLong(16), xmm, b.getInt(24)));
        }
        vcpu.setDebugRegs(k.debug());
        long[] dr = state.dr();
        dr4 = dr[4];
        dr5 = dr[5];
        setMsrs(k.msrs(), k.tsc());
        vcpu.setVcpuEvents(k.events());
        activity = state.activity();
        shutdown = activity == ActivityState.SHUTDOWN
                ? new Exit.Shutdown(Exit.Shutdown.Cause.TRIPLE_FAULT, state.location(), "imported in shutdown state")
                : null;
        interruptible = (state.rflags() & 0x200) != 0 && state.interruptShadow() == 0
                && state.events().interruptVector() < 0;
        windowRequested = false;
        vcpu.requestInterruptWindow(false);
    }

    private void setMsrs(Map<Integer, Long> all, long tsc) {
        List<Integer> refused = new ArrayList<>();
        trackedMsrs.clear();
        heldMsrs.clear();
        Map<Integer, Long> msrs = new TreeMap<>();
        all.forEach((m, v) -> {
            if (knownMsrs.isEmpty() || knownMsrs.contains(m)) {
                msrs.put(m, v);
            } else {
                heldMsrs.put(m, v);
            }
        });
        List<Integer> idx = new ArrayList<>(msrs.keySet());
        idx.add(StateMapper.MSR_TSC);
        int[] i = idx.stream().mapToInt(Integer::intValue).toArray();
        long[] v = new long[i.length];
        for (int j = 0; j < i.length; j++) {
            v[j] = i[j] == StateMapper.MSR_TSC ? tsc : msrs.get(i[j]);
        }
        int done = vcpu.setMsrs(i, v);
        if (done < i.length) {
            // KVM stops at the first MSR it refuses: go one by one to name them all.
            for (int j = 0; j < i.length; j++) {
                if (vcpu.setMsrs(new int[] {i[j]}, new long[] {v[j]}) != 1) {
                    refused.add(i[j]);
                }
            }
        }
        if (!refused.isEmpty()) {
            StringBuilder sb = new StringBuilder("KVM refuses MSR");
            for (int m : refused) {
                sb.append(String.format(" 0x%x=0x%x", m, m == StateMapper.MSR_TSC ? tsc : msrs.get(m)));
            }
            throw new IllegalArgumentException(sb.toString());
        }
        trackedMsrs.addAll(msrs.keySet());
    }

    @Override
    public void requestExit() {
        exitRequested = true;
        if (!closed) {
            vcpu.kick();
        }
    }

    /** KVM only leaves the guest when made to: a new interrupt needs a forced exit. */
    @Override
    public boolean pollsInterrupts() {
        return false;
    }

    /**
     * Returns 0: KVM runs the guest on the CPU and cannot count its instructions (a PMU counter
     * could estimate them, but not exactly and not on every host).
     */
    @Override
    public long instructionsRetired() {
        return 0;
    }

    @Override
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("kvm-runs", runs);
        m.put("kvm-exit-io", ioExits);
        m.put("kvm-exit-mmio", mmioExits);
        m.put("kvm-exit-hlt", hltExits);
        m.put("kvm-exit-irq-window", windowExits);
        m.put("kvm-exit-intr", intrExits);
        m.put("kvm-time-slices", slices);
        m.put("interrupts-injected", injected);
        m.put("a20-closed-runs", a20Closed);
        m.put("msrs-held-outside-kvm", (long) heldMsrs.size());
        return m;
    }

    @Override
    public void close() {
        closed = true;
        lease.close();
    }
}
