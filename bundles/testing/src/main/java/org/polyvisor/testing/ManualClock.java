package org.polyvisor.testing;

import java.util.PriorityQueue;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/**
 * A deterministic VM clock that moves only when the test calls {@link #advance(long)}, which runs
 * each due timer at its own deadline, in deadline order (ties in scheduling order), on the calling
 * thread. Time starts at 0. Safe to schedule and cancel from other threads; a timer's action runs
 * without the clock's lock held, so it may schedule again.
 */
public final class ManualClock implements VmClock {

    private final class Entry implements Timer, Comparable<Entry> {
        final long deadline;
        final long seq;
        final Runnable action;
        volatile boolean cancelled;

        Entry(long deadline, long seq, Runnable action) {
            this.deadline = deadline;
            this.seq = seq;
            this.action = action;
        }

        @Override
        public void cancel() {
            cancelled = true;
        }

        @Override
        public int compareTo(Entry o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    private final PriorityQueue<Entry> queue = new PriorityQueue<>();
    private long now;
    private long seq;

    /** Always {@link ClockMode#DETERMINISTIC}: time is what the test says it is. */
    @Override
    public ClockMode mode() {
        return ClockMode.DETERMINISTIC;
    }

    @Override
    public synchronized long nanos() {
        return now;
    }

    @Override
    public synchronized Timer schedule(long deadlineNanos, Runnable action) {
        Entry e = new Entry(deadlineNanos, seq++, action);
        queue.add(e);
        return e;
    }

    /**
     * Moves time forward to {@code nanos() + delta}, running every timer due by then; while a timer
     * runs, {@link #nanos()} reads its deadline (or the current time if that was already past).
     *
     * @param delta nanoseconds to advance, not negative
     */
    public void advance(long delta) {
        if (delta < 0) {
            throw new IllegalArgumentException("time does not go back: " + delta);
        }
        long end;
        synchronized (this) {
            end = now + delta;
        }
        while (true) {
            Entry e;
            synchronized (this) {
                e = queue.peek();
                if (e == null || e.deadline > end) {
                    now = end;
                    return;
                }
                queue.poll();
                if (e.cancelled) {
                    continue;
                }
                now = Math.max(now, e.deadline);
            }
            e.action.run();
        }
    }

    /**
     * Counts the timers scheduled and neither run nor cancelled.
     *
     * @return pending timers
     */
    public synchronized int pending() {
        return (int) queue.stream().filter(e -> !e.cancelled).count();
    }
}
