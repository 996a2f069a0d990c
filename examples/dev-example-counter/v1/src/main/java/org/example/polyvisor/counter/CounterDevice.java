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
 * One example counter in a VM (version 1). Its state is a versioned plain value, saved as
 * {@code example-counter} version 1 ({@code ticks}, {@code scratch}), so a newer bundle can take it
 * over when this one is updated while the VM runs.
 */
final class CounterDevice implements Device, PortDevice {

    /** Saved-state type. */
    static final String TYPE = "example-counter";
    /** The state format this version writes and reads. */
    static final int VERSION = 1;
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
    private VmClock.Timer timer;
    private boolean closed;

    CounterDevice(DeviceContext context, int port) {
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
        ticks++;
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
        return SavedState.builder(TYPE, VERSION).put("ticks", ticks).put("scratch", scratch).build();
    }

    @Override
    public synchronized void restoreState(SavedState state) {
        state.require(TYPE, 1, VERSION);
        ticks = state.getLong("ticks");
        scratch = state.getInt("scratch");
    }

    @Override
    public List<String> resources() {
        return List.of(String.format("io 0x%x-0x%x", port, port + WINDOW - 1));
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("ticks", ticks);
        m.put("bundle-version", 1L);
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
