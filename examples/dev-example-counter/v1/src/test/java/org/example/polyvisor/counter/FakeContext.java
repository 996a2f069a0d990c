package org.example.polyvisor.counter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/** The least a device context must do for the counter: one port window and a manual clock. */
final class FakeContext implements DeviceContext {
    PortDevice device;
    int base;
    long now;
    final List<Object[]> timers = new ArrayList<>();
    private final Map<String, String> options;

    FakeContext(Map<String, String> options) {
        this.options = options;
    }

    /** Advances VM time, firing due timers in order. */
    void advance(long nanos) {
        long target = now + nanos;
        while (true) {
            Object[] next = null;
            for (Object[] t : timers) {
                if ((long) t[0] <= target && (next == null || (long) t[0] < (long) next[0])) {
                    next = t;
                }
            }
            if (next == null) {
                break;
            }
            timers.remove(next);
            now = (long) next[0];
            if (!(boolean) next[2]) {
                ((Runnable) next[1]).run();
            }
        }
        now = target;
    }

    int in(int port) {
        return device.read(port - base, 4);
    }

    @Override
    public String vmName() {
        return "vm";
    }

    @Override
    public String instanceName() {
        return "counter";
    }

    @Override
    public Map<String, String> options() {
        return options;
    }

    @Override
    public PortBus ports() {
        return new PortBus() {
            @Override
            public Registration map(int b, int length, String owner, PortDevice d) {
                device = d;
                base = b;
                return new Registration() {
                    @Override
                    public long base() {
                        return b;
                    }

                    @Override
                    public long length() {
                        return length;
                    }

                    @Override
                    public String owner() {
                        return owner;
                    }

                    @Override
                    public void close() {
                        device = null;
                    }
                };
            }

            @Override
            public int read(int port, int size) {
                return device.read(port - base, size);
            }

            @Override
            public void write(int port, int size, int value) {
                device.write(port - base, size, value);
            }

            @Override
            public List<Registration> windows() {
                return List.of();
            }
        };
    }

    @Override
    public MmioBus mmio() {
        throw new UnsupportedOperationException();
    }

    @Override
    public IrqLine irq(int gsi) {
        throw new UnsupportedOperationException();
    }

    @Override
    public GuestMemory memory() {
        throw new UnsupportedOperationException();
    }

    @Override
    public VmClock clock() {
        return new VmClock() {
            @Override
            public ClockMode mode() {
                return ClockMode.DETERMINISTIC;
            }

            @Override
            public long nanos() {
                return now;
            }

            @Override
            public Timer schedule(long deadline, Runnable action) {
                Object[] t = {deadline, action, false};
                timers.add(t);
                return () -> t[2] = true;
            }
        };
    }

    @Override
    public VmControl control() {
        throw new UnsupportedOperationException();
    }

    @Override
    public Optional<CharBackend> console() {
        return Optional.empty();
    }
}
