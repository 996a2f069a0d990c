package org.polyvisor.kvm;

/**
 * A KVM call failed. The message says what was attempted and the kernel's answer, e.g.
 * {@code "KVM_CREATE_VCPU 0: File exists (errno 17)"}.
 */
public class KvmException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int errno;

    /**
     * Creates the exception.
     *
     * @param message what failed, with context and the kernel's reason
     * @param errno   the error number, or 0 when not from a system call
     */
    public KvmException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    /**
     * Returns the error number.
     *
     * @return errno, or 0
     */
    public int errno() {
        return errno;
    }
}
