package org.polyvisor.irq;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One interrupt input of an interrupt controller, driven by a device. Thread-safe: devices may
 * drive lines from their own executors.
 */
@ProviderType
public interface IrqLine {

    /** Asserts the line (level high). An edge-triggered input latches the rising edge. */
    void raise();

    /** Deasserts the line. */
    void lower();

    /** Raises then lowers the line: one edge, for edge-triggered sources. */
    default void pulse() {
        raise();
        lower();
    }

    /**
     * Drives the line to a level.
     *
     * @param high true to raise, false to lower
     */
    default void set(boolean high) {
        if (high) {
            raise();
        } else {
            lower();
        }
    }
}
