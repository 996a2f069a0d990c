package org.polyvisor.boot;

/**
 * A kernel, initial RAM disk or module cannot be loaded: a malformed or truncated image, an
 * unsupported protocol version, or images that do not fit in the VM's memory. The message names
 * the image and says what is wrong, for users.
 */
public class BootException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what is wrong, naming the image
     */
    public BootException(String message) {
        super(message);
    }
}
