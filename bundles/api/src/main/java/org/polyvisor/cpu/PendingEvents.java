package org.polyvisor.cpu;

/**
 * Events accepted by the CPU but not yet delivered (compare KVM's {@code kvm_vcpu_events}).
 *
 * @param exceptionVector  an exception to deliver before the next instruction, or -1
 * @param errorCode        its error code, meaningful when {@code hasErrorCode}
 * @param hasErrorCode     whether the exception pushes an error code
 * @param interruptVector  an external interrupt already acknowledged from the controller but not
 *                         yet delivered, or -1
 * @param nmiPending       an NMI is waiting
 * @param nmiBlocked       NMIs are blocked (an NMI handler is running, until IRET)
 */
public record PendingEvents(int exceptionVector, int errorCode, boolean hasErrorCode,
                            int interruptVector, boolean nmiPending, boolean nmiBlocked) {

    /** Nothing pending. */
    public static final PendingEvents NONE = new PendingEvents(-1, 0, false, -1, false, false);

    /**
     * Tells whether anything is pending.
     *
     * @return true if an exception, interrupt or NMI waits
     */
    public boolean any() {
        return exceptionVector >= 0 || interruptVector >= 0 || nmiPending;
    }
}
