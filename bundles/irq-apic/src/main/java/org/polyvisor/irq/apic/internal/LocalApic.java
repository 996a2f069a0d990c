package org.polyvisor.irq.apic.internal;

import org.polyvisor.part.SavedState;

/**
 * One local APIC as a register state machine (Intel SDM Vol. 3A, chapter 10 "Advanced
 * Programmable Interrupt Controller"; section numbers below refer to it). Not thread-safe:
 * {@link ApicChip} serialises every call under its lock. Time is virtual nanoseconds of the VM
 * clock; the APIC timer counts at a 1 GHz bus clock divided by the divide configuration (the bus
 * frequency QEMU's APIC uses, {@code APIC_BUS_CYCLE_NS = 1}), and the TSC also runs at 1 GHz of
 * VM time (the interpreter's RDTSC), so a TSC value and a VM-clock time differ by the vCPU's TSC
 * offset only.
 */
final class LocalApic {

    // ---- register offsets in the xAPIC page (10.4.1, table 10-1); x2APIC MSR = 0x800 + offset/16
    static final int REG_ID = 0x020;
    static final int REG_VERSION = 0x030;
    static final int REG_TPR = 0x080;
    static final int REG_APR = 0x090;
    static final int REG_PPR = 0x0A0;
    static final int REG_EOI = 0x0B0;
    static final int REG_RRD = 0x0C0;
    static final int REG_LDR = 0x0D0;
    static final int REG_DFR = 0x0E0;
    static final int REG_SVR = 0x0F0;
    static final int REG_ISR = 0x100;
    static final int REG_TMR = 0x180;
    static final int REG_IRR = 0x200;
    static final int REG_ESR = 0x280;
    static final int REG_LVT_CMCI = 0x2F0;
    static final int REG_ICR_LOW = 0x300;
    static final int REG_ICR_HIGH = 0x310;
    static final int REG_LVT_TIMER = 0x320;
    static final int REG_LVT_ERROR = 0x370;
    static final int REG_TIMER_INITIAL = 0x380;
    static final int REG_TIMER_CURRENT = 0x390;
    static final int REG_TIMER_DIVIDE = 0x3E0;
    /** x2APIC only (MSR 0x83f): SELF IPI (10.12.11). */
    static final int REG_SELF_IPI = 0x3F0;

    /** LVT indices, in register order from 0x320. */
    static final int LVT_TIMER = 0;
    static final int LVT_THERMAL = 1;
    static final int LVT_PERF = 2;
    static final int LVT_LINT0 = 3;
    static final int LVT_LINT1 = 4;
    static final int LVT_ERROR = 5;
    static final int LVT_COUNT = 6;

    /** Version register: version 0x14 (integrated APIC), max LVT entry 5 (six entries), as QEMU. */
    static final int VERSION = 0x0005_0014;

    /** LVT/ICR/redirection bit 16: masked. */
    static final int MASKED = 1 << 16;
    /** LVT delivery mode field (bits 10:8) values, also used by ICR and IOAPIC entries. */
    static final int DM_FIXED = 0;
    static final int DM_LOWEST = 1;
    static final int DM_SMI = 2;
    static final int DM_NMI = 4;
    static final int DM_INIT = 5;
    static final int DM_STARTUP = 6;
    static final int DM_EXTINT = 7;
    /** LINT bit 15: level triggered. */
    static final int LVT_LEVEL = 1 << 15;
    /** LVT timer mode field (bits 18:17). */
    static final int TIMER_ONE_SHOT = 0;
    static final int TIMER_PERIODIC = 1;
    static final int TIMER_TSC_DEADLINE = 2;

    /** Writable LVT bits (10.5.1, figure 10-8): timer, thermal, perf, LINT0, LINT1, error. */
    private static final int[] LVT_WRITABLE = {0x0007_00FF, 0x0001_07FF, 0x0001_07FF, 0x0001_A7FF, 0x0001_A7FF,
        0x0001_00FF};

    /** SVR bit 8: APIC software enable (10.9). */
    static final int SVR_ENABLE = 1 << 8;
    /** ICR writable bits of the low dword: vector, delivery mode, destination mode, level, trigger, shorthand. */
    static final int ICR_LOW_WRITABLE = 0x000C_CFFF;
    /** ICR bit 11: logical destination mode. */
    static final int ICR_LOGICAL = 1 << 11;
    /** ICR bit 14: level assert (0 for an INIT level de-assert). */
    static final int ICR_ASSERT = 1 << 14;
    /** ICR bit 15: level triggered. */
    static final int ICR_LEVEL = 1 << 15;

    /** ESR bit 5: send illegal vector; bit 6: receive illegal vector; bit 7: illegal register address (10.5.3). */
    static final int ESR_SEND_ILLEGAL = 1 << 5;
    static final int ESR_RECEIVE_ILLEGAL = 1 << 6;
    static final int ESR_ILLEGAL_REGISTER = 1 << 7;

    /** IA32_APIC_BASE (MSR 0x1b) bits (10.4.4). */
    static final long BASE_BSP = 1L << 8;
    static final long BASE_EXTD = 1L << 10;
    static final long BASE_ENABLE = 1L << 11;
    /** The architectural default base address. */
    static final long DEFAULT_BASE = 0xFEE0_0000L;
    /** Bits of IA32_APIC_BASE that may be written: BSP (read-only, kept), EXTD, EN, base up to 36 bits. */
    static final long BASE_WRITABLE = BASE_EXTD | BASE_ENABLE | 0xF_FFFF_F000L;

    /** What the local APIC needs from the chip around it. */
    interface Host {
        /** Current virtual time. */
        long now();

        /** Arms (or, with -1, cancels) this APIC's timer callback at a virtual time. */
        void armTimer(LocalApic apic, long deadline);

        /** Sends an IPI described by an ICR value (destination in bits 63:32 in x2APIC format). */
        void sendIpi(LocalApic from, long icr);

        /** Broadcasts an EOI for a level-triggered vector to the IOAPIC (10.8.5). */
        void eoiBroadcast(int vector);

        /** Counts events for the statistics. */
        void count(String event, long n);

        /** Counts one event for the statistics. */
        default void count(String event) {
            count(event, 1);
        }
    }

    /** Result of an MSR access: a value, or a #GP(0) the engine raises. */
    record MsrResult(boolean fault, long value) {
        static final MsrResult GP = new MsrResult(true, 0);
        static final MsrResult OK = new MsrResult(false, 0);

        static MsrResult of(long v) {
            return new MsrResult(false, v);
        }
    }

    final int index;
    private final Host host;

    private int id;
    private long apicBase;
    private int tpr;
    private int ldr;
    private int dfr;
    private int svr;
    private final int[] irr = new int[8];
    private final int[] isr = new int[8];
    private final int[] tmr = new int[8];
    private int esr;
    private int esrPending;
    private long icr;
    private final int[] lvt = new int[LVT_COUNT];
    private int timerInitial;
    private int timerDivide;
    /** Virtual time the current timer period started (one-shot/periodic). */
    private long timerStart;
    /** Virtual time of the next timer expiry, or -1 when the timer is not armed. */
    private long timerDeadline = -1;
    /** IA32_TSC_DEADLINE as the guest wrote it (TSC units), 0 when disarmed. */
    private long tscDeadline;
    private boolean nmiPending;
    private boolean initPending;
    private int sipiVector = -1;
    private boolean waitForSipi;

    /**
     * Timer ticks of the PIT (IOAPIC pin 2) that found their vector still requested in IRR: each
     * EOI of that vector requests it again, one tick at a time, as KVM's PIT does in its default
     * reinject mode. A vCPU thread that the host runs late then still sees every tick, so guest
     * time counted in ticks (jiffies, and Linux's LAPIC timer and TSC checks against it) keeps up
     * with the VM clock instead of falling behind. Not part of the saved state (a swap drops them).
     */
    private int keptTickVector = -1;
    private int keptTicks;
    /** At most this many kept ticks (a second at HZ=1000); more are merged as before. */
    static final int MAX_KEPT_TICKS = 1000;

    /** Posted-interrupt requests (virtual delivery): 256 bits not yet moved into IRR. */
    private final int[] pir = new int[8];
    /** Outstanding-notification bit: PIR holds something; read lock-free by the vCPU's poll. */
    private volatile boolean postedPending;

    LocalApic(int index, Host host) {
        this.index = index;
        this.host = host;
        powerOn();
    }

    // ---- reset ------------------------------------------------------------------------------

    /**
     * Power-on state (10.4.7.1): ID = vCPU index, APIC enabled in IA32_APIC_BASE but software
     * disabled (SVR 0xff), LVTs masked, DFR all ones. Like QEMU's apic_reset_common, LINT0 of the
     * bootstrap processor starts as unmasked ExtINT (0x700), which is what a BIOS programs, so the
     * 8259's INTR reaches it before anyone touches the APIC. Application processors wait for SIPI.
     */
    void powerOn() {
        id = index;
        apicBase = DEFAULT_BASE | BASE_ENABLE | (index == 0 ? BASE_BSP : 0);
        initRegisters();
        nmiPending = false;
        initPending = false;
        sipiVector = -1;
        waitForSipi = index != 0;
    }

    /**
     * The register part of INIT (10.4.7.3): everything but the APIC ID and IA32_APIC_BASE returns
     * to its power-up value; the timer stops.
     */
    private void initRegisters() {
        tpr = 0;
        ldr = 0;
        dfr = 0xFFFF_FFFF;
        svr = 0xFF;
        java.util.Arrays.fill(irr, 0);
        java.util.Arrays.fill(isr, 0);
        java.util.Arrays.fill(tmr, 0);
        java.util.Arrays.fill(pir, 0);
        postedPending = false;
        esr = 0;
        esrPending = 0;
        icr = 0;
        java.util.Arrays.fill(lvt, MASKED);
        if (index == 0) {
            lvt[LVT_LINT0] = DM_EXTINT << 8;
        }
        timerInitial = 0;
        timerDivide = 0;
        timerStart = 0;
        tscDeadline = 0;
        disarm();
        keptTickVector = -1;
        keptTicks = 0;
    }

    /** An INIT IPI arrived: reset the registers now; the engine resets the CPU when it takes it. */
    void init() {
        initRegisters();
        initPending = true;
        sipiVector = -1;
        waitForSipi = true;
    }

    /** A startup IPI arrived: only a processor waiting for SIPI accepts it (10.4.4, 8.4.4.1). */
    boolean startup(int vector) {
        if (!waitForSipi) {
            return false;
        }
        sipiVector = vector & 0xFF;
        waitForSipi = false;
        return true;
    }

    // ---- modes ------------------------------------------------------------------------------

    boolean hwEnabled() {
        return (apicBase & BASE_ENABLE) != 0;
    }

    boolean swEnabled() {
        return hwEnabled() && (svr & SVR_ENABLE) != 0;
    }

    boolean x2apic() {
        return (apicBase & BASE_EXTD) != 0 && hwEnabled();
    }

    int id() {
        return id;
    }

    int lvt(int i) {
        return lvt[i];
    }

    // ---- interrupt acceptance and priority --------------------------------------------------

    private static boolean test(int[] bits, int v) {
        return (bits[v >>> 5] & (1 << (v & 31))) != 0;
    }

    private static void set(int[] bits, int v) {
        bits[v >>> 5] |= 1 << (v & 31);
    }

    private static void clear(int[] bits, int v) {
        bits[v >>> 5] &= ~(1 << (v & 31));
    }

    private static int highest(int[] bits) {
        for (int i = 7; i >= 0; i--) {
            if (bits[i] != 0) {
                return i * 32 + 31 - Integer.numberOfLeadingZeros(bits[i]);
            }
        }
        return -1;
    }

    /**
     * Accepts a fixed or lowest-priority interrupt into IRR (10.8.3). Vectors 0-15 are illegal
     * (ESR "receive illegal vector"); a software-disabled APIC accepts none (10.4.7.2: it still
     * answers INIT, NMI, SMI and SIPI only).
     *
     * @return true if IRR changed
     */
    boolean accept(int vector, boolean level) {
        if (vector < 16) {
            error(ESR_RECEIVE_ILLEGAL);
            return false;
        }
        if (!swEnabled()) {
            host.count("dropped-apic-disabled");
            return false;
        }
        boolean was = test(irr, vector);
        set(irr, vector);
        if (level) {
            set(tmr, vector);
        } else {
            clear(tmr, vector);
        }
        if (was) {
            host.count("coalesced");
        }
        return !was;
    }

    /**
     * Posts an edge-triggered vector to the posted-interrupt descriptor (virtual delivery): the
     * vCPU folds it into IRR at its next instruction boundary (Intel SDM Vol. 3C 29.6 "Posted-
     * interrupt processing").
     */
    void post(int vector) {
        if (vector < 16) {
            error(ESR_RECEIVE_ILLEGAL);
            return;
        }
        set(pir, vector);
        postedPending = true;
    }

    boolean postedPending() {
        return postedPending;
    }

    /** Moves posted requests into IRR as edge-triggered (29.6 step 3). */
    void syncPosted() {
        if (!postedPending) {
            return;
        }
        postedPending = false;
        for (int i = 0; i < 8; i++) {
            int bits = pir[i];
            pir[i] = 0;
            while (bits != 0) {
                int v = i * 32 + Integer.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                accept(v, false);
            }
        }
    }

    /** Processor priority (10.8.3.1): TPR if its class is at least the highest in-service class. */
    int ppr() {
        int isrv = Math.max(highest(isr), 0);
        return (tpr & 0xF0) >= (isrv & 0xF0) ? tpr & 0xFF : isrv & 0xF0;
    }

    /** The vector the APIC would deliver now, or -1 (10.8.3.1: its class must exceed PPR's). */
    int deliverable() {
        if (!swEnabled()) {
            return -1;
        }
        int v = highest(irr);
        return v >= 0 && (v & 0xF0) > (ppr() & 0xF0) ? v : -1;
    }

    /** The INTA: moves the winner from IRR to ISR; answers the spurious vector if none (10.9). */
    int acknowledge() {
        int v = deliverable();
        if (v < 0) {
            host.count("spurious");
            return svr & 0xFF;
        }
        clear(irr, v);
        set(isr, v);
        return v;
    }

    /** EOI (10.8.5): retires the highest in-service vector; level vectors are broadcast to the IOAPIC. */
    void eoi() {
        int v = highest(isr);
        if (v < 0) {
            return;
        }
        clear(isr, v);
        if (test(tmr, v)) {
            host.eoiBroadcast(v);
        }
        if (v == keptTickVector && keptTicks > 0 && !test(irr, v)) {
            keptTicks--;
            set(irr, v);
            host.count("pit-ticks-reinjected");
        }
    }

    /** A PIT tick arrived while its vector was still requested: keep it for a later EOI. */
    void keepTick(int vector) {
        if (vector != keptTickVector) {
            keptTickVector = vector;
            keptTicks = 0;
        }
        if (keptTicks < MAX_KEPT_TICKS) {
            keptTicks++;
            host.count("pit-ticks-kept");
        }
    }

    /** Tells whether the EOI the guest is about to write retires a level-triggered vector. */
    boolean eoiIsLevel() {
        int v = highest(isr);
        return v >= 0 && test(tmr, v);
    }

    boolean takeNmi() {
        boolean n = nmiPending;
        nmiPending = false;
        return n;
    }

    boolean nmiPending() {
        return nmiPending;
    }

    void nmi() {
        nmiPending = true;
    }

    /** Takes a pending INIT (-2), SIPI vector (0..255) or nothing (-1), as InterruptSource.takeStartupEvent. */
    int takeStartup() {
        if (initPending) {
            initPending = false;
            return -2;
        }
        int v = sipiVector;
        sipiVector = -1;
        return v;
    }

    boolean startupPending() {
        return initPending || sipiVector >= 0;
    }

    /** An IPI with an illegal vector was attempted from this APIC. */
    void sendError() {
        error(ESR_SEND_ILLEGAL);
    }

    private void error(int bit) {
        esrPending |= bit;
        int e = lvt[LVT_ERROR];
        if ((e & MASKED) == 0) {
            accept(e & 0xFF, false);
        }
    }

    /**
     * Raises the interrupt of an LVT entry (timer, error, thermal, perf) if it is unmasked. The
     * timer and error entries are always fixed delivery; thermal/perf NMI is honoured.
     */
    private void raiseLvt(int i) {
        int e = lvt[i];
        if ((e & MASKED) != 0) {
            return;
        }
        int dm = i == LVT_TIMER || i == LVT_ERROR ? DM_FIXED : (e >>> 8) & 7;
        if (dm == DM_NMI) {
            nmi();
        } else if (dm == DM_FIXED) {
            accept(e & 0xFF, false);
        }
    }

    // ---- destination matching (10.6.2) -----------------------------------------------------------

    /** Physical destination: this APIC's ID, or the broadcast ID (0xff xAPIC, 0xffffffff x2APIC). */
    boolean matchesPhysical(int dest, boolean x2format) {
        if (x2format) {
            return dest == -1 || dest == id;
        }
        return (dest & 0xFF) == 0xFF || (dest & 0xFF) == (id & 0xFF);
    }

    /**
     * Logical destination: x2APIC cluster (bits 31:16 cluster, 15:0 bitmap, 10.12.10.2); xAPIC flat
     * model (DFR 0xf...: LDR bitmap AND) or cluster model (DFR 0x0...: high nibble cluster, low nibble
     * bitmap); 0xff is a broadcast in both (10.6.2.2).
     */
    boolean matchesLogical(int dest, boolean x2format) {
        if (x2apic()) {
            int l = logicalId();
            return x2format && dest == -1 || (dest >>> 16) == (l >>> 16) && (dest & l & 0xFFFF) != 0;
        }
        int d = dest & 0xFF;
        if (d == 0xFF) {
            return true;
        }
        int logical = ldr >>> 24;
        if ((dfr >>> 28) == 0xF) {
            return (logical & d) != 0;
        }
        return (logical >>> 4) == (d >>> 4) && (logical & d & 0xF) != 0;
    }

    /** The x2APIC logical ID derived from the x2APIC ID (10.12.10.2). */
    private int logicalId() {
        return (id >>> 4) << 16 | 1 << (id & 0xF);
    }

    // ---- registers (xAPIC MMIO) ----------------------------------------------------------------

    /** Reads a 32-bit register at a 16-byte aligned offset of the xAPIC page. */
    int read(int offset) {
        if (offset >= REG_TMR && offset < REG_IRR + 0x80) {
            // Posted requests are IRR bits the guest must see (a self IPI taken with IF = 0 is
            // pending in IRR at once, SDM 10.6.1; APICv sets the virtual IRR, SDM Vol. 3C 29.1.1).
            syncPosted();
        }
        return switch (offset) {
            case REG_ID -> x2apic() ? id : id << 24;
            case REG_VERSION -> VERSION;
            case REG_TPR -> tpr;
            case REG_APR -> 0;
            case REG_PPR -> ppr();
            case REG_LDR -> x2apic() ? logicalId() : ldr;
            case REG_DFR -> dfr;
            case REG_SVR -> svr;
            case REG_ESR -> esr;
            case REG_ICR_LOW -> (int) icr;
            case REG_ICR_HIGH -> (int) (icr >>> 32);
            case REG_TIMER_INITIAL -> timerInitial;
            case REG_TIMER_CURRENT -> currentCount(host.now());
            case REG_TIMER_DIVIDE -> timerDivide;
            default -> {
                if (offset >= REG_ISR && offset < REG_ISR + 0x80) {
                    yield isr[(offset - REG_ISR) >>> 4];
                } else if (offset >= REG_TMR && offset < REG_TMR + 0x80) {
                    yield tmr[(offset - REG_TMR) >>> 4];
                } else if (offset >= REG_IRR && offset < REG_IRR + 0x80) {
                    yield irr[(offset - REG_IRR) >>> 4];
                } else if (offset >= REG_LVT_TIMER && offset <= REG_LVT_ERROR) {
                    yield lvt[(offset - REG_LVT_TIMER) >>> 4];
                }
                yield 0; // reserved (EOI and RRD included: write-only / unsupported read 0)
            }
        };
    }

    /** Writes a 32-bit register at a 16-byte aligned offset of the xAPIC page. */
    void write(int offset, int value) {
        switch (offset) {
            case REG_ID -> id = x2apic() ? id : value >>> 24; // writable in xAPIC mode (10.4.6)
            case REG_TPR -> tpr = value & 0xFF;
            case REG_EOI -> eoi();
            case REG_LDR -> ldr = value & 0xFF00_0000;
            case REG_DFR -> dfr = value | 0x0FFF_FFFF;
            case REG_SVR -> writeSvr(value);
            case REG_ESR -> {
                // Write-then-read register: a write latches the errors seen since the last write.
                esr = esrPending;
                esrPending = 0;
            }
            case REG_ICR_LOW -> {
                icr = (icr & 0xFFFF_FFFF_0000_0000L) | (value & ICR_LOW_WRITABLE);
                long dest = (icr >>> 56) & 0xFF;
                host.sendIpi(this, (icr & 0xFFFF_FFFFL) | dest << 32);
            }
            case REG_ICR_HIGH -> icr = (icr & 0xFFFF_FFFFL) | (long) (value & 0xFF00_0000) << 32;
            case REG_TIMER_INITIAL -> writeInitialCount(value);
            case REG_TIMER_DIVIDE -> writeDivide(value);
            default -> {
                if (offset >= REG_LVT_TIMER && offset <= REG_LVT_ERROR) {
                    writeLvt((offset - REG_LVT_TIMER) >>> 4, value);
                } else if (offset == REG_LVT_CMCI || offset == REG_VERSION || offset == REG_PPR
                        || offset == REG_APR || offset == REG_RRD || offset == REG_TIMER_CURRENT
                        || offset >= REG_ISR && offset < REG_IRR + 0x80) {
                    // read-only (or absent CMCI): the write is ignored
                } else {
                    error(ESR_ILLEGAL_REGISTER);
                }
            }
        }
    }

    private void writeSvr(int value) {
        svr = value & 0x3FF;
        if ((svr & SVR_ENABLE) == 0) {
            // 10.4.7.2: software disable masks every LVT entry.
            for (int i = 0; i < LVT_COUNT; i++) {
                lvt[i] |= MASKED;
            }
        }
    }

    private void writeLvt(int i, int value) {
        int v = value & LVT_WRITABLE[i];
        if ((svr & SVR_ENABLE) == 0) {
            v |= MASKED; // 10.4.7.2: mask bits cannot be cleared while software disabled
        }
        if (i == LVT_LINT0 || i == LVT_LINT1) {
            v |= lvt[i] & (1 << 14); // remote IRR is read-only
        }
        int old = lvt[i];
        lvt[i] = v;
        if (i == LVT_TIMER) {
            int oldMode = timerMode(old);
            int newMode = timerMode(v);
            if (oldMode != newMode && (oldMode == TIMER_TSC_DEADLINE || newMode == TIMER_TSC_DEADLINE)) {
                // 10.5.4.1: a change to or from TSC-deadline mode disarms the timer.
                tscDeadline = 0;
                timerInitial = 0;
                disarm();
            }
        }
    }

    // ---- timer (10.5.4) ------------------------------------------------------------------------

    private static int timerMode(int lvtTimer) {
        int m = (lvtTimer >>> 17) & 3;
        return m == 3 ? TIMER_ONE_SHOT : m; // reserved encoding treated as one-shot
    }

    int timerMode() {
        return timerMode(lvt[LVT_TIMER]);
    }

    /** Nanoseconds per count: the divide configuration (bits 0,1,3: 000 = 2 ... 111 = 1, figure 10-10). */
    long nanosPerCount() {
        int code = (timerDivide & 3) | ((timerDivide & 8) >>> 1);
        return 1L << ((code + 1) & 7);
    }

    private long period() {
        return (timerInitial & 0xFFFF_FFFFL) * nanosPerCount();
    }

    private void writeInitialCount(int value) {
        if (timerMode() == TIMER_TSC_DEADLINE) {
            return; // 10.5.4.1: ignored in TSC-deadline mode
        }
        timerInitial = value;
        if (value == 0) {
            disarm();
            return;
        }
        long now = host.now();
        timerStart = now;
        arm(now + period());
    }

    private void writeDivide(int value) {
        int count = timerDeadline >= 0 && timerMode() != TIMER_TSC_DEADLINE ? currentCount(host.now()) : -1;
        timerDivide = value & 0xB;
        if (count > 0) {
            // keep the remaining count, now at the new rate
            long deadline = host.now() + (count & 0xFFFF_FFFFL) * nanosPerCount();
            timerStart = deadline - period();
            arm(deadline);
        }
    }

    int currentCount(long now) {
        if (timerDeadline < 0 || timerMode() == TIMER_TSC_DEADLINE || timerInitial == 0) {
            return 0;
        }
        long initial = timerInitial & 0xFFFF_FFFFL;
        long ticks = Math.max(0, now - timerStart) / nanosPerCount();
        if (timerMode() == TIMER_PERIODIC) {
            return (int) (initial - ticks % initial);
        }
        return (int) Math.max(0, initial - ticks);
    }

    private void arm(long deadline) {
        timerDeadline = deadline;
        host.armTimer(this, deadline);
    }

    private void disarm() {
        if (timerDeadline >= 0) {
            timerDeadline = -1;
            host.armTimer(this, -1);
        }
    }

    long timerDeadline() {
        return timerDeadline;
    }

    /**
     * The timer callback: delivers the timer interrupt if the deadline has come. A periodic timer
     * reloads from the previous deadline (no drift); ticks missed while the host could not run the
     * callback coalesce into one IRR bit, as the hardware's would.
     */
    void timerExpired(long now) {
        if (timerDeadline < 0 || now < timerDeadline) {
            if (timerDeadline >= 0) {
                host.armTimer(this, timerDeadline);
            }
            return;
        }
        host.count("timer-fired");
        int mode = timerMode();
        if (mode == TIMER_PERIODIC && timerInitial != 0) {
            long p = period();
            long next = timerDeadline + p;
            if (next <= now) {
                long missed = (now - next) / p + 1;
                host.count("timer-missed", missed);
                next += missed * p;
            }
            timerStart = next - p;
            timerDeadline = -1;
            arm(next);
        } else {
            timerDeadline = -1;
            if (mode == TIMER_TSC_DEADLINE) {
                tscDeadline = 0; // 10.5.4.1: the MSR reads 0 once the timer fired
            }
        }
        raiseLvt(LVT_TIMER);
    }

    // ---- MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC) ------------------------------------------

    /** IA32_APIC_BASE. */
    static final int MSR_APIC_BASE = 0x1B;
    /** IA32_TSC_DEADLINE. */
    static final int MSR_TSC_DEADLINE = 0x6E0;
    /** First x2APIC MSR (10.12.1.2). */
    static final int MSR_X2APIC_FIRST = 0x800;
    static final int MSR_X2APIC_LAST = 0x8FF;

    long apicBase() {
        return apicBase;
    }

    /**
     * Reads an APIC MSR.
     *
     * @param msr       the MSR index
     * @param tscOffset the vCPU's TSC minus VM-clock nanoseconds (to express deadlines in TSC units)
     * @return the value or a #GP
     */
    MsrResult readMsr(int msr, long tscOffset) {
        if (msr == MSR_APIC_BASE) {
            return MsrResult.of(apicBase);
        }
        if (msr == MSR_TSC_DEADLINE) {
            return MsrResult.of(timerMode() == TIMER_TSC_DEADLINE ? tscDeadline : 0);
        }
        if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !x2apic()) {
            return MsrResult.GP;
        }
        int offset = (msr - MSR_X2APIC_FIRST) << 4;
        switch (offset) {
            case REG_EOI, REG_SELF_IPI, REG_DFR, REG_ICR_HIGH, REG_APR, REG_RRD, REG_LVT_CMCI -> {
                return MsrResult.GP; // write-only or absent in x2APIC mode (table 10-6)
            }
            case REG_ICR_LOW -> {
                return MsrResult.of(icr);
            }
            default -> {
                if (!readable(offset)) {
                    return MsrResult.GP;
                }
                return MsrResult.of(read(offset) & 0xFFFF_FFFFL);
            }
        }
    }

    private static boolean readable(int offset) {
        return switch (offset) {
            case REG_ID, REG_VERSION, REG_TPR, REG_PPR, REG_LDR, REG_SVR, REG_ESR, REG_TIMER_INITIAL,
                    REG_TIMER_CURRENT, REG_TIMER_DIVIDE -> true;
            default -> offset >= REG_ISR && offset < REG_IRR + 0x80 || offset >= REG_LVT_TIMER && offset <= REG_LVT_ERROR;
        };
    }

    /**
     * Writes an APIC MSR.
     *
     * @param msr       the MSR index
     * @param value     the value (EDX:EAX)
     * @param tscOffset the vCPU's TSC minus VM-clock nanoseconds
     * @return OK or a #GP
     */
    MsrResult writeMsr(int msr, long value, long tscOffset) {
        if (msr == MSR_APIC_BASE) {
            return writeApicBase(value) ? MsrResult.OK : MsrResult.GP;
        }
        if (msr == MSR_TSC_DEADLINE) {
            if (timerMode() != TIMER_TSC_DEADLINE) {
                return MsrResult.OK; // 10.5.4.1: ignored in the other modes
            }
            tscDeadline = value;
            if (value == 0) {
                disarm();
            } else {
                arm(Math.max(0, value - tscOffset));
            }
            return MsrResult.OK;
        }
        if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !x2apic()) {
            return MsrResult.GP;
        }
        int offset = (msr - MSR_X2APIC_FIRST) << 4;
        int low = (int) value;
        switch (offset) {
            case REG_TPR, REG_SVR, REG_TIMER_INITIAL, REG_TIMER_DIVIDE -> {
                if ((value >>> 32) != 0) {
                    return MsrResult.GP;
                }
                write(offset, low);
            }
            case REG_EOI -> {
                if (value != 0) {
                    return MsrResult.GP; // 10.12.1.2: a non-zero EOI write faults
                }
                eoi();
            }
            case REG_ESR -> {
                if (value != 0) {
                    return MsrResult.GP;
                }
                write(offset, 0);
            }
            case REG_ICR_LOW -> {
                icr = value & (0xFFFF_FFFF_0000_0000L | ICR_LOW_WRITABLE);
                host.sendIpi(this, icr);
            }
            case REG_SELF_IPI -> {
                if ((value & ~0xFFL) != 0) {
                    return MsrResult.GP;
                }
                accept(low & 0xFF, false);
            }
            default -> {
                if (offset >= REG_LVT_TIMER && offset <= REG_LVT_ERROR && (value >>> 32) == 0) {
                    write(offset, low);
                } else {
                    return MsrResult.GP; // read-only (ID, LDR, version, ISR...) or reserved
                }
            }
        }
        return MsrResult.OK;
    }

    /**
     * Writes IA32_APIC_BASE (10.12.5, figure 10-27): EN=0 with EXTD=1 is invalid; x2APIC to xAPIC
     * needs a pass through disabled; disabling resets the APIC as a power-up would (keeping the ID);
     * entering x2APIC mode makes the ID the 32-bit initial APIC ID.
     */
    private boolean writeApicBase(long value) {
        if ((value & ~(BASE_WRITABLE | BASE_BSP)) != 0) {
            return false;
        }
        boolean en = (value & BASE_ENABLE) != 0;
        boolean extd = (value & BASE_EXTD) != 0;
        if (extd && !en) {
            return false;
        }
        if (x2apic() && en && !extd) {
            return false;
        }
        boolean wasEnabled = hwEnabled();
        apicBase = (value & BASE_WRITABLE) | (apicBase & BASE_BSP);
        if (wasEnabled && !en) {
            initRegisters();
        }
        if (extd) {
            id = index;
        }
        return true;
    }

    // ---- state ---------------------------------------------------------------------------------

    void save(SavedState.Builder b, String p) {
        syncPosted(); // posted requests are IRR bits that are not yet folded: fold them, once
        b.put(p + "id", id)
                .put(p + "apic-base", apicBase)
                .put(p + "tpr", tpr)
                .put(p + "ldr", ldr)
                .put(p + "dfr", dfr)
                .put(p + "svr", svr)
                .put(p + "irr", irr.clone())
                .put(p + "isr", isr.clone())
                .put(p + "tmr", tmr.clone())
                .put(p + "esr", esr)
                .put(p + "esr-pending", esrPending)
                .put(p + "icr", icr)
                .put(p + "lvt", lvt.clone())
                .put(p + "timer-initial", timerInitial)
                .put(p + "timer-divide", timerDivide)
                .put(p + "timer-start", timerStart)
                .put(p + "timer-deadline", timerDeadline)
                .put(p + "tsc-deadline", tscDeadline)
                .put(p + "nmi-pending", nmiPending)
                .put(p + "init-pending", initPending)
                .put(p + "sipi-vector", sipiVector)
                .put(p + "wait-for-sipi", waitForSipi);
    }

    void restore(SavedState s, String p) {
        int[] newIrr = ints(s, p + "irr", 8);
        int[] newIsr = ints(s, p + "isr", 8);
        int[] newTmr = ints(s, p + "tmr", 8);
        int[] newLvt = ints(s, p + "lvt", LVT_COUNT);
        id = s.getInt(p + "id");
        apicBase = s.getLong(p + "apic-base") & (BASE_WRITABLE | BASE_BSP);
        tpr = s.getInt(p + "tpr") & 0xFF;
        ldr = s.getInt(p + "ldr") & 0xFF00_0000;
        dfr = s.getInt(p + "dfr") | 0x0FFF_FFFF;
        svr = s.getInt(p + "svr") & 0x3FF;
        System.arraycopy(newIrr, 0, irr, 0, 8);
        System.arraycopy(newIsr, 0, isr, 0, 8);
        System.arraycopy(newTmr, 0, tmr, 0, 8);
        java.util.Arrays.fill(pir, 0);
        postedPending = false;
        esr = s.getInt(p + "esr");
        esrPending = s.getInt(p + "esr-pending");
        icr = s.getLong(p + "icr");
        for (int i = 0; i < LVT_COUNT; i++) {
            lvt[i] = newLvt[i] & (LVT_WRITABLE[i] | (1 << 14));
        }
        timerInitial = s.getInt(p + "timer-initial");
        timerDivide = s.getInt(p + "timer-divide") & 0xB;
        timerStart = s.getLong(p + "timer-start");
        tscDeadline = s.getLong(p + "tsc-deadline");
        nmiPending = s.getBoolean(p + "nmi-pending");
        initPending = s.getBoolean(p + "init-pending");
        int sipi = s.getInt(p + "sipi-vector");
        sipiVector = sipi < 0 ? -1 : sipi & 0xFF;
        waitForSipi = s.getBoolean(p + "wait-for-sipi");
        long deadline = s.getLong(p + "timer-deadline");
        timerDeadline = -1;
        if (deadline >= 0) {
            arm(deadline); // a deadline already past fires at once: not lost, not repeated
        } else {
            host.armTimer(this, -1);
        }
    }

    private static int[] ints(SavedState s, String name, int length) {
        int[] a = s.getInts(name);
        if (a.length != length) {
            throw new IllegalArgumentException("apic state: " + name + " has " + a.length + " words, expected " + length);
        }
        return a;
    }
}
