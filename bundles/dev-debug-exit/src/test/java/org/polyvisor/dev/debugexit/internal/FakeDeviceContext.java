package org.polyvisor.dev.debugexit.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.time.VmClock;

/** A device context with a fake port bus and a VM control that records power-offs. */
final class FakeDeviceContext implements DeviceContext {

    final FakePortBus ports = new FakePortBus();
    final List<Integer> powerOffs = new ArrayList<>();
    int resets;
    private final Map<String, String> options;

    FakeDeviceContext(Map<String, String> options) {
        this.options = options;
    }

    @Override
    public String vmName() {
        return "test";
    }

    @Override
    public String instanceName() {
        return "exit";
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
        throw new UnsupportedOperationException();
    }

    @Override
    public GuestMemory memory() {
        throw new UnsupportedOperationException();
    }

    @Override
    public VmClock clock() {
        throw new UnsupportedOperationException();
    }

    @Override
    public VmControl control() {
        return new VmControl() {
            @Override
            public void powerOff(int exitStatus) {
                powerOffs.add(exitStatus);
            }

            @Override
            public void reset() {
                resets++;
            }
        };
    }

    @Override
    public Optional<CharBackend> console() {
        return Optional.empty();
    }
}
