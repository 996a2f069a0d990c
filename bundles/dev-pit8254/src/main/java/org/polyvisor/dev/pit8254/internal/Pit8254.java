package org.polyvisor.dev.pit8254.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.part.SavedState;
import org.polyvisor.time.VmClock;

/**
 * The Intel 8254 programmable interval timer (datasheet order 231164) as wired on a PC: a
 * 1.193182 MHz clock on all three counters, channel 0's OUT on IRQ 0, channel 1's gate high
 * (refresh, unused), channel 2's gate and OUT on port 0x61 (with the speaker data enable and the
 * refresh toggle, as QEMU's pcspk). Time is the VM clock's, so a deterministic VM sees the same
 * counts every run.
 *
 * <p>Each counter is computed from the VM time at which its count was loaded (no per-tick work);
 * only channel 0 schedules VM-clock timers, at its OUT transitions, to drive IRQ 0.
 *
 * <p>Threat model: the guest controls every byte written to the four ports and port 0x61; every
 * control word and count (including 0, 1 and BCD digits above 9) is accepted as the datasheet or
 * QEMU defines it; counts are 16-bit, so no input creates more than one pending VM-clock timer or
 * makes a timer fire more often than once per PIT clock (838 ns).
 */
final class Pit8254 implements Device {

    /** Input clock of every counter: 1.193182 MHz (the PC's 14.31818 MHz / 12). */
    static final long FREQUENCY = 1_193_182;
    static final long NANOS_PER_SECOND = 1_000_000_000L;
    /** Port 0x61 refresh request toggle period (15.085 us, as QEMU's pcspk). */
    static final long REFRESH_NANOS = 15_085;

    /** Saved-state type and version. */
    static final String STATE_TYPE = "i8254";
    static final int STATE_VERSION = 1;

    /** Port 0x61 bits. */
    static final int P61_GATE2 = 0x01;
    static final int P61_SPEAKER = 0x02;
    static final int P61_REFRESH = 0x10;
    static final int P61_OUT2 = 0x20;

    private final String name;
    private final VmClock clock;
    private final IrqLine irq;
    private final Channel[] channels = {new Channel(0), new Channel(1), new Channel(2)};
    private final Registration pitPorts;
    private final Registration port61;
    private int port61Bits;
    private VmClock.Timer irqTimer;
    private long irqGeneration;
    private boolean irqLevel;
    private long irqEdges;
    private long speakerToggles;
    private long controlWrites;
    private boolean closed;

    Pit8254(DeviceContext context) {
        this.name = context.instanceName();
        this.clock = context.clock();
        this.irq = context.irq(0);
        channels[0].gate = true;
        channels[1].gate = true;
        this.pitPorts = context.ports().map(0x40, 4, name, new PitPorts());
        try {
            this.port61 = context.ports().map(0x61, 1, name + "-port61", new Port61());
        } catch (RuntimeException e) {
            pitPorts.close();
            throw e;
        }
    }

    // ---- time -------------------------------------------------------------------------------

    /** PIT clocks since VM time 0 at a VM time. */
    static long ticksAt(long nanos) {
        return nanos / NANOS_PER_SECOND * FREQUENCY + (nanos % NANOS_PER_SECOND) * FREQUENCY / NANOS_PER_SECOND;
    }

    /** The first VM time at which {@link #ticksAt} reaches a tick count. */
    static long nanosAt(long ticks) {
        long whole = ticks / FREQUENCY * NANOS_PER_SECOND;
        long part = ticks % FREQUENCY;
        return whole + (part * NANOS_PER_SECOND + FREQUENCY - 1) / FREQUENCY;
    }

    // ---- one counter ------------------------------------------------------------------------

    /** One counter: control, count register, latches and its counting element as a function of time. */
    final class Channel {
        final int index;
        int mode;
        boolean bcd;
        /** RW field: 1 LSB, 2 MSB, 3 LSB then MSB. */
        int access = 3;
        /** The count register as written (0 stands for the largest count). */
        int countRegister;
        /** The value loaded into the counting element: 1..65536 (or 10000 in BCD). */
        int count = 0x1_0000;
        /** PIT tick at which counting started, in ticks since VM time 0. */
        long loadTick;
        /** Ticks counted while the gate was low (modes that pause), frozen there. */
        long frozen = -1;
        boolean gate;
        /** Modes 1 and 5 count only after a gate trigger; others once a count is written. */
        boolean counting;
        boolean nullCount = true;
        boolean writeMsbNext;
        boolean readMsbNext;
        int writeLatchLsb;
        int latchedCount = -1;
        boolean latchedMsbNext;
        int latchedStatus = -1;

        Channel(int index) {
            this.index = index;
        }

        long elapsed(long nowTicks) {
            return frozen >= 0 ? frozen : Math.max(0, nowTicks - loadTick);
        }

        /** The counting element's value now. */
        int value(long nowTicks) {
            if (!counting) {
                return countRegister & 0xFFFF;
            }
            long d = elapsed(nowTicks);
            long v = switch (mode) {
                case 2 -> count - d % count;
                case 3 -> count - (2 * d) % count;
                default -> (count - d) & 0xFFFF; // after terminal count the counter wraps on
            };
            v &= 0xFFFF;
            return bcd ? toBcd((int) v) : (int) v;
        }

        /** OUT now (datasheet figures "Mode 0" to "Mode 5"). */
        boolean out(long nowTicks) {
            if (!counting) {
                return mode != 0; // mode 0 drives OUT low after the control word; others high
            }
            long d = elapsed(nowTicks);
            return switch (mode) {
                case 0, 1 -> d >= count;
                case 2 -> count < 2 || d % count != count - 1;
                case 3 -> d % count < (count + 1) / 2;
                default -> d != count; // modes 4, 5: one clock low at terminal count
            };
        }

        /** The next tick at which OUT changes, or -1. */
        long nextTransition(long nowTicks) {
            if (!counting || frozen >= 0) {
                return -1;
            }
            long d = nowTicks - loadTick;
            if (d < 0) {
                return loadTick;
            }
            return switch (mode) {
                case 0, 1 -> d < count ? loadTick + count : -1;
                case 2 -> {
                    if (count < 2) {
                        yield -1;
                    }
                    long base = loadTick + d / count * count;
                    yield d % count < count - 1 ? base + count - 1 : base + count;
                }
                case 3 -> {
                    long base = loadTick + d / count * count;
                    long high = (count + 1) / 2;
                    yield d % count < high ? base + high : base + count;
                }
                default -> d < count ? loadTick + count : d == count ? loadTick + count + 1 : -1;
            };
        }

        /** Loads the count register into the counting element (datasheet: on the next CLK pulse). */
        private void load(long nowTicks) {
            int n = countRegister & 0xFFFF;
            if (bcd) {
                n = fromBcd(n);
                count = n == 0 ? 10_000 : n;
            } else {
                count = n == 0 ? 0x1_0000 : n;
            }
            loadTick = nowTicks;
            frozen = -1;
            nullCount = false;
            boolean triggered = mode == 1 || mode == 5;
            if (!triggered) {
                counting = true;
                if (!gate && (mode == 0 || mode == 4 || mode == 2 || mode == 3)) {
                    frozen = 0; // counting waits for the gate
                }
            }
        }

        void writeControl(int cw, long nowTicks) {
            int rw = (cw >>> 4) & 3;
            if (rw == 0) {
                latchCount(nowTicks);
                return;
            }
            access = rw;
            int m = (cw >>> 1) & 7;
            mode = m > 5 ? m - 4 : m; // x10 and x11: modes 2 and 3
            bcd = (cw & 1) != 0;
            counting = false;
            nullCount = true;
            frozen = -1;
            writeMsbNext = false;
            readMsbNext = false;
            latchedCount = -1;
            latchedStatus = -1;
        }

        void latchCount(long nowTicks) {
            if (latchedCount < 0) { // a second latch before the read is ignored
                latchedCount = value(nowTicks);
                latchedMsbNext = false;
            }
        }

        void latchStatus(long nowTicks) {
            if (latchedStatus < 0) {
                latchedStatus = (out(nowTicks) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | access << 4 | mode << 1
                        | (bcd ? 1 : 0);
            }
        }

        void writeCount(int b, long nowTicks) {
            switch (access) {
                case 1 -> {
                    countRegister = b;
                    load(nowTicks);
                }
                case 2 -> {
                    countRegister = b << 8;
                    load(nowTicks);
                }
                default -> {
                    if (!writeMsbNext) {
                        writeLatchLsb = b;
                        writeMsbNext = true;
                        if (mode == 0) {
                            counting = false; // datasheet mode 0: writing the first byte stops the count
                        }
                    } else {
                        countRegister = writeLatchLsb | b << 8;
                        writeMsbNext = false;
                        load(nowTicks);
                    }
                }
            }
        }

        int read(long nowTicks) {
            if (latchedStatus >= 0) {
                int s = latchedStatus;
                latchedStatus = -1;
                return s;
            }
            if (latchedCount >= 0) {
                int v = latchedCount;
                int b;
                if (access == 1) {
                    b = v & 0xFF;
                    latchedCount = -1;
                } else if (access == 2) {
                    b = v >>> 8;
                    latchedCount = -1;
                } else if (!latchedMsbNext) {
                    b = v & 0xFF;
                    latchedMsbNext = true;
                } else {
                    b = v >>> 8;
                    latchedCount = -1;
                }
                return b & 0xFF;
            }
            int v = value(nowTicks);
            return switch (access) {
                case 1 -> v & 0xFF;
                case 2 -> v >>> 8;
                default -> {
                    boolean msb = readMsbNext;
                    readMsbNext = !readMsbNext;
                    yield (msb ? v >>> 8 : v) & 0xFF;
                }
            };
        }

        /** Gate input (datasheet table "Gate pin operations summary"). */
        void setGate(boolean high, long nowTicks) {
            boolean rising = high && !gate;
            if (!high && gate && counting && (mode == 0 || mode == 2 || mode == 3 || mode == 4)) {
                frozen = elapsed(nowTicks); // counting disabled; modes 2/3 also force OUT high
                if (mode == 2 || mode == 3) {
                    frozen = 0;
                }
            }
            gate = high;
            if (rising) {
                switch (mode) {
                    case 1, 5 -> {
                        if (!nullCount) {
                            load(nowTicks);
                            counting = true;
                        }
                    }
                    case 2, 3 -> {
                        if (counting) {
                            loadTick = nowTicks; // rising gate reloads
                            frozen = -1;
                        }
                    }
                    default -> {
                        if (counting && frozen >= 0) {
                            loadTick = nowTicks - frozen; // resume where it stopped
                            frozen = -1;
                        }
                    }
                }
            }
        }

        void save(SavedState.Builder b, String p) {
            b.put(p + "mode", mode).put(p + "bcd", bcd).put(p + "access", access)
                    .put(p + "count-register", countRegister).put(p + "count", count)
                    .put(p + "load-tick", loadTick).put(p + "frozen", frozen).put(p + "gate", gate)
                    .put(p + "counting", counting).put(p + "null-count", nullCount)
                    .put(p + "write-msb-next", writeMsbNext).put(p + "read-msb-next", readMsbNext)
                    .put(p + "write-latch-lsb", writeLatchLsb).put(p + "latched-count", latchedCount)
                    .put(p + "latched-msb-next", latchedMsbNext).put(p + "latched-status", latchedStatus);
        }

        void restore(SavedState s, String p) {
            int m = s.getInt(p + "mode");
            int a = s.getInt(p + "access");
            int c = s.getInt(p + "count");
            if (m < 0 || m > 5 || a < 1 || a > 3 || c < 1 || c > 0x1_0000) {
                throw new IllegalArgumentException("i8254 state: channel " + index + " has mode " + m + ", access "
                        + a + ", count " + c);
            }
            mode = m;
            access = a;
            count = c;
            bcd = s.getBoolean(p + "bcd");
            countRegister = s.getInt(p + "count-register") & 0xFFFF;
            loadTick = s.getLong(p + "load-tick");
            frozen = s.getLong(p + "frozen");
            gate = s.getBoolean(p + "gate");
            counting = s.getBoolean(p + "counting");
            nullCount = s.getBoolean(p + "null-count");
            writeMsbNext = s.getBoolean(p + "write-msb-next");
            readMsbNext = s.getBoolean(p + "read-msb-next");
            writeLatchLsb = s.getInt(p + "write-latch-lsb") & 0xFF;
            latchedCount = Math.max(-1, Math.min(0xFFFF, s.getInt(p + "latched-count")));
            latchedMsbNext = s.getBoolean(p + "latched-msb-next");
            latchedStatus = Math.max(-1, Math.min(0xFF, s.getInt(p + "latched-status")));
        }
    }

    static int toBcd(int v) {
        int b = v % 10000;
        return (b / 1000) << 12 | (b / 100 % 10) << 8 | (b / 10 % 10) << 4 | b % 10;
    }

    /** Decodes 4 BCD digits; a digit above 9 counts as its binary value, as a counter would. */
    static int fromBcd(int v) {
        return ((v >>> 12) & 0xF) * 1000 + ((v >>> 8) & 0xF) * 100 + ((v >>> 4) & 0xF) * 10 + (v & 0xF);
    }

    // ---- IRQ 0 --------------------------------------------------------------------------------

    /** Drives IRQ 0 from channel 0's OUT now and schedules the next transition. Lock held. */
    private void updateIrq() {
        updateIrq(-1);
    }

    /**
     * Drives IRQ 0 from channel 0's OUT at {@code atTicks} (the transition a timer was scheduled for,
     * or -1: now) and schedules the next transition. A timer runs late on a real clock, and a mode 2
     * OUT pulse is one PIT clock (838 ns) long: evaluating OUT at the time the timer actually ran
     * would miss the pulse and lose the interrupt, so a timer evaluates OUT at its scheduled time
     * (as QEMU's pit_irq_timer does) and catches up period by period, unless it is more than
     * {@link #MAX_CATCH_UP_TICKS} late (a paused VM), then it resumes from now. Lock held.
     */
    private void updateIrq(long atTicks) {
        if (closed) {
            return;
        }
        long now = clock.nanos();
        long ticks = ticksAt(now);
        if (atTicks >= 0 && atTicks < ticks && ticks - atTicks <= MAX_CATCH_UP_TICKS) {
            ticks = atTicks;
        }
        Channel c = channels[0];
        boolean out = c.out(ticks);
        if (out != irqLevel) {
            irqLevel = out;
            if (out) {
                irqEdges++;
            }
            irq.set(out);
        }
        if (irqTimer != null) {
            irqTimer.cancel();
            irqTimer = null;
        }
        long gen = ++irqGeneration;
        long next = c.nextTransition(ticks);
        if (next >= 0) {
            long at = Math.max(next, ticks + 1);
            irqTimer = clock.schedule(nanosAt(at), () -> timerFired(gen, at));
        }
    }

    /** How late (in PIT clocks, 1 s) a timer may be and still deliver every transition it missed. */
    static final long MAX_CATCH_UP_TICKS = 1_193_182;

    private synchronized void timerFired(long gen, long atTicks) {
        if (gen == irqGeneration) {
            irqTimer = null;
            updateIrq(atTicks);
        }
    }

    // ---- ports --------------------------------------------------------------------------------

    private final class PitPorts implements PortDevice {
        @Override
        public int read(int offset, int size) {
            synchronized (Pit8254.this) {
                int v = 0;
                long ticks = ticksAt(clock.nanos());
                for (int i = 0; i < size; i++) {
                    int o = offset + i;
                    // the control port reads as nothing (8254: no read of the control word)
                    int b = o < 3 ? channels[o].read(ticks) : o == 3 ? 0xFF : 0xFF;
                    v |= b << (8 * i);
                }
                return v;
            }
        }

        @Override
        public void write(int offset, int size, int value) {
            synchronized (Pit8254.this) {
                long ticks = ticksAt(clock.nanos());
                for (int i = 0; i < size && offset + i < 4; i++) {
                    int b = (value >>> (8 * i)) & 0xFF;
                    int o = offset + i;
                    if (o < 3) {
                        channels[o].writeCount(b, ticks);
                    } else {
                        writeControl(b, ticks);
                    }
                }
                updateIrq();
            }
        }
    }

    private void writeControl(int cw, long ticks) {
        controlWrites++;
        int sc = cw >>> 6;
        if (sc == 3) {
            // Read-back (datasheet "Read-back command"): bit 5 clear latches counts, bit 4 clear
            // latches status, bits 3-1 select counters 2-0.
            for (int i = 0; i < 3; i++) {
                if ((cw & (2 << i)) != 0) {
                    if ((cw & 0x10) == 0) {
                        channels[i].latchStatus(ticks);
                    }
                    if ((cw & 0x20) == 0) {
                        channels[i].latchCount(ticks);
                    }
                }
            }
            return;
        }
        channels[sc].writeControl(cw, ticks);
    }

    private final class Port61 implements PortDevice {
        @Override
        public int read(int offset, int size) {
            synchronized (Pit8254.this) {
                long now = clock.nanos();
                int v = port61Bits & (P61_GATE2 | P61_SPEAKER);
                if ((now / REFRESH_NANOS & 1) != 0) {
                    v |= P61_REFRESH;
                }
                if (channels[2].out(ticksAt(now))) {
                    v |= P61_OUT2;
                }
                return size == 1 ? v : v | (0xFFFF_FF00 & (int) ((1L << (8 * size)) - 1));
            }
        }

        @Override
        public void write(int offset, int size, int value) {
            synchronized (Pit8254.this) {
                int old = port61Bits;
                port61Bits = value & 0x0F;
                if (((old ^ port61Bits) & P61_SPEAKER) != 0) {
                    speakerToggles++;
                }
                channels[2].setGate((port61Bits & P61_GATE2) != 0, ticksAt(clock.nanos()));
            }
        }
    }

    // ---- Device -------------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized void reset() {
        for (Channel c : channels) {
            c.mode = 0;
            c.bcd = false;
            c.access = 3;
            c.countRegister = 0;
            c.count = 0x1_0000;
            c.counting = false;
            c.nullCount = true;
            c.frozen = -1;
            c.writeMsbNext = false;
            c.readMsbNext = false;
            c.latchedCount = -1;
            c.latchedStatus = -1;
        }
        port61Bits = 0;
        channels[2].gate = false;
        updateIrq();
    }

    @Override
    public synchronized SavedState saveState() {
        SavedState.Builder b = SavedState.builder(STATE_TYPE, STATE_VERSION);
        for (Channel c : channels) {
            c.save(b, "ch" + c.index + ".");
        }
        b.put("port61", port61Bits).put("irq-level", irqLevel);
        return b.build();
    }

    @Override
    public synchronized void restoreState(SavedState state) {
        state.require(STATE_TYPE, 1, STATE_VERSION);
        for (Channel c : channels) {
            c.restore(state, "ch" + c.index + ".");
        }
        channels[0].gate = true;
        channels[1].gate = true;
        port61Bits = state.getInt("port61") & 0x0F;
        channels[2].gate = (port61Bits & P61_GATE2) != 0;
        irqLevel = state.getBoolean("irq-level");
        irq.set(irqLevel);
        updateIrq();
    }

    @Override
    public List<String> resources() {
        return List.of("io 0x40-0x43", "io 0x61", "irq 0");
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("irq0-edges", irqEdges);
        m.put("control-writes", controlWrites);
        m.put("speaker-toggles", speakerToggles);
        m.put("ch0-mode", (long) channels[0].mode);
        m.put("ch0-count", (long) channels[0].count);
        m.put("ch0-counting", channels[0].counting ? 1L : 0L);
        m.put("irq0-level", irqLevel ? 1L : 0L);
        m.put("irq0-timer-armed", irqTimer != null ? 1L : 0L);
        return m;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            irqGeneration++;
            if (irqTimer != null) {
                irqTimer.cancel();
                irqTimer = null;
            }
        }
        pitPorts.close();
        port61.close();
    }

    /** For tests: a channel. */
    Channel channel(int i) {
        return channels[i];
    }
}
