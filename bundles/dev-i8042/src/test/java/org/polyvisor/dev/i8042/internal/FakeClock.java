package org.polyvisor.dev.i8042.internal;

import java.util.PriorityQueue;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/** A deterministic VM clock the test advances by hand; timers run on the advancing thread. */
final class FakeClock implements VmClock {

    private final class T implements Timer, Comparable<T> {
        final long deadline;
        final long seq;
        final Runnable action;
        boolean cancelled;

        T(long deadline, long seq, Runnable action) {
            this.deadline = deadline;
            this.seq = seq;
            this.action = action;
        }

        @Override
        public void cancel() {
            cancelled = true;
        }

        @Override
        public int compareTo(T o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    private final PriorityQueue<T> queue = new PriorityQueue<>();
    private long now;
    private long seq;

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
        T t = new T(deadlineNanos, seq++, action);
        queue.add(t);
        return t;
    }

    /** Advances time to {@code now + delta}, running each timer at its own deadline. */
    void advance(long delta) {
        long end;
        synchronized (this) {
            end = now + delta;
        }
        while (true) {
            T t;
            synchronized (this) {
                t = queue.peek();
                if (t == null || t.deadline > end) {
                    now = end;
                    return;
                }
                queue.poll();
                if (t.cancelled) {
                    continue;
                }
                now = Math.max(now, t.deadline);
            }
            t.action.run();
        }
    }

    synchronized int pending() {
        return (int) queue.stream().filter(t -> !t.cancelled).count();
    }
}
