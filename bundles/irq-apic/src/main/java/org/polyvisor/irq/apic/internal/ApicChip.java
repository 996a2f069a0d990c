package org.polyvisor.irq.apic.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.part.SavedState;
import org.polyvisor.time.VmClock;

/**
 * A PC's interrupt controllers as one chip: a local APIC per vCPU (xAPIC page at 0xfee00000,
 * x2APIC MSRs behind {@link #readMsr}/{@link #writeMsr}), an IOAPIC with 24 pins at 0xfec00000,
 * and the legacy 8259A pair at 0x20/0xa0 (ELCR 0x4d0) whose INTR reaches the processors as ExtINT.
 *
 * <p>Wiring, as ACPI's MADT on QEMU's PC describes it: lines 0-15 are ISA IRQs, each on its 8259
 * input and on the IOAPIC pin of the same number, except ISA IRQ 0 (the PIT), which is on IOAPIC
 * pin 2 (the interrupt source override 0 -> 2). Lines 16-23 are IOAPIC pins only (PCI). The
 * 8259's INTR drives IOAPIC pin 0 and every local APIC's LINT0, so both "virtual wire" modes of
 * the MultiProcessor Specification (3.6.2.2: through LINT0 programmed ExtINT, or through an
 * IOAPIC pin programmed ExtINT) and the plain PIC mode (APIC disabled) work: a processor accepts
 * the 8259 when its APIC is hardware-disabled (the bootstrap processor only), when its LINT0 is
 * unmasked ExtINT, or when IOAPIC pin 0 is unmasked ExtINT and addresses it.
 *
 * <p>Delivery: {@link Delivery#EMULATED} behaves as a VMM without APIC virtualisation: every
 * interrupt for a vCPU kicks it (an exit, so the VMM can inject), every APIC register access is a
 * trapped access. {@link Delivery#VIRTUAL} behaves as APICv/AVIC: edge interrupts are posted to
 * the target's posted-interrupt requests and folded into IRR at its next instruction boundary
 * without a kick when the poster is the vCPU itself (its timer, a self IPI); EOI of an
 * edge-triggered vector, TPR accesses and register reads other than the timer's current count are
 * "virtualised" (counted as not exiting). Level-triggered and ExtINT interrupts take the emulated
 * path in both modes, as KVM's APICv does (the EOI-exit bitmap). Both modes share one state
 * format, so a VM can switch between them with a swap.
 *
 * <p>Threads: all state is guarded by this object's lock; kicks happen after it is released.
 * {@link InterruptSource#hasInterrupt()} reads a volatile flag (and, in virtual mode, the
 * posted-interrupt flag) only.
 */
final class ApicChip implements IrqChip, LocalApic.Host, IoApic.Host {

    /** Saved-state type: the set of controllers, named after the hardware. */
    static final String STATE_TYPE = "pc-apic";
    /** Saved-state format version. */
    static final int STATE_VERSION = 1;
    /** The {@code pic} strategy's state type, which this chip can take over (its 8259 part). */
    static final String PIC_STATE_TYPE = "i8259-pair";

    /** xAPIC page (10.4.1). */
    static final long LAPIC_BASE = 0xFEE0_0000L;
    /** IOAPIC window, as the PIIX/ICH and QEMU place it. */
    static final long IOAPIC_BASE = 0xFEC0_0000L;
    static final int WINDOW = 0x1000; // 4 KiB
    static final int PIC_MASTER = 0x20;
    static final int PIC_SLAVE = 0xA0;
    static final int PIC_ELCR = 0x4D0;
    /** Input lines: ISA IRQ 0-15 and PCI GSIs 16-23. */
    static final int LINES = IoApic.PINS;
    /** The IOAPIC pin carrying ISA IRQ 0 (interrupt source override 0 -> 2). */
    static final int PIT_PIN = 2;

    /** How interrupts reach vCPUs; see the class comment. */
    enum Delivery {
        EMULATED, VIRTUAL
    }

    private final IrqChipContext context;
    private final Delivery delivery;
    private final VmClock clock;
    private final LocalApic[] apics;
    private final VcpuPort[] ports;
    private final IoApic ioapic;
    private final Legacy8259 master = new Legacy8259(true);
    private final Legacy8259 slave = new Legacy8259(false);
    private final IrqLine[] lines = new IrqLine[LINES];
    private final List<Registration> registrations;
    /** The thread that runs each vCPU, learnt from its engine's calls on the interrupt source. */
    private final AtomicReferenceArray<Thread> vcpuThreads;
    private final VmClock.Timer[] timers;
    private final long[] timerGeneration;
    private final boolean[] kickWanted;
    private final Map<String, Long> counters = new TreeMap<>();
    private final long[] raised = new long[LINES];

    private int deviceLevels;
    private boolean picOutput;
    /** Set while IOAPIC pin 2 (the PIT's IRQ 0) is driven: its ticks are kept, not merged (LocalApic#keepTick). */
    private boolean pitTick;
    /** The vCPU whose guest access (MMIO, port, MSR) is being handled, or -1. */
    private int accessing = -1;
    private boolean closed;

    ApicChip(IrqChipContext context, Delivery delivery) {
        this.context = context;
        this.delivery = delivery;
        this.clock = context.clock();
        int n = context.vcpuCount();
        if (n < 1 || n > 255) {
            throw new IllegalArgumentException("the APIC supports 1..255 vCPUs, not " + n);
        }
        this.vcpuThreads = new AtomicReferenceArray<>(n);
        this.timers = new VmClock.Timer[n];
        this.timerGeneration = new long[n];
        this.kickWanted = new boolean[n];
        this.apics = new LocalApic[n];
        this.ports = new VcpuPort[n];
        for (int i = 0; i < n; i++) {
            apics[i] = new LocalApic(i, this);
            ports[i] = new VcpuPort(i);
        }
        this.ioapic = new IoApic(this);
        for (int gsi = 0; gsi < LINES; gsi++) {
            int g = gsi;
            lines[gsi] = new IrqLine() {
                @Override
                public void raise() {
                    setLine(g, true);
                }

                @Override
                public void lower() {
                    setLine(g, false);
                }
            };
        }
        List<Registration> regs = new ArrayList<>();
        try {
            regs.add(context.mmio().map(LAPIC_BASE, WINDOW, "lapic", new LapicWindow()));
            regs.add(context.mmio().map(IOAPIC_BASE, WINDOW, "ioapic", new IoApicWindow()));
            regs.add(context.ports().map(PIC_MASTER, 2, "pic-master", new PicPorts(master)));
            regs.add(context.ports().map(PIC_SLAVE, 2, "pic-slave", new PicPorts(slave)));
            regs.add(context.ports().map(PIC_ELCR, 2, "pic-elcr", new ElcrPorts()));
        } catch (RuntimeException e) {
            regs.forEach(Registration::close);
            throw e;
        }
        this.registrations = List.copyOf(regs);
        counters.put("mode-virtual", delivery == Delivery.VIRTUAL ? 1L : 0L);
    }

    Delivery delivery() {
        return delivery;
    }

    // ---- IrqChip ---------------------------------------------------------------------------------

    @Override
    public int lineCount() {
        return LINES;
    }

    @Override
    public IrqLine line(int gsi) {
        if (gsi < 0 || gsi >= LINES) {
            throw new IllegalArgumentException("the APIC has lines 0..23 (ISA IRQ 0-15, PCI 16-23), not " + gsi);
        }
        return lines[gsi];
    }

    @Override
    public InterruptSource source(int vcpu) {
        if (vcpu < 0) {
            throw new IllegalArgumentException("no vCPU " + vcpu);
        }
        return vcpu < ports.length ? ports[vcpu] : InterruptSource.NONE;
    }

    @Override
    public void reset() {
        synchronized (this) {
            for (LocalApic a : apics) {
                a.powerOn();
                armTimer(a, -1);
            }
            ioapic.reset();
            master.reset();
            slave.reset();
            reapplyLevels();
            update();
        }
        flushKicks();
    }

    @Override
    public SavedState saveState() {
        synchronized (this) {
            SavedState.Builder b = SavedState.builder(STATE_TYPE, STATE_VERSION);
            b.put("vcpus", apics.length);
            for (LocalApic a : apics) {
                a.save(b, "lapic." + a.index + ".");
            }
            ioapic.save(b, "ioapic.");
            master.save(b, "pic.master.");
            slave.save(b, "pic.slave.");
            b.put("device-levels", deviceLevels);
            update(); // folding posted interrupts may have raised IRR
            return b.build();
        }
    }

    @Override
    public void restoreState(SavedState state) {
        synchronized (this) {
            if (state.type().equals(PIC_STATE_TYPE)) {
                // Take over a pic strategy's 8259 pair; the APICs start from power-on.
                state.require(PIC_STATE_TYPE, 1, 1);
                master.restore(state, "master.");
                slave.restore(state, "slave.");
                deviceLevels = state.getInt("device-levels") & 0xFFFF;
                reapplyLevels();
                update();
                return;
            }
            state.require(STATE_TYPE, 1, STATE_VERSION);
            int n = state.getInt("vcpus");
            if (n != apics.length) {
                throw new IllegalArgumentException("apic state is for " + n + " vCPUs, this VM has " + apics.length);
            }
            for (LocalApic a : apics) {
                a.restore(state, "lapic." + a.index + ".");
            }
            ioapic.restore(state, "ioapic.");
            master.restore(state, "pic.master.");
            slave.restore(state, "pic.slave.");
            deviceLevels = state.getInt("device-levels") & ((1 << LINES) - 1);
            propagatePic();
            ioapic.serviceAll();
            for (VcpuPort p : ports) {
                p.ready = false;
                p.event = false;
            }
            update();
        }
        flushKicks();
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> out = new LinkedHashMap<>(counters);
        long exits = counters.getOrDefault("kicks", 0L) + counters.getOrDefault("apic-access-exits", 0L);
        out.put("modelled-exits", exits);
        for (int gsi = 0; gsi < LINES; gsi++) {
            if (raised[gsi] != 0) {
                out.put("raised-gsi" + gsi, raised[gsi]);
            }
        }
        return out;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            for (int i = 0; i < timers.length; i++) {
                if (timers[i] != null) {
                    timers[i].cancel();
                    timers[i] = null;
                }
                timerGeneration[i]++;
            }
        }
        registrations.forEach(Registration::close);
    }

    // ---- LocalApic.Host / IoApic.Host ----------------------------------------------------------------

    @Override
    public long now() {
        return clock.nanos();
    }

    @Override
    public void count(String event, long n) {
        counters.merge(event, n, Long::sum);
    }

    @Override
    public void count(String event) {
        count(event, 1);
    }

    @Override
    public void armTimer(LocalApic apic, long deadline) {
        int v = apic.index;
        if (timers[v] != null) {
            timers[v].cancel();
            timers[v] = null;
        }
        long gen = ++timerGeneration[v];
        if (deadline >= 0 && !closed) {
            timers[v] = clock.schedule(deadline, () -> timerCallback(v, gen));
        }
    }

    private void timerCallback(int v, long gen) {
        synchronized (this) {
            if (closed || gen != timerGeneration[v]) {
                return; // cancelled or re-armed since: a stale callback must not fire twice
            }
            timers[v] = null;
            apics[v].timerExpired(clock.nanos());
            update();
        }
        flushKicks();
    }

    @Override
    public void eoiBroadcast(int vector) {
        ioapic.eoi(vector);
    }

    @Override
    public void sendIpi(LocalApic from, long icr) {
        int vector = (int) icr & 0xFF;
        int mode = (int) (icr >>> 8) & 7;
        boolean logical = (icr & LocalApic.ICR_LOGICAL) != 0;
        boolean level = (icr & LocalApic.ICR_LEVEL) != 0;
        int shorthand = (int) (icr >>> 18) & 3;
        int dest = (int) (icr >>> 32);
        count("ipi");
        if (mode == LocalApic.DM_INIT && level && (icr & LocalApic.ICR_ASSERT) == 0) {
            count("init-deassert"); // legacy INIT level de-assert: only resynchronises arbitration IDs
            return;
        }
        List<LocalApic> targets = new ArrayList<>();
        for (LocalApic a : apics) {
            boolean hit = switch (shorthand) {
                case 1 -> a == from;
                case 2 -> true;
                case 3 -> a != from;
                default -> logical ? a.matchesLogical(dest, from.x2apic()) : a.matchesPhysical(dest, from.x2apic());
            };
            if (hit && a.hwEnabled()) {
                targets.add(a);
            }
        }
        if ((mode == LocalApic.DM_FIXED || mode == LocalApic.DM_LOWEST) && vector < 16) {
            count("ipi-illegal-vector");
            from.sendError(); // ESR "send illegal vector" (10.5.3), signalled through the error LVT
            return;
        }
        if (targets.isEmpty()) {
            count("ipi-undeliverable");
        }
        // IPIs are edge-triggered messages (level matters only for the INIT de-assert).
        deliverTo(targets, mode, vector, false);
    }

    @Override
    public int deliver(int deliveryMode, int vector, boolean level, boolean logical, int destination) {
        List<LocalApic> targets = new ArrayList<>();
        for (LocalApic a : apics) {
            if (a.hwEnabled() && (logical ? a.matchesLogical(destination, false)
                    : a.matchesPhysical(destination, false))) {
                targets.add(a);
            }
        }
        return deliverTo(targets, deliveryMode, vector, level);
    }

    /** Acts on an interrupt message for a set of local APICs; returns how many took it. */
    private int deliverTo(List<LocalApic> targets, int mode, int vector, boolean level) {
        if (targets.isEmpty()) {
            return 0;
        }
        switch (mode) {
            case LocalApic.DM_FIXED -> targets.forEach(t -> fixed(t, vector, level));
            case LocalApic.DM_LOWEST -> {
                // Lowest priority (10.6.2.4): the processor with the lowest processor priority;
                // ties go to the lowest index (hardware arbitration is model specific).
                LocalApic best = targets.get(0);
                for (LocalApic t : targets) {
                    if ((t.ppr() & 0xF0) < (best.ppr() & 0xF0)) {
                        best = t;
                    }
                }
                fixed(best, vector, level);
                return 1;
            }
            case LocalApic.DM_NMI -> targets.forEach(t -> {
                t.nmi();
                count("nmi");
            });
            case LocalApic.DM_INIT -> targets.forEach(t -> {
                t.init();
                count("init");
            });
            case LocalApic.DM_STARTUP -> targets.forEach(t -> count(t.startup(vector) ? "sipi" : "sipi-ignored"));
            default -> {
                count("delivery-mode-ignored"); // SMI, ExtINT messages, reserved
                return 0;
            }
        }
        return targets.size();
    }

    /** A fixed interrupt for one APIC: posted (virtual mode, edge) or accepted into IRR. */
    private void fixed(LocalApic t, int vector, boolean level) {
        if (delivery == Delivery.VIRTUAL && !level && vector >= 16 && t.swEnabled()) {
            t.post(vector);
            count("posted");
            if (!isOwnThread(t.index)) {
                kickWanted[t.index] = true; // notification: the target may be halted
            }
            return;
        }
        if (!t.accept(vector, level) && pitTick && !level) {
            t.keepTick(vector); // merged into a pending tick: delivered again at the EOI
        }
    }

    // ---- lines and the 8259 pair ------------------------------------------------------------------

    private void setLine(int gsi, boolean high) {
        synchronized (this) {
            int bit = 1 << gsi;
            if (high && (deviceLevels & bit) == 0) {
                raised[gsi]++;
            }
            deviceLevels = high ? deviceLevels | bit : deviceLevels & ~bit;
            if (gsi < 16 && gsi != Legacy8259.CASCADE_IR) {
                (gsi < 8 ? master : slave).setInput(gsi & 7, high);
            }
            driveIoApicPin(gsi);
            update();
        }
        flushKicks();
    }

    /** The IOAPIC pin of a line: ISA IRQ 0 and GSI 2 share pin 2; pin 0 is the 8259's INTR. */
    private void driveIoApicPin(int gsi) {
        if (gsi == 0 || gsi == PIT_PIN) {
            pitTick = true;
            try {
                ioapic.setPin(PIT_PIN, (deviceLevels & (1 | 1 << PIT_PIN)) != 0);
            } finally {
                pitTick = false;
            }
        } else {
            ioapic.setPin(gsi, (deviceLevels & (1 << gsi)) != 0);
        }
    }

    /** Re-drives the 8259 inputs and IOAPIC pins from the device levels (after reset or takeover). */
    private void reapplyLevels() {
        for (int gsi = 0; gsi < 16; gsi++) {
            if (gsi != Legacy8259.CASCADE_IR) {
                (gsi < 8 ? master : slave).setInput(gsi & 7, (deviceLevels & (1 << gsi)) != 0);
            }
        }
        for (int gsi = 1; gsi < LINES; gsi++) {
            driveIoApicPin(gsi);
        }
    }

    /** Slave INT (or a device on GSI 2) into master IR2; master INT to IOAPIC pin 0 and LINT0. */
    private void propagatePic() {
        boolean ir2 = slave.pending() >= 0 || (deviceLevels & (1 << Legacy8259.CASCADE_IR)) != 0;
        master.setInput(Legacy8259.CASCADE_IR, ir2);
        picOutput = master.pending() >= 0;
        if (picOutput != ioapic.pinAsserted(0)) {
            ioapic.setPin(0, picOutput);
        }
    }

    /** The 8259 INTA cycle for a processor that accepted its INTR (ExtINT). */
    private int picAcknowledge() {
        int ir = master.pending();
        int vector;
        if (ir < 0) {
            count("spurious-irq7");
            vector = master.vector(7);
        } else if (ir == Legacy8259.CASCADE_IR && master.cascades(ir)) {
            master.acknowledge(ir);
            int ir2 = slave.pending();
            if (ir2 < 0) {
                count("spurious-irq15");
                vector = slave.vector(7);
            } else {
                slave.acknowledge(ir2);
                vector = slave.vector(ir2);
            }
            master.setInput(Legacy8259.CASCADE_IR, false); // the slave's INT falls in its INTA
        } else {
            master.acknowledge(ir);
            vector = master.vector(ir);
        }
        return vector;
    }

    /** Whether a processor takes the 8259's INTR (see the class comment). */
    private boolean acceptsPic(LocalApic a) {
        if (!a.hwEnabled()) {
            return a.index == 0;
        }
        int lint0 = a.lvt(LocalApic.LVT_LINT0);
        if ((lint0 & LocalApic.MASKED) == 0 && ((lint0 >>> 8) & 7) == LocalApic.DM_EXTINT) {
            return true;
        }
        long e = ioapic.entry(0);
        if ((e & IoApic.MASKED) == 0 && IoApic.deliveryMode(e) == LocalApic.DM_EXTINT) {
            int dest = (int) (e >>> 56) & 0xFF;
            return (e & IoApic.LOGICAL) != 0 ? a.matchesLogical(dest, false) : a.matchesPhysical(dest, false);
        }
        return false;
    }

    // ---- output: ready flags and kicks ------------------------------------------------------------

    /**
     * Recomputes what every vCPU sees; called with the lock held after every change. A vCPU whose
     * flag rises is kicked, except when this very vCPU is inside a guest access to the chip (that
     * access is an exit already) or, in virtual mode, when the change happens on its own thread
     * (it looks at the flag before its next instruction).
     */
    private void update() {
        propagatePic();
        for (int v = 0; v < apics.length; v++) {
            LocalApic a = apics[v];
            VcpuPort p = ports[v];
            boolean r = a.deliverable() >= 0 || picOutput && acceptsPic(a);
            boolean e = a.nmiPending() || a.startupPending();
            if (r && !p.ready || e && !p.event) {
                if (needsKick(v)) {
                    kickWanted[v] = true;
                } else if (v != accessing) {
                    count("delivered-without-exit"); // virtual mode, on the vCPU's own thread
                }
            }
            p.ready = r;
            p.event = e;
        }
    }

    private boolean needsKick(int v) {
        if (v == accessing) {
            return false;
        }
        return delivery == Delivery.EMULATED || !isOwnThread(v);
    }

    private boolean isOwnThread(int v) {
        return vcpuThreads.get(v) == Thread.currentThread();
    }

    /** Kicks what {@link #update()} asked for; called without the lock. */
    private void flushKicks() {
        int n = 0;
        boolean[] which = null;
        synchronized (this) {
            for (int v = 0; v < kickWanted.length; v++) {
                if (kickWanted[v]) {
                    if (which == null) {
                        which = new boolean[kickWanted.length];
                    }
                    which[v] = true;
                    kickWanted[v] = false;
                    n++;
                }
            }
            if (n > 0) {
                count("kicks", n);
            }
        }
        if (which != null) {
            for (int v = 0; v < which.length; v++) {
                if (which[v]) {
                    context.kick(v);
                }
            }
        }
    }

    /** Notes the calling thread as vCPU {@code v}'s. */
    private void learnThread(int v) {
        Thread t = Thread.currentThread();
        if (vcpuThreads.get(v) != t) {
            vcpuThreads.set(v, t);
        }
    }

    /**
     * The vCPU whose thread is making a guest access. MMIO windows are shared by all vCPUs and the
     * bus does not say who accesses (see the API proposal {@code IrqChipContext.currentVcpu()}), so
     * the chip learns each vCPU's thread from its engine's calls on the interrupt source, and falls
     * back to the core's thread name ({@code vcpu-N@vm}) and then to vCPU 0.
     */
    int accessingVcpu() {
        Thread t = Thread.currentThread();
        for (int v = 0; v < apics.length; v++) {
            if (vcpuThreads.get(v) == t) {
                return v;
            }
        }
        String name = t.getName();
        if (name.startsWith("vcpu-")) {
            int at = name.indexOf('@');
            try {
                int v = Integer.parseInt(name.substring(5, at < 0 ? name.length() : at));
                if (v >= 0 && v < apics.length) {
                    learnThread(v);
                    return v;
                }
            } catch (NumberFormatException e) {
                // not one of ours
            }
        }
        return 0;
    }

    // ---- MSRs and startup events (InterruptSource, API 0.2) --------------------------------------------------

    /**
     * An RDMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC register by a vCPU.
     *
     * @param vcpu      the vCPU
     * @param msr       the MSR index
     * @param tscOffset the vCPU's TSC minus the VM clock's nanoseconds
     * @return the value, or a fault (#GP(0))
     */
    LocalApic.MsrResult readMsr(int vcpu, int msr, long tscOffset) {
        synchronized (this) {
            learnThread(vcpu);
            LocalApic a = apics[vcpu];
            if (msr >= LocalApic.MSR_X2APIC_FIRST && msr <= LocalApic.MSR_X2APIC_LAST) {
                int offset = (msr - LocalApic.MSR_X2APIC_FIRST) << 4;
                account(a, offset, false);
            }
            boolean posted = a.postedPending();
            LocalApic.MsrResult r = a.readMsr(msr, tscOffset);
            if (posted && !a.postedPending()) {
                update(); // the read folded posted requests into IRR
            }
            return r;
        }
    }

    /**
     * A WRMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC register by a vCPU.
     *
     * @param vcpu      the vCPU
     * @param msr       the MSR index
     * @param value     EDX:EAX
     * @param tscOffset the vCPU's TSC minus the VM clock's nanoseconds
     * @return OK or a fault (#GP(0))
     */
    LocalApic.MsrResult writeMsr(int vcpu, int msr, long value, long tscOffset) {
        LocalApic.MsrResult r;
        synchronized (this) {
            learnThread(vcpu);
            int before = accessing;
            accessing = vcpu;
            try {
                LocalApic a = apics[vcpu];
                if (msr >= LocalApic.MSR_X2APIC_FIRST && msr <= LocalApic.MSR_X2APIC_LAST) {
                    account(a, (msr - LocalApic.MSR_X2APIC_FIRST) << 4, true);
                }
                r = a.writeMsr(msr, value, tscOffset);
                update();
            } finally {
                accessing = before;
            }
        }
        flushKicks();
        return r;
    }

    /**
     * Takes a pending INIT ({@code -2}), startup IPI vector (0-255) or nothing ({@code -1}).
     *
     * @param vcpu the vCPU
     * @return the event
     */
    int takeStartup(int vcpu) {
        synchronized (this) {
            learnThread(vcpu);
            int e = apics[vcpu].takeStartup();
            if (e != -1) {
                update();
            }
            return e;
        }
    }

    /**
     * Counts a guest APIC register access as an exit or as virtualised, by the mode's rules
     * (Intel SDM Vol. 3C 29.4 "virtualizing memory-mapped APIC accesses", 29.5 for MSRs).
     */
    private void account(LocalApic a, int offset, boolean write) {
        boolean virtualised;
        if (delivery == Delivery.EMULATED) {
            virtualised = false;
        } else if (!write) {
            virtualised = offset != LocalApic.REG_TIMER_CURRENT; // APIC-register virtualisation
        } else if (offset == LocalApic.REG_EOI) {
            virtualised = !a.eoiIsLevel(); // EOI virtualisation unless the EOI-exit bitmap says so
        } else {
            virtualised = offset == LocalApic.REG_TPR || offset == LocalApic.REG_SELF_IPI;
        }
        count(virtualised ? "apic-access-virtualized" : "apic-access-exits");
        if (write && offset == LocalApic.REG_EOI) {
            count(virtualised ? "eoi-virtualized" : "eoi-exits");
        }
    }

    // ---- windows ------------------------------------------------------------------------------------

    /** The xAPIC page; each vCPU sees its own local APIC there. */
    private final class LapicWindow implements MmioDevice {
        @Override
        public long read(long offset, int size) {
            long v;
            synchronized (ApicChip.this) {
                LocalApic a = apics[accessingVcpu()];
                if (!a.hwEnabled() || a.x2apic()) {
                    return size == 8 ? -1L : (1L << (8 * size)) - 1; // the page is not decoded
                }
                int reg = (int) offset & 0xFF0;
                int shift = 8 * ((int) offset & 0xF);
                account(a, reg, false);
                if (shift >= 32) {
                    return 0;
                }
                boolean posted = a.postedPending();
                v = (a.read(reg) & 0xFFFF_FFFFL) >>> shift;
                if (posted && !a.postedPending()) {
                    update(); // the read folded posted requests into IRR
                }
            }
            flushKicks();
            return size >= 4 ? v : v & ((1L << (8 * size)) - 1);
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (ApicChip.this) {
                int v = accessingVcpu();
                LocalApic a = apics[v];
                if (!a.hwEnabled() || a.x2apic() || (offset & 0xF) != 0 || size < 4) {
                    return; // 10.4.1: registers are 32-bit, 16-byte aligned; other accesses are undefined
                }
                int before = accessing;
                accessing = v;
                try {
                    account(a, (int) offset & 0xFF0, true);
                    a.write((int) offset & 0xFF0, (int) value);
                    update();
                } finally {
                    accessing = before;
                }
            }
            flushKicks();
        }
    }

    /** The IOAPIC window: dword registers; byte access to IOREGSEL is allowed. */
    private final class IoApicWindow implements MmioDevice {
        @Override
        public long read(long offset, int size) {
            synchronized (ApicChip.this) {
                count("ioapic-access");
                int reg = (int) offset & 0xFFC;
                int shift = 8 * ((int) offset & 3);
                long v = (ioapic.read(reg) & 0xFFFF_FFFFL) >>> shift;
                return size >= 4 ? v : v & ((1L << (8 * size)) - 1);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (ApicChip.this) {
                count("ioapic-access");
                if ((offset & 3) != 0) {
                    return;
                }
                int v = size >= 4 ? (int) value : (int) value & ((1 << (8 * size)) - 1);
                int before = accessing;
                accessing = accessingVcpu();
                try {
                    ioapic.write((int) offset & 0xFFC, v);
                    update();
                } finally {
                    accessing = before;
                }
            }
            flushKicks();
        }
    }

    /** Byte-wide ports; wider accesses split into consecutive bytes as on the ISA bus. */
    private abstract class BytePorts implements PortDevice {
        abstract int readByte(int offset);

        abstract void writeByte(int offset, int value);

        @Override
        public int read(int offset, int size) {
            int value = 0;
            synchronized (ApicChip.this) {
                int before = accessing;
                accessing = accessingVcpu();
                try {
                    for (int i = 0; i < size && i < 4; i++) {
                        int o = offset + i;
                        value |= (o < 2 ? readByte(o) : 0xFF) << (8 * i);
                    }
                    update();
                } finally {
                    accessing = before;
                }
            }
            flushKicks();
            return value;
        }

        @Override
        public void write(int offset, int size, int value) {
            synchronized (ApicChip.this) {
                int before = accessing;
                accessing = accessingVcpu();
                try {
                    for (int i = 0; i < size && i < 4; i++) {
                        int o = offset + i;
                        if (o < 2) {
                            writeByte(o, (value >>> (8 * i)) & 0xFF);
                        }
                    }
                    update();
                } finally {
                    accessing = before;
                }
            }
            flushKicks();
        }
    }

    private final class PicPorts extends BytePorts {
        private final Legacy8259 chip;

        PicPorts(Legacy8259 chip) {
            this.chip = chip;
        }

        @Override
        int readByte(int offset) {
            boolean polling = chip.poll;
            int v = chip.read(offset);
            if (polling && chip == master && (v & 0x80) != 0 && (v & 7) == Legacy8259.CASCADE_IR
                    && master.cascades(Legacy8259.CASCADE_IR)) {
                // Polling the master for the cascade: the slave's INT falls as with an INTA.
                master.setInput(Legacy8259.CASCADE_IR, false);
            }
            return v;
        }

        @Override
        void writeByte(int offset, int value) {
            chip.write(offset, value);
        }
    }

    private final class ElcrPorts extends BytePorts {
        @Override
        int readByte(int offset) {
            return (offset == 0 ? master : slave).readElcr();
        }

        @Override
        void writeByte(int offset, int value) {
            (offset == 0 ? master : slave).writeElcr(value);
        }
    }

    // ---- per-vCPU interrupt source ------------------------------------------------------------------

    /** What one vCPU's engine sees: interrupts, NMIs, INIT/SIPI and the APIC's MSRs. */
    final class VcpuPort implements InterruptSource {
        final int vcpu;
        volatile boolean ready;
        volatile boolean event;

        VcpuPort(int vcpu) {
            this.vcpu = vcpu;
        }

        @Override
        public boolean hasInterrupt() {
            if (apics[vcpu].postedPending()) {
                syncPosted();
            }
            return ready;
        }

        private void syncPosted() {
            synchronized (ApicChip.this) {
                learnThread(vcpu);
                apics[vcpu].syncPosted();
                update();
            }
            flushKicks();
        }

        @Override
        public int acknowledge() {
            synchronized (ApicChip.this) {
                learnThread(vcpu);
                LocalApic a = apics[vcpu];
                a.syncPosted();
                int vector;
                if (picOutput && acceptsPic(a)) {
                    vector = picAcknowledge();
                    count("delivered-extint");
                } else if (a.deliverable() >= 0) {
                    vector = a.acknowledge();
                    count("delivered");
                } else if (acceptsPic(a)) {
                    // The INTA went to the 8259 but its request vanished: its spurious IRQ 7/15.
                    vector = picAcknowledge();
                } else if (!a.hwEnabled()) {
                    vector = -1;
                } else {
                    vector = a.acknowledge(); // the request went away: the spurious vector
                }
                update();
                return vector;
            }
        }

        @Override
        public boolean takeNmi() {
            if (!event) {
                return false;
            }
            synchronized (ApicChip.this) {
                learnThread(vcpu);
                boolean n = apics[vcpu].takeNmi();
                update();
                return n;
            }
        }

        /** INIT ({@link #INIT}), a SIPI vector, or {@link #NO_STARTUP}; see {@link LocalApic#takeStartup}. */
        @Override
        public int takeStartupEvent() {
            return event ? takeStartup(vcpu) : NO_STARTUP;
        }

        /** An INIT or SIPI waits (cheap: the volatile flag first). */
        @Override
        public boolean hasStartupEvent() {
            return event && apics[vcpu].startupPending();
        }

        /** IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range (SDM Vol. 3A 10.4.4, 10.5.4.1, 10.12.1.2). */
        @Override
        public boolean ownsMsr(int msr) {
            return msr == LocalApic.MSR_APIC_BASE || msr == LocalApic.MSR_TSC_DEADLINE
                    || msr >= LocalApic.MSR_X2APIC_FIRST && msr <= LocalApic.MSR_X2APIC_LAST;
        }

        @Override
        public OptionalLong readMsr(int msr, long tsc) {
            LocalApic.MsrResult r = ApicChip.this.readMsr(vcpu, msr, tsc - clock.nanos());
            return r.fault() ? OptionalLong.empty() : OptionalLong.of(r.value());
        }

        @Override
        public boolean writeMsr(int msr, long value, long tsc) {
            return !ApicChip.this.writeMsr(vcpu, msr, value, tsc - clock.nanos()).fault();
        }
    }
}
