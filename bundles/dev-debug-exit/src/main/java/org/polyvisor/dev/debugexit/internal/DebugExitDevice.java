package org.polyvisor.dev.debugexit.internal;

import java.util.List;
import java.util.Map;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.part.SavedState;

/**
 * One {@code isa-debug-exit} port window.
 *
 * <p>Behaviour, as QEMU's hw/misc/debugexit.c: a write of any width (1, 2 or 4 bytes) at any
 * offset in the window ends the VM with exit status {@code (value << 1) | 1}, so a guest can never
 * produce status 0 and a successful run is told apart from a VMM failure by an agreed value (e.g.
 * 0x10 gives 33). Reads return 0 ({@code debug_exit_read} returns 0; some guests probe for the
 * device that way), not the all-ones of an unclaimed port.
 *
 * <p>Threat model: the guest controls only the written value; every value maps to a status and
 * nothing is stored, so no input can throw or grow memory.
 */
final class DebugExitDevice implements Device, PortDevice {

    /** Saved-state type; the device has no hardware state, but a state value still identifies it. */
    static final String STATE_TYPE = "debug-exit";

    /** Saved-state format version. */
    static final int STATE_VERSION = 1;

    private final String name;
    private final VmControl control;
    private final int port;
    private final int size;
    private final Registration registration;
    private long writes;

    DebugExitDevice(DeviceContext context, int port, int size) {
        this.name = context.instanceName();
        this.control = context.control();
        this.port = port;
        this.size = size;
        this.registration = context.ports().map(port, size, name, this);
    }

    @Override
    public int read(int offset, int width) {
        return 0;
    }

    @Override
    public void write(int offset, int width, int value) {
        int v = width >= 4 ? value : value & ((1 << (8 * width)) - 1);
        synchronized (this) {
            writes++;
        }
        // int arithmetic on purpose: QEMU computes (val << 1) | 1 in 64 bits and hands it to an
        // int exit code, so a 32-bit value loses its top bit exactly as here.
        control.powerOff((v << 1) | 1);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void reset() {
        // No hardware state.
    }

    @Override
    public SavedState saveState() {
        return SavedState.builder(STATE_TYPE, STATE_VERSION).build();
    }

    @Override
    public void restoreState(SavedState state) {
        state.require(STATE_TYPE, 1, STATE_VERSION);
    }

    @Override
    public List<String> resources() {
        return List.of(String.format("io 0x%x-0x%x", port, port + size - 1));
    }

    @Override
    public synchronized Map<String, Long> stats() {
        return Map.of("writes", writes);
    }

    @Override
    public void close() {
        registration.close();
    }
}
