package org.polyvisor.core.internal;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.polyvisor.device.CharBackend;
import org.polyvisor.vm.VmConsole;

/**
 * A VM's console: a ring of recent output, followers, and a queue of typed input that the serial
 * device drains. Outlives restarts of the VM so the history stays readable.
 */
final class VmConsoleImpl implements VmConsole, CharBackend {

    private static final int HISTORY = 64 * 1024; // bytes of output kept
    private static final int INPUT_LIMIT = 64 * 1024; // typed bytes queued before the guest reads them

    private final byte[] ring = new byte[HISTORY];
    private long total;
    private final ArrayDeque<Byte> input = new ArrayDeque<>();
    private final List<Consumer<byte[]>> followers = new CopyOnWriteArrayList<>();
    private volatile Runnable inputListener;
    /** The line being written, up to {@link #LINE_LIMIT} characters, and the last complete one. */
    private final StringBuilder line = new StringBuilder();
    private String lastLine = "";
    private volatile Consumer<String> panicListener;

    private static final int LINE_LIMIT = 512;
    /** What Linux's panic() prints first (kernel/panic.c); the message follows on the same line. */
    static final String LINUX_PANIC = "Kernel panic - not syncing: ";

    /** Null for a console; the refusal for an output-only channel such as the VM log. */
    private final String noInput;

    /** A console: output kept and followed, input queued for the serial device. */
    VmConsoleImpl() {
        this(null);
    }

    /**
     * @param noInput null for a console, or why input is refused (an output-only channel)
     */
    VmConsoleImpl(String noInput) {
        this.noInput = noInput;
    }

    @Override
    public void write(int b) {
        synchronized (ring) {
            ring[(int) (total % HISTORY)] = (byte) b;
            total++;
        }
        watchLine(b & 0xFF);
        if (!followers.isEmpty()) {
            byte[] chunk = {(byte) b};
            for (Consumer<byte[]> f : followers) {
                try {
                    f.accept(chunk);
                } catch (RuntimeException e) {
                    followers.remove(f); // a broken follower must not stop the guest
                }
            }
        }
    }

    /** Keeps the current and the last line, and reports a Linux panic line once it is complete. */
    private void watchLine(int c) {
        String done = null;
        synchronized (line) {
            if (c == '\n') {
                done = line.toString();
                if (!done.isBlank()) {
                    lastLine = done.strip();
                }
                line.setLength(0);
            } else if (c != '\r' && line.length() < LINE_LIMIT) {
                line.append((char) c);
            }
        }
        Consumer<String> l = panicListener;
        if (done != null && l != null) {
            int at = done.indexOf(LINUX_PANIC);
            if (at >= 0) {
                l.accept(done.substring(at).strip());
            }
        }
    }

    /** @return the last non-blank complete line of output, stripped; empty if none */
    String lastLine() {
        synchronized (line) {
            return lastLine;
        }
    }

    /**
     * Sets who hears of a Linux panic line (called on the thread that writes the output).
     *
     * @param listener takes the line from {@code Kernel panic - not syncing:} on
     */
    void onPanic(Consumer<String> listener) {
        panicListener = listener;
    }

    @Override
    public int read() {
        synchronized (input) {
            Byte b = input.poll();
            return b == null ? -1 : b & 0xFF;
        }
    }

    @Override
    public void onInput(Runnable listener) {
        inputListener = listener;
    }

    @Override
    public void send(byte[] bytes) {
        if (noInput != null) {
            throw new org.polyvisor.vm.VmException(noInput);
        }
        synchronized (input) {
            if (input.size() + bytes.length > INPUT_LIMIT) {
                throw new org.polyvisor.vm.VmException("console input queue is full (the guest is not reading)");
            }
            for (byte b : bytes) {
                input.add(b);
            }
        }
        Runnable l = inputListener;
        if (l != null) {
            l.run();
        }
    }

    @Override
    public byte[] recentOutput() {
        synchronized (ring) {
            int n = (int) Math.min(total, HISTORY);
            byte[] out = new byte[n];
            long start = total - n;
            for (int i = 0; i < n; i++) {
                out[i] = ring[(int) ((start + i) % HISTORY)];
            }
            return out;
        }
    }

    @Override
    public long totalOutput() {
        synchronized (ring) {
            return total;
        }
    }

    @Override
    public AutoCloseable attach(Consumer<byte[]> listener) {
        followers.add(listener);
        return () -> followers.remove(listener);
    }
}
