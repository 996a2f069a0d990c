package org.polyvisor.cpu;

/** What a vCPU is doing between instructions (SDM Vol. 3C, 24.4.2 "activity state"). */
public enum ActivityState {
    /** Executing instructions. */
    ACTIVE,
    /** Stopped by HLT until an unmasked interrupt, NMI or reset. */
    HALTED,
    /** Stopped after a triple fault until reset. */
    SHUTDOWN,
    /** An application processor waiting for a startup IPI. */
    WAIT_FOR_SIPI
}
