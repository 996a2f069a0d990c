package org.polyvisor.vm;

/**
 * A VM operation was refused or failed; the message says what and why, ready to show a user
 * (e.g. {@code vm 'demo': cpu strategy 'vt-x' is not available: host CPU has no VMX}).
 */
public class VmException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong
     */
    public VmException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a cause.
     *
     * @param message what went wrong
     * @param cause   the underlying failure
     */
    public VmException(String message, Throwable cause) {
        super(message, cause);
    }
}
