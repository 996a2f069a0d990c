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

    /** {@link #takeStartupEvent()}: nothing pending. */
    int NO_STARTUP = -1;
    /** {@link #takeStartupEvent()}: an INIT signal (reset to the wait-for-SIPI state on an AP). */
    int INIT = -2;

    /**
     * Tells whether an INIT or a startup IPI (SIPI) waits for this vCPU. Cheap: engines check it
     * while halted or waiting for SIPI, and the platform wakes on it.
     *
     * @return true if {@link #takeStartupEvent()} would return something
     */
    default boolean hasStartupEvent() {
        return false;
    }

    /**
     * Takes the pending INIT or SIPI. On INIT the engine resets the vCPU as INIT does (an
     * application processor then waits for SIPI); on a SIPI while waiting for one, the vCPU starts
     * in real mode at {@code CS = vector << 8, IP = 0}.
     *
     * @return {@link #NO_STARTUP}, {@link #INIT}, or a SIPI vector 0..255
     */
    default int takeStartupEvent() {
        return NO_STARTUP;
    }

    /**
     * Tells whether the controller implements an MSR (e.g. IA32_APIC_BASE 0x1B, TSC_DEADLINE
     * 0x6E0, the x2APIC range 0x800-0x8FF); engines route RDMSR/WRMSR of such MSRs here.
     *
     * @param msr the MSR index
     * @return true if {@link #readMsr} and {@link #writeMsr} handle it
     */
    default boolean ownsMsr(int msr) {
        return false;
    }

    /**
     * Reads a controller MSR.
     *
     * @param msr the MSR index
     * @param tsc the vCPU's time-stamp counter now (for TSC-deadline timers)
     * @return the value, or empty when the read must raise #GP(0)
     */
    default java.util.OptionalLong readMsr(int msr, long tsc) {
        return java.util.OptionalLong.empty();
    }

    /**
     * Writes a controller MSR.
     *
     * @param msr   the MSR index
     * @param value the value
     * @param tsc   the vCPU's time-stamp counter now
     * @return false when the write must raise #GP(0)
     */
    default boolean writeMsr(int msr, long value, long tsc) {
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
