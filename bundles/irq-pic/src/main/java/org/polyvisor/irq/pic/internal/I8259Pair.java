package org.polyvisor.irq.pic.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.part.SavedState;

/**
 * The PC/AT's pair of 8259As: the master at 0x20/0x21 delivering to vCPU 0, the slave at
 * 0xa0/0xa1 with its INT output on the master's IR2, and the PIIX edge/level control registers at
 * 0x4d0/0x4d1. GSIs 0-7 are the master's inputs, 8-15 the slave's.
 *
 * <p>Threads: devices drive lines from any thread, vCPUs access the ports and acknowledge; all of
 * it synchronises on this object. {@link InterruptSource#hasInterrupt()} reads a volatile copy of
 * the master's INT output, updated whenever the state changes, so engines poll it without a lock.
 * {@link IrqChipContext#kick(int)} is called after the lock is released.
 *
 * <p>Threat model: every port accepts every byte value at every offset and width; nothing
 * allocates after creation, so no guest access can throw or grow memory.
 */
final class I8259Pair implements IrqChip {

    /** Saved-state type name, shared by any implementation of a PC's 8259A pair. */
    static final String STATE_TYPE = "i8259-pair";

    /** Current saved-state format version. */
    static final int STATE_VERSION = 1;

    /** Master command/data ports. */
    static final int MASTER_BASE = 0x20;
    /** Slave command/data ports. */
    static final int SLAVE_BASE = 0xA0;
    /** ELCR1 (master inputs) and ELCR2 (slave inputs). */
    static final int ELCR_BASE = 0x4D0;
    /** Number of GSIs: 8 per chip. */
    static final int LINES = 16;

    private final IrqChipContext context;
    private final I8259 master = new I8259(true);
    private final I8259 slave = new I8259(false);
    private final IrqLine[] lines = new IrqLine[LINES];
    private final List<Registration> registrations;
    private final InterruptSource source0;

    /** Levels devices drive on GSIs 0-15; GSI 2 shares the master's IR2 pin with the cascade. */
    private int deviceLevels;
    /** The master's INT output, as last computed. */
    private volatile boolean output;

    private final long[] raised = new long[LINES];
    private long delivered;
    private long polled;
    private long spuriousMaster;
    private long spuriousSlave;

    I8259Pair(IrqChipContext context) {
        this.context = context;
        for (int gsi = 0; gsi < LINES; gsi++) {
            int n = gsi;
            lines[gsi] = new IrqLine() {
                @Override
                public void raise() {
                    setLevel(n, true);
                }

                @Override
                public void lower() {
                    setLevel(n, false);
                }
            };
        }
        this.source0 = new InterruptSource() {
            @Override
            public boolean hasInterrupt() {
                return output;
            }

            @Override
            public int acknowledge() {
                return interruptAcknowledge();
            }
        };
        Registration m = context.ports().map(MASTER_BASE, 2, "pic-master", new ChipPorts(master));
        try {
            Registration s = context.ports().map(SLAVE_BASE, 2, "pic-slave", new ChipPorts(slave));
            try {
                Registration e = context.ports().map(ELCR_BASE, 2, "pic-elcr", new ElcrPorts());
                registrations = List.of(m, s, e);
            } catch (RuntimeException ex) {
                s.close();
                throw ex;
            }
        } catch (RuntimeException ex) {
            m.close();
            throw ex;
        }
    }

    // ---- IrqChip ------------------------------------------------------------------------

    @Override
    public int lineCount() {
        return LINES;
    }

    @Override
    public IrqLine line(int gsi) {
        if (gsi < 0 || gsi >= LINES) {
            throw new IllegalArgumentException("the PIC pair has lines 0..15, not " + gsi);
        }
        return lines[gsi];
    }

    @Override
    public InterruptSource source(int vcpu) {
        if (vcpu < 0) {
            throw new IllegalArgumentException("no vCPU " + vcpu);
        }
        // The master's INT pin goes to the bootstrap processor only (on a PC, through LINT0).
        return vcpu == 0 ? source0 : InterruptSource.NONE;
    }

    @Override
    public void reset() {
        boolean rose;
        synchronized (this) {
            master.restore(I8259State.powerOn(true, master.lines()));
            slave.restore(I8259State.powerOn(false, slave.lines()));
            rose = propagate();
        }
        kickIf(rose);
    }

    @Override
    public synchronized SavedState saveState() {
        SavedState.Builder b = SavedState.builder(STATE_TYPE, STATE_VERSION);
        master.state().put(b, "master.");
        slave.state().put(b, "slave.");
        b.put("device-levels", deviceLevels);
        return b.build();
    }

    @Override
    public void restoreState(SavedState state) {
        state.require(STATE_TYPE, 1, STATE_VERSION);
        I8259State m = I8259State.from(state, "master.");
        I8259State s = I8259State.from(state, "slave.");
        int levels = state.getInt("device-levels") & 0xFFFF;
        boolean rose;
        synchronized (this) {
            master.restore(m);
            slave.restore(s);
            deviceLevels = levels;
            output = false;
            rose = propagate();
        }
        kickIf(rose);
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> stats = new LinkedHashMap<>();
        stats.put("delivered", delivered);
        stats.put("polled", polled);
        stats.put("spurious-irq7", spuriousMaster);
        stats.put("spurious-irq15", spuriousSlave);
        for (int gsi = 0; gsi < LINES; gsi++) {
            stats.put("raised-irq" + gsi, raised[gsi]);
        }
        // the registers as they are now (IRQ 8-15 in the high byte), to see what a guest waits for
        I8259State m = master.state();
        I8259State s = slave.state();
        stats.put("irr", (long) (m.irr() | s.irr() << 8));
        stats.put("isr", (long) (m.isr() | s.isr() << 8));
        stats.put("imr", (long) (m.imr() | s.imr() << 8));
        stats.put("int-output", output ? 1L : 0L);
        return stats;
    }

    @Override
    public void close() {
        registrations.forEach(Registration::close);
    }

    // ---- lines, INTA and output ----------------------------------------------------------

    private void setLevel(int gsi, boolean high) {
        boolean rose;
        synchronized (this) {
            int bit = 1 << gsi;
            if (high && (deviceLevels & bit) == 0) {
                raised[gsi]++;
            }
            deviceLevels = high ? deviceLevels | bit : deviceLevels & ~bit;
            if (gsi >= 8) {
                slave.setInput(gsi - 8, high);
            } else if (gsi != I8259.CASCADE_IR) {
                master.setInput(gsi, high);
            }
            rose = propagate();
        }
        kickIf(rose);
    }

    /**
     * The INTA cycle. The master resolves; if its winner is the cascade input, the slave resolves
     * in turn and supplies the vector. A request that vanished before the acknowledge (a level
     * input lowered, an input masked) gives the spurious vector of IR7 on the chip that found
     * nothing, without an ISR bit (datasheet "Interrupt sequence"; Linux's
     * mask_and_ack_8259A counts these as spurious IRQ 7/15).
     */
    private synchronized int interruptAcknowledge() {
        int vector;
        int ir = master.pendingRequest();
        if (ir < 0) {
            spuriousMaster++;
            vector = master.vector(7);
        } else if (ir == I8259.CASCADE_IR && master.cascadesOn(ir)) {
            master.acknowledge(ir);
            int ir2 = slave.pendingRequest();
            if (ir2 < 0) {
                spuriousSlave++;
                vector = slave.vector(7);
            } else {
                slave.acknowledge(ir2);
                delivered++;
                vector = slave.vector(ir2);
            }
            // The slave's INT falls during its INTA cycle; if it still has a request afterwards
            // (automatic EOI with several pending), propagate() below gives the master's
            // edge-triggered IR2 a fresh edge instead of leaving that request stuck.
            master.setInput(I8259.CASCADE_IR, false);
        } else {
            master.acknowledge(ir);
            delivered++;
            vector = master.vector(ir);
        }
        // The acknowledging vCPU is the one that will look again; no kick needed.
        propagate();
        return vector;
    }

    /**
     * Feeds the slave's INT (or a device on GSI 2) into the master's IR2 and recomputes the
     * master's INT output. Called with the lock held after every change.
     *
     * @return true if the output went from low to high (the vCPU must be woken)
     */
    private boolean propagate() {
        boolean ir2 = slave.output() || (deviceLevels & (1 << I8259.CASCADE_IR)) != 0;
        master.setInput(I8259.CASCADE_IR, ir2);
        boolean out = master.output();
        boolean rose = out && !output;
        output = out;
        return rose;
    }

    private void kickIf(boolean rose) {
        if (rose) {
            context.kick(0);
        }
    }

    // ---- ports --------------------------------------------------------------------------

    /**
     * Performs a byte access on behalf of a port window; wider accesses are split into bytes at
     * consecutive offsets, as the ISA bus does, and bytes beyond the window read as 0xff.
     */
    private interface ByteAccess {
        int read(int offset);

        void write(int offset, int value);
    }

    private int read(ByteAccess chip, int offset, int size) {
        boolean rose;
        int value = 0;
        synchronized (this) {
            for (int i = 0; i < size && i < 4; i++) {
                int o = offset + i;
                value |= (o == 0 || o == 1 ? chip.read(o) : 0xFF) << (8 * i);
            }
            rose = propagate(); // a poll read acknowledges
        }
        kickIf(rose);
        return value;
    }

    private void write(ByteAccess chip, int offset, int size, int value) {
        boolean rose;
        synchronized (this) {
            for (int i = 0; i < size && i < 4; i++) {
                int o = offset + i;
                if (o == 0 || o == 1) {
                    chip.write(o, (value >>> (8 * i)) & 0xFF);
                }
            }
            rose = propagate();
        }
        kickIf(rose);
    }

    /** The two ports of one chip. */
    private final class ChipPorts implements PortDevice, ByteAccess {
        private final I8259 chip;

        ChipPorts(I8259 chip) {
            this.chip = chip;
        }

        @Override
        public int read(int offset) {
            boolean polling = chip.pollPending();
            int v = chip.read(offset);
            if (polling && (v & I8259.POLL_INTERRUPT) != 0) {
                polled++;
            }
            return v;
        }

        @Override
        public void write(int offset, int value) {
            chip.write(offset, value);
        }

        @Override
        public int read(int offset, int size) {
            return I8259Pair.this.read(this, offset, size);
        }

        @Override
        public void write(int offset, int size, int value) {
            I8259Pair.this.write(this, offset, size, value);
        }
    }

    /** ELCR1 at offset 0, ELCR2 at offset 1. */
    private final class ElcrPorts implements PortDevice, ByteAccess {
        @Override
        public int read(int offset) {
            return (offset == 0 ? master : slave).readElcr();
        }

        @Override
        public void write(int offset, int value) {
            (offset == 0 ? master : slave).writeElcr(value);
        }

        @Override
        public int read(int offset, int size) {
            return I8259Pair.this.read(this, offset, size);
        }

        @Override
        public void write(int offset, int size, int value) {
            I8259Pair.this.write(this, offset, size, value);
        }
    }
}
