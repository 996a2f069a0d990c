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
