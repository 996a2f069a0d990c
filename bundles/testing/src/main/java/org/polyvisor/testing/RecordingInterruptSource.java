package org.polyvisor.testing;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.polyvisor.irq.InterruptSource;

/**
 * An interrupt source for CPU-side tests: the test queues vectors, NMIs and startup events, the
 * engine takes them, and every acknowledged vector is recorded.
 */
public final class RecordingInterruptSource implements InterruptSource {

    private final ArrayDeque<Integer> vectors = new ArrayDeque<>();
    private final ArrayDeque<Integer> startups = new ArrayDeque<>();
    private final List<Integer> acknowledged = new ArrayList<>();
    private int nmis;

    /**
     * Queues a maskable interrupt.
     *
     * @param vector 0-255
     */
    public synchronized void request(int vector) {
        if (vector < 0 || vector > 0xFF) {
            throw new IllegalArgumentException("vector out of range: " + vector);
        }
        vectors.add(vector);
    }

    /** Queues a non-maskable interrupt. */
    public synchronized void requestNmi() {
        nmis++;
    }

    /**
     * Queues a startup event: a SIPI vector, or {@link #INIT}.
     *
     * @param event the event
     */
    public synchronized void requestStartup(int event) {
        startups.add(event);
    }

    @Override
    public synchronized boolean hasInterrupt() {
        return !vectors.isEmpty();
    }

    /** Takes the oldest queued vector; -1 (spurious) when none is queued. */
    @Override
    public synchronized int acknowledge() {
        Integer v = vectors.poll();
        if (v == null) {
            return -1;
        }
        acknowledged.add(v);
        return v;
    }

    @Override
    public synchronized boolean takeNmi() {
        if (nmis == 0) {
            return false;
        }
        nmis--;
        return true;
    }

    @Override
    public synchronized boolean hasStartupEvent() {
        return !startups.isEmpty();
    }

    @Override
    public synchronized int takeStartupEvent() {
        Integer e = startups.poll();
        return e == null ? NO_STARTUP : e;
    }

    /**
     * Returns the vectors acknowledged so far, in order.
     *
     * @return a copy
     */
    public synchronized List<Integer> acknowledged() {
        return List.copyOf(acknowledged);
    }
}
