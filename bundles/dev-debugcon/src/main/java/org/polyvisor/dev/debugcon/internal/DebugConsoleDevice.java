package org.polyvisor.dev.debugcon.internal;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.part.SavedState;

/**
 * One {@code isa-debugcon} port.
 *
 * <p>Behaviour, as QEMU's hw/char/debugcon.c: every byte written goes out unchanged (a wider OUT
 * carries only its low byte, as QEMU's one-byte region delivers it); a read returns the readback
 * value, by default 0xe9. SeaBIOS tests that value before it writes its log to the port
 * (src/hw/serialio.c {@code qemu_debug_preinit}: {@code inb(port) == QEMU_DEBUGCON_READBACK}), so
 * without it the firmware stays silent.
 *
 * <p>Threat model: the guest controls only the bytes; each is handed to the VM log, which keeps a
 * bounded amount of recent output, and nothing is stored here.
 */
final class DebugConsoleDevice implements Device, PortDevice {

    /** Saved-state type; the device has no hardware state, but a state value still identifies it. */
    static final String STATE_TYPE = "debugcon";

    /** Saved-state format version. */
    static final int STATE_VERSION = 1;

    private final String name;
    private final int port;
    private final int readback;
    private final IntConsumer log;
    private final Registration registration;
    private final AtomicLong bytes = new AtomicLong();

    DebugConsoleDevice(DeviceContext context, int port, int readback) {
        this.name = context.instanceName();
        this.port = port;
        this.readback = readback;
        this.log = context.log();
        this.registration = context.ports().map(port, 1, name, this);
    }

    @Override
    public int read(int offset, int width) {
        return readback; // wider reads: QEMU's region is one byte wide, the rest reads as zero
    }

    @Override
    public void write(int offset, int width, int value) {
        bytes.incrementAndGet();
        log.accept(value & 0xFF);
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
        return List.of(String.format("io 0x%x", port));
    }

    @Override
    public Map<String, Long> stats() {
        return Map.of("bytes", bytes.get());
    }

    @Override
    public void close() {
        registration.close();
    }
}
