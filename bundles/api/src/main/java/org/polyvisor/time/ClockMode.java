package org.polyvisor.time;

/** How a VM's clock advances. */
public enum ClockMode {
    /** With the host's monotonic clock while the VM runs (stopped while it is paused). */
    REALTIME,
    /**
     * From retired instructions only (a fixed number of nanoseconds per instruction; halted time
     * skips to the next timer), so the same guest and input give the same run every time.
     */
    DETERMINISTIC
}
