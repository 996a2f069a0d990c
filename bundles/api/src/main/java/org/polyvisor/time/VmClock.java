package org.polyvisor.time;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A VM's virtual time, in nanoseconds since the VM was first started, and its timer queue.
 *
 * <p>Virtual time does not advance while the VM is paused, so a guest never sees the pause.
 * Timers fire on a vCPU thread between instruction budgets (or wake a halted vCPU), never
 * concurrently with the guest's own accesses to the same device from that vCPU.
 */
@ProviderType
public interface VmClock {

    /**
     * Returns the clock's mode.
     *
     * @return realtime or deterministic
     */
    ClockMode mode();

    /**
     * Returns the current virtual time.
     *
     * @return nanoseconds of virtual time
     */
    long nanos();

    /**
     * Schedules a callback at a virtual time.
     *
     * @param deadlineNanos virtual time at which to run; in the past means as soon as possible
     * @param action        what to run (on a vCPU thread, outside the clock's own lock, so it may
     *                      schedule again)
     * @return a handle to cancel the timer
     */
    Timer schedule(long deadlineNanos, Runnable action);

    /** A scheduled timer. */
    @ProviderType
    interface Timer {
        /** Cancels the timer if it has not fired yet; idempotent. */
        void cancel();
    }
}
