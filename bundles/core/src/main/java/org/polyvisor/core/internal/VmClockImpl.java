package org.polyvisor.core.internal;

import java.util.PriorityQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/**
 * Virtual time of one VM. Realtime: host monotonic time while running, frozen while paused.
 * Deterministic: retired instructions times {@link #NANOS_PER_INSTRUCTION}, plus the time skipped
 * while every vCPU was halted waiting for a timer.
 */
final class VmClockImpl implements VmClock {

    /** Deterministic mode: virtual nanoseconds per retired instruction (a 1 GHz, 1-IPC machine). */
    static final long NANOS_PER_INSTRUCTION = 1;

    private final ClockMode mode;
    private final LongSupplier retired;
    private final PriorityQueue<TimerImpl> timers = new PriorityQueue<>();
    private final Runnable onEarlierTimer;
    private final Runnable onDue;

    /**
     * Host timer that makes a running vCPU leave its engine when a realtime timer falls due, so
     * a guest timer fires on time even while the vCPU runs a long budget (as a VMM's host timer
     * kicks a vCPU out of KVM_RUN). One daemon thread serves every VM.
     */
    private static final ScheduledExecutorService HOST_TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "polyvisor-timer");
        t.setDaemon(true);
        return t;
    });
    private ScheduledFuture<?> wakeup;
    private long armedFor = Long.MAX_VALUE;
    private long sequence;

    // realtime
    private long accumulated;
    private long runningSince = -1;
    // deterministic
    private long skipped;

    /**
     * Creates the clock.
     *
     * @param mode           realtime or deterministic
     * @param retired        total instructions retired by the VM's vCPUs (deterministic mode)
     * @param onEarlierTimer told when a timer is scheduled before the earliest one, so halted or
     *                       long-running vCPUs re-evaluate their deadline
     * @param onDue          told (on the host timer thread) when the earliest realtime timer is due,
     *                       to make a vCPU run it
     */
    VmClockImpl(ClockMode mode, LongSupplier retired, Runnable onEarlierTimer, Runnable onDue) {
        this.mode = mode;
        this.retired = retired;
        this.onEarlierTimer = onEarlierTimer;
        this.onDue = onDue;
    }

    /** Arms the host wake-up for the earliest timer (realtime mode, while running). */
    private void arm() {
        if (mode != ClockMode.REALTIME || runningSince < 0) {
            return;
        }
        long next = nextDeadline();
        if (next == armedFor) {
            return;
        }
        disarm();
        if (next == Long.MAX_VALUE) {
            return;
        }
        armedFor = next;
        long delay = Math.max(0, next - nanos());
        wakeup = HOST_TIMER.schedule(() -> {
            synchronized (this) {
                armedFor = Long.MAX_VALUE;
                wakeup = null;
            }
            onDue.run();
        }, delay, TimeUnit.NANOSECONDS);
    }

    private void disarm() {
        if (wakeup != null) {
            wakeup.cancel(false);
            wakeup = null;
        }
        armedFor = Long.MAX_VALUE;
    }

    @Override
    public ClockMode mode() {
        return mode;
    }

    @Override
    public synchronized long nanos() {
        if (mode == ClockMode.DETERMINISTIC) {
            return retired.getAsLong() * NANOS_PER_INSTRUCTION + skipped;
        }
        return runningSince < 0 ? accumulated : accumulated + (System.nanoTime() - runningSince);
    }

    /** Starts or resumes the passage of realtime virtual time. */
    synchronized void resume() {
        if (runningSince < 0) {
            runningSince = System.nanoTime();
        }
        arm();
    }

    /** Freezes realtime virtual time (pause). */
    synchronized void pause() {
        if (runningSince >= 0) {
            accumulated += System.nanoTime() - runningSince;
            runningSince = -1;
        }
        disarm();
    }

    @Override
    public Timer schedule(long deadlineNanos, Runnable action) {
        TimerImpl t;
        boolean earliest;
        synchronized (this) {
            t = new TimerImpl(deadlineNanos, sequence++, action);
            timers.add(t);
            earliest = timers.peek() == t;
            arm();
        }
        if (earliest) {
            onEarlierTimer.run();
        }
        return t;
    }

    /**
     * Returns the deadline of the earliest pending timer.
     *
     * @return virtual nanoseconds, or {@link Long#MAX_VALUE} if none
     */
    synchronized long nextDeadline() {
        while (!timers.isEmpty() && timers.peek().cancelled) {
            timers.poll();
        }
        return timers.isEmpty() ? Long.MAX_VALUE : timers.peek().deadline;
    }

    /**
     * Runs the timers that are due, outside the clock's lock (an action may schedule again).
     *
     * @return the number of timers run
     */
    int runDue() {
        int n = 0;
        while (true) {
            TimerImpl t;
            synchronized (this) {
                long now = nanos();
                t = timers.peek();
                if (t == null || (!t.cancelled && t.deadline > now)) {
                    arm();
                    return n;
                }
                timers.poll();
                if (t.cancelled) {
                    continue;
                }
                t.cancelled = true;
            }
            t.action.run();
            n++;
        }
    }

    /**
     * Deterministic mode: every vCPU is halted, so time jumps to the next timer.
     *
     * @return true if time advanced
     */
    synchronized boolean skipToNextTimer() {
        long next = nextDeadline();
        long now = nanos();
        if (mode != ClockMode.DETERMINISTIC || next == Long.MAX_VALUE || next <= now) {
            return false;
        }
        skipped += next - now;
        return true;
    }

    private final class TimerImpl implements Timer, Comparable<TimerImpl> {
        final long deadline;
        final long seq;
        final Runnable action;
        volatile boolean cancelled;

        TimerImpl(long deadline, long seq, Runnable action) {
            this.deadline = deadline;
            this.seq = seq;
            this.action = action;
        }

        @Override
        public void cancel() {
            synchronized (VmClockImpl.this) {
                cancelled = true;
            }
        }

        @Override
        public int compareTo(TimerImpl o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }
}
