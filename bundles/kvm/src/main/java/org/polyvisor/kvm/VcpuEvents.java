package org.polyvisor.kvm;

/**
 * Pending and in-delivery events ({@code struct kvm_vcpu_events}).
 *
 * @param exceptionInjected     an exception is being delivered (re-injected on entry)
 * @param exceptionNr           its vector
 * @param exceptionHasErrorCode whether it pushes an error code
 * @param exceptionPending      an exception is pending (only with KVM_CAP_EXCEPTION_PAYLOAD)
 * @param exceptionErrorCode    the error code
 * @param interruptInjected     an external interrupt is being delivered
 * @param interruptNr           its vector
 * @param interruptSoft         it is a software interrupt (INT n)
 * @param interruptShadow       {@link #SHADOW_MOV_SS} and/or {@link #SHADOW_STI}
 * @param nmiInjected           an NMI is being delivered
 * @param nmiPending            an NMI is pending
 * @param nmiMasked             NMIs are blocked
 * @param sipiVector            the vector of a received SIPI
 * @param flags                 which optional fields are valid ({@link #VALID_NMI_PENDING}, ...)
 * @param smi                   the four SMI bytes (smm, pending, smm_inside_nmi, latched_init), little endian
 * @param tripleFaultPending    a triple fault is pending (KVM_CAP_X86_TRIPLE_FAULT_EVENT)
 * @param exceptionHasPayload   the payload is valid
 * @param exceptionPayload      CR2 or DR6 payload of the exception
 */
public record VcpuEvents(boolean exceptionInjected, int exceptionNr, boolean exceptionHasErrorCode,
                         boolean exceptionPending, int exceptionErrorCode, boolean interruptInjected,
                         int interruptNr, boolean interruptSoft, int interruptShadow, boolean nmiInjected,
                         boolean nmiPending, boolean nmiMasked, int sipiVector, int flags, int smi,
                         boolean tripleFaultPending, boolean exceptionHasPayload, long exceptionPayload) {

    /** interrupt.shadow: blocking by MOV SS / POP SS. */
    public static final int SHADOW_MOV_SS = 0x1;
    /** interrupt.shadow: blocking by STI. */
    public static final int SHADOW_STI = 0x2;
    /** flags: nmi.pending is valid. */
    public static final int VALID_NMI_PENDING = 0x1;
    /** flags: sipi_vector is valid. */
    public static final int VALID_SIPI_VECTOR = 0x2;
    /** flags: interrupt.shadow is valid. */
    public static final int VALID_SHADOW = 0x4;
    /** flags: smi is valid. */
    public static final int VALID_SMM = 0x8;
    /** flags: the exception payload is valid. */
    public static final int VALID_PAYLOAD = 0x10;
    /** flags: triple_fault is valid. */
    public static final int VALID_TRIPLE_FAULT = 0x20;
}
