package org.polyvisor.dev.pci.internal;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.testing.FakeGuestMemory;
import org.polyvisor.testing.FakePortBus;
import org.polyvisor.time.VmClock;

/** Small fakes of the platform side of the device API. */
final class Fakes {

    private Fakes() {
    }

    /** An IRQ line that records its level and rising edges. */
    static final class RecordingLine implements IrqLine {
        boolean high;
        int raises;

        @Override
        public synchronized void raise() {
            if (!high) {
                raises++;
            }
            high = true;
        }

        @Override
        public synchronized void lower() {
            high = false;
        }
    }

    /** Counts resets and power-offs. */
    static final class Control implements VmControl {
        int resets;
        int exitStatus = -1;

        @Override
        public void powerOff(int exitStatus) {
            this.exitStatus = exitStatus;
        }

        @Override
        public void reset() {
            resets++;
        }
    }

    /** Per-VM services by VM name (tests use a fresh VM name each). */
    private static final Map<String, Map<Class<?>, Object>> SERVICES = new HashMap<>();

    /** A device context with the fakes above, sharing one port bus and lines between devices. */
    static final class Context implements DeviceContext {
        final String vm;
        final String instance;
        final FakePortBus ports;
        final Map<Integer, RecordingLine> lines;
        final Control control = new Control();
        /** Records the legacy-window decoding the bridge's PAM registers ask for. */
        final FakeGuestMemory memory = FakeGuestMemory.flat(0x1000);
        private final Map<String, String> options;
        /** The VM's per-VM services, shared by the contexts of one VM name (as the core keeps one map per machine). */
        private final Map<Class<?>, Object> services;

        Context(String vm, String instance, Map<String, String> options) {
            this(vm, instance, options, new FakePortBus(), new HashMap<>());
        }

        Context(String vm, String instance, Map<String, String> options, FakePortBus ports,
                Map<Integer, RecordingLine> lines) {
            this.vm = vm;
            this.instance = instance;
            this.options = options;
            this.ports = ports;
            this.lines = lines;
            synchronized (SERVICES) {
                this.services = SERVICES.computeIfAbsent(vm, v -> new HashMap<>());
            }
        }

        RecordingLine line(int gsi) {
            return lines.computeIfAbsent(gsi, g -> new RecordingLine());
        }

        @Override
        public String vmName() {
            return vm;
        }

        @Override
        public String instanceName() {
            return instance;
        }

        @Override
        public Map<String, String> options() {
            return options;
        }

        @Override
        public <T> Optional<T> vmService(Class<T> type) {
            synchronized (SERVICES) {
                return Optional.ofNullable(type.cast(services.get(type)));
            }
        }

        @Override
        public <T> AutoCloseable provideVmService(Class<T> type, T service) {
            synchronized (SERVICES) {
                if (services.putIfAbsent(type, service) != null) {
                    throw new IllegalStateException("vm '" + vm + "': " + type.getName() + " is already provided");
                }
            }
            return () -> {
                synchronized (SERVICES) {
                    services.remove(type, service);
                }
            };
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
            return line(gsi);
        }

        @Override
        public GuestMemory memory() {
            return memory;
        }

        @Override
        public VmClock clock() {
            throw new UnsupportedOperationException();
        }

        @Override
        public VmControl control() {
            return control;
        }

        @Override
        public Optional<CharBackend> console() {
            return Optional.empty();
        }
    }
}
