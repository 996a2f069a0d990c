package org.polyvisor.io;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A window mapped on a bus. Closing it unmaps the window.
 */
@ProviderType
public interface Registration extends AutoCloseable {

    /**
     * Returns the first address (port number or guest-physical address) of the window.
     *
     * @return the base
     */
    long base();

    /**
     * Returns the window length.
     *
     * @return the length in ports or bytes
     */
    long length();

    /**
     * Returns who owns the window (a device name), for {@code vm:info} and errors.
     *
     * @return the owner
     */
    String owner();

    /** Unmaps the window; idempotent. */
    @Override
    void close();
}
