package org.polyvisor.irq;

import org.osgi.annotation.versioning.ProviderType;

/**
 * What one vCPU's engine sees of the interrupt controller: whether an external interrupt is
 * waiting, and the INTA cycle that takes its vector.
 *
 * <p>The engine checks {@link #hasInterrupt()} at instruction boundaries when RFLAGS.IF is set and
 * no interrupt shadow is in effect; then calls {@link #acknowledge()} and delivers the vector.
 */
@ProviderType
public interface InterruptSource {

    /**
     * Tells whether a maskable external interrupt is pending for this vCPU. Cheap: called often.
     *
     * @return true if one is pending
     */
    boolean hasInterrupt();

    /**
     * Acknowledges the highest-priority pending interrupt (the INTA cycle) and returns its vector.
     *
     * @return the vector 0..255 (a controller may answer its spurious vector, as an 8259A gives
     *         IRQ 7/15 when the request went away), or -1 if it has nothing at all
     */
    int acknowledge();

    /**
     * Tells whether a non-maskable interrupt is pending and takes it.
     *
     * @return true if an NMI was pending (it is now consumed)
     */
    default boolean takeNmi() {
        return false;
    }

    /** An interrupt source that never has anything pending (a VM without an interrupt chip). */
    InterruptSource NONE = new InterruptSource() {
        @Override
        public boolean hasInterrupt() {
            return false;
        }

        @Override
        public int acknowledge() {
            return -1;
        }
    };
}
