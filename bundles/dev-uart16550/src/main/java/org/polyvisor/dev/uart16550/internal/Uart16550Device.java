package org.polyvisor.dev.uart16550.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntConsumer;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.part.SavedState;
import org.polyvisor.time.VmClock;

/**
 * One 16550A in a VM: the {@link Uart16550} register machine wired to the port bus, an IRQ line,
 * the console backend (if this UART is the console) and the VM clock.
 *
 * <p>Threads: guest accesses arrive on vCPU threads, input notifications on the backend's thread
 * and timer expiries on a vCPU thread between budgets; every entry point synchronises on this
 * object. Lock order is device, then interrupt controller (through the IRQ line) or backend, never
 * the reverse, provided the backend calls its input listener without holding a lock its
 * {@code read()} takes.
 */
final class Uart16550Device implements Device, PortDevice {

    private final String name;
    private final int port;
    private final int irqNumber;
    private final Optional<CharBackend> console;
    private final VmClock clock;
    private final Uart16550 uart;
    private final Registration registration;
    private VmClock.Timer timer;
    /** Virtual time at which the character timeout expires, or -1 when not running. */
    private long deadline = -1;
    /** Incremented whenever a timer is armed or cancelled, so a stale expiry is recognised. */
    private long timerGeneration;
    private boolean closed;

    Uart16550Device(DeviceContext context, int port, int irqNumber) {
        this.name = context.instanceName();
        this.port = port;
        this.irqNumber = irqNumber;
        this.console = context.console();
        this.clock = context.clock();
        IntConsumer output = console.<IntConsumer>map(backend -> backend::write).orElse(null);
        CharBackend in = console.orElse(null);
        Uart16550.Timeout timeout = new Uart16550.Timeout() {
            @Override
            public void restart(long nanos) {
                restartTimer(nanos);
            }

            @Override
            public void cancel() {
                cancelTimer();
            }
        };
        synchronized (this) {
            this.uart = new Uart16550(context.irq(irqNumber), output, in == null ? () -> -1 : in::read, timeout);
        }
        this.registration = context.ports().map(port, Registers.WINDOW, name, this);
        console.ifPresent(backend -> backend.onInput(this::inputAvailable));
    }

    // ---- bus ---------------------------------------------------------------------------

    /**
     * Reads 1, 2 or 4 bytes; wider accesses are split into byte accesses at consecutive offsets,
     * as the ISA bus does for an 8-bit device. Bytes beyond the window read as 0xFF.
     */
    @Override
    public synchronized int read(int offset, int size) {
        int value = 0;
        for (int i = 0; i < size && i < 4; i++) {
            int o = offset + i;
            int b = o >= 0 && o < Registers.WINDOW ? uart.read(o) : 0xFF;
            value |= b << (8 * i);
        }
        return value;
    }

    /** Writes 1, 2 or 4 bytes, split into byte writes as {@link #read(int, int)} does. */
    @Override
    public synchronized void write(int offset, int size, int value) {
        for (int i = 0; i < size && i < 4; i++) {
            int o = offset + i;
            if (o >= 0 && o < Registers.WINDOW) {
                uart.write(o, value >>> (8 * i));
            }
        }
    }

    private synchronized void inputAvailable() {
        if (!closed) {
            uart.inputAvailable();
        }
    }

    // ---- character timeout timer --------------------------------------------------------
    // One clock timer at most: a restart only moves the deadline, and a timer that fires early
    // re-arms itself for it, so a stream of input bytes does not schedule one timer per byte.

    private void restartTimer(long nanos) {
        deadline = clock.nanos() + nanos;
        if (timer == null) {
            armTimer();
        }
    }

    private void armTimer() {
        long generation = ++timerGeneration;
        timer = clock.schedule(deadline, () -> timerFired(generation));
    }

    private void cancelTimer() {
        deadline = -1;
        timerGeneration++;
        if (timer != null) {
            timer.cancel();
            timer = null;
        }
    }

    private synchronized void timerFired(long generation) {
        if (closed || generation != timerGeneration) {
            return; // cancelled or superseded while waiting for the lock
        }
        timer = null;
        if (deadline < 0) {
            return;
        }
        if (clock.nanos() < deadline) {
            armTimer();
            return;
        }
        deadline = -1;
        uart.timeoutExpired();
    }

    // ---- Device ------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized void reset() {
        uart.restore(UartState.powerOn());
    }

    @Override
    public synchronized SavedState saveState() {
        return uart.state().toSaved();
    }

    @Override
    public synchronized void restoreState(SavedState state) {
        uart.restore(UartState.fromSaved(state));
        uart.inputAvailable();
    }

    @Override
    public List<String> resources() {
        return List.of(String.format("io 0x%x-0x%x", port, port + Registers.WINDOW - 1), "irq " + irqNumber);
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> stats = new LinkedHashMap<>();
        stats.put("tx-bytes", uart.txBytes());
        stats.put("tx-discarded", uart.txDiscarded());
        stats.put("rx-bytes", uart.rxBytes());
        stats.put("interrupts", uart.interrupts());
        stats.put("overruns", uart.overruns());
        return stats;
    }

    @Override
    public void close() {
        console.ifPresent(backend -> backend.onInput(null));
        registration.close();
        synchronized (this) {
            closed = true;
            cancelTimer();
        }
    }
}
