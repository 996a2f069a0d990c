package org.polyvisor.irq;

import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.part.SavedState;

/** One VM's interrupt controller(s). */
@ConsumerType
public interface IrqChip extends AutoCloseable {

    /**
     * Returns the number of input lines (GSIs) devices can use.
     *
     * @return the line count, e.g. 16 for a PIC pair
     */
    int lineCount();

    /**
     * Returns an input line.
     *
     * @param gsi the global system interrupt number (on a PC, ISA IRQ n is GSI n)
     * @return the line
     * @throws IllegalArgumentException if out of range
     */
    IrqLine line(int gsi);

    /**
     * Returns what a vCPU sees of this chip.
     *
     * @param vcpu the vCPU index
     * @return the vCPU's interrupt source
     */
    InterruptSource source(int vcpu);

    /** Puts the chip into its power-on state. */
    void reset();

    /**
     * Saves the chip's state.
     *
     * @return a versioned neutral value
     */
    SavedState saveState();

    /**
     * Restores a state saved by this or a compatible implementation.
     *
     * @param state the state
     * @throws IllegalArgumentException if the state's type or version is not accepted
     */
    void restoreState(SavedState state);

    /**
     * Returns counters for {@code vm:stats} (interrupts raised, delivered, spurious, ...).
     *
     * @return counter names to values
     */
    default Map<String, Long> stats() {
        return Map.of();
    }

    /** Unmaps the chip's registers and releases its resources. */
    @Override
    void close();
}
