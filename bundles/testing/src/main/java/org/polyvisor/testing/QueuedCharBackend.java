package org.polyvisor.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import org.polyvisor.device.CharBackend;

/**
 * A console backend: bytes the test types wait in a queue until the device reads them (and the
 * device's input listener is told, as a console does), bytes the device writes are collected.
 */
public final class QueuedCharBackend implements CharBackend {

    private final ArrayDeque<Integer> typed = new ArrayDeque<>();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private Runnable listener;

    /**
     * Queues the characters of a string (ISO-8859-1) as input and notifies the listener, if any,
     * outside the backend's lock.
     *
     * @param text what the user types
     */
    public void type(String text) {
        Runnable l;
        synchronized (this) {
            for (char c : text.toCharArray()) {
                typed.add(c & 0xFF);
            }
            l = listener;
        }
        if (l != null) {
            l.run();
        }
    }

    /**
     * Returns everything the device wrote so far, as ISO-8859-1.
     *
     * @return the output
     */
    public synchronized String output() {
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    /**
     * Counts the typed bytes the device has not read yet.
     *
     * @return queued input bytes
     */
    public synchronized int pendingInput() {
        return typed.size();
    }

    /**
     * Returns the registered input listener.
     *
     * @return the listener, or null when none (or after the device unregistered with null)
     */
    public synchronized Runnable listener() {
        return listener;
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
