package org.polyvisor.vm;

import java.util.Locale;

/** The life-cycle state of a VM. */
public enum VmState {
    /** Defined but never started, or reset to that by a stop. */
    DEFINED,
    /** vCPUs are executing (or halted waiting for interrupts). */
    RUNNING,
    /**
     * vCPUs are stopped at an instruction boundary with all state kept: by the user, or because a
     * part's provider went away (the status detail says which).
     */
    PAUSED,
    /** Ended: powered off by the guest or stopped by the user. Start boots it afresh. */
    STOPPED,
    /** Ended by a guest failure (triple fault, ...) or an engine failure; the detail says which. */
    CRASHED;

    /** @return the lower-case name shown by the shell */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
