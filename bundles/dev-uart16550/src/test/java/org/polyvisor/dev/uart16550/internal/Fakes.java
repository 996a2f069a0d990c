package org.polyvisor.dev.uart16550.internal;

import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/** Small fakes of the platform side of the device API. */
final class Fakes {

    private Fakes() {
    }

    /** An IRQ line that records its level and every transition. */
    static final class RecordingLine implements IrqLine {
        boolean high;
        int raises;
        int lowers;

        @Override
        public synchronized void raise() {
            if (!high) {
                raises++;
            }
            high = true;
        }

        @Override
        public synchronized void lower() {
            if (high) {
                lowers++;
            }
            high = false;
        }
    }

    /** A console backend: typed input waits in a queue, output is collected. */
    static final class Backend implements CharBackend {
        final ArrayDeque<Integer> typed = new ArrayDeque<>();
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        Runnable listener;

        /** Types bytes and notifies the device, as a console does. */
        void type(String text) {
            Runnable l;
            synchronized (this) {
                for (char c : text.toCharArray()) {
                    typed.add((int) c);
                }
                l = listener;
            }
            if (l != null) {
                l.run();
            }
        }

        synchronized String output() {
            return out.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
        }

        @Override
        public synchronized void write(int b) {
            out.write(b);
        }

        @Override
        public synchronized int read() {
            Integer b = typed.poll();
            return b == null ? -1 : b;
        }

        @Override
        public synchronized void onInput(Runnable listener) {
            this.listener = listener;
        }
    }

    /** A manual clock: time moves only by {@link #advance(long)}, which runs due timers. */
    static final class ManualClock implements VmClock {
        private record Entry(long deadline, long seq, Runnable action, boolean[] cancelled) {
        }

        long now;
        private long seq;
        final PriorityQueue<Entry> queue = new PriorityQueue<>(
                Comparator.comparingLong(Entry::deadline).thenComparingLong(Entry::seq));

        @Override
        public ClockMode mode() {
            return ClockMode.DETERMINISTIC;
        }

        @Override
        public long nanos() {
            return now;
        }

        @Override
        public Timer schedule(long deadlineNanos, Runnable action) {
            boolean[] cancelled = {false};
            queue.add(new Entry(deadlineNanos, seq++, action, cancelled));
            return () -> cancelled[0] = true;
        }

        int pending() {
            return (int) queue.stream().filter(e -> !e.cancelled()[0]).count();
        }

        void advance(long nanos) {
            long target = now + nanos;
            while (!queue.isEmpty() && queue.peek().deadline() <= target) {
                Entry e = queue.poll();
                now = Math.max(now, e.deadline());
                if (!e.cancelled()[0]) {
                    e.action().run();
                }
            }
            now = target;
        }
    }

    /** A device context with the fakes above. */
    static final class Context implements DeviceContext {
        final FakePortBus ports = new FakePortBus();
        final ManualClock clock = new ManualClock();
        final Backend backend = new Backend();
        final List<RecordingLine> lines = new ArrayList<>();
        final Map<Integer, RecordingLine> linesByGsi = new java.util.HashMap<>();
        private final Map<String, String> options;
        private final boolean console;

        Context(Map<String, String> options, boolean console) {
            this.options = options;
            this.console = console;
        }

        RecordingLine line(int gsi) {
            return linesByGsi.get(gsi);
        }

        @Override
        public String vmName() {
            return "test";
        }

        @Override
        public String instanceName() {
            return "com1";
        }

        @Override
        public Map<String, String> options() {
            return options;
        }

        @Override
        public PortBus ports() {
            return ports;
        }

        @Override
        public MmioBus mmio() {
            throw new UnsupportedOperationException();
        }

        @Override
        public IrqLine irq(int gsi) {
            return linesByGsi.computeIfAbsent(gsi, g -> new RecordingLine());
        }

        @Override
        public GuestMemory memory() {
            throw new UnsupportedOperationException();
        }

        @Override
        public VmClock clock() {
            return clock;
        }

        @Override
        public VmControl control() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<CharBackend> console() {
            return console ? Optional.of(backend) : Optional.empty();
        }
    }
}
