package org.polyvisor.virtio;

/**
 * A guest broke the virtio protocol (a looping or out-of-range descriptor chain, a ring outside
 * RAM, ...). The device answers by setting DEVICE_NEEDS_RESET (virtio 1.1, 2.1.1) and stops using
 * its queues until the driver resets it. Not a host error.
 */
public final class VirtioException extends Exception {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what the guest did, with the addresses involved
     */
    public VirtioException(String message) {
        super(message);
    }
}
