package org.example.polyvisor.counter;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.part.SavedState;
import org.polyvisor.time.VmClock;

/**
 * One example counter in a VM (version 2). It saves {@code example-counter} version 2
 * ({@code ticks}, {@code scratch}, {@code step}) and restores versions 1 and 2: a version 1 state
 * (from the bundle this one replaced) keeps its ticks and scratch and takes the configured step.
 */
final class CounterDevice implements Device, PortDevice {

    /** Saved-state type. */
    static final String TYPE = "example-counter";
    /** The state format this version writes and reads. */
    static final int VERSION = 2;
    /** VM time per tick. */
    static final long PERIOD_NANOS = 10_000_000L; // 10 ms
    /** Ports decoded. */
    static final int WINDOW = 4;

    private final String name;
    private final int port;
    private final VmClock clock;
    private final Registration registration;
    private long ticks;
    private int scratch;
    private int step;
    /** The state version this device took over (0: started fresh), shown in the statistics. */
    private int takenOver;
    private VmClock.Timer timer;
    private boolean closed;

    CounterDevice(DeviceContext context, int port, int step) {
        this.step = step;
        this.name = context.instanceName();
        this.port = port;
        this.clock = context.clock();
        this.registration = context.ports().map(port, WINDOW, name, this);
        synchronized (this) {
            arm();
        }
    }

    private void arm() {
        timer = clock.schedule(clock.nanos() + PERIOD_NANOS, this::tick);
    }

    private synchronized void tick() {
        if (closed) {
            return;
        }
        ticks += step;
        arm();
    }

    @Override
    public synchronized int read(int offset, int size) {
        int v = (int) (ticks >>> (8 * offset));
        return size == 4 ? v : v & ((1 << (8 * size)) - 1);
    }

    @Override
    public synchronized void write(int offset, int size, int value) {
        scratch = value;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized void reset() {
        ticks = 0;
        scratch = 0;
    }

    @Override
    public synchronized SavedState saveState() {
        return SavedState.builder(TYPE, VERSION).put("ticks", ticks).put("scratch", scratch).put("step", step).build();
    }

    @Override
    public synchronized void restoreState(SavedState state) {
        state.require(TYPE, 1, VERSION);
        ticks = state.getLong("ticks");
        scratch = state.getInt("scratch");
        if (state.version() >= 2) {
            step = Math.max(1, state.getInt("step"));
        }
        takenOver = state.version();
    }

    @Override
    public List<String> resources() {
        return List.of(String.format("io 0x%x-0x%x", port, port + WINDOW - 1));
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("ticks", ticks);
        m.put("bundle-version", 2L);
        m.put("step", (long) step);
        m.put("took-over-state-version", (long) takenOver);
        return m;
    }

    @Override
    public void close() {
        registration.close();
        synchronized (this) {
            closed = true;
            if (timer != null) {
                timer.cancel();
            }
        }
    }
}
