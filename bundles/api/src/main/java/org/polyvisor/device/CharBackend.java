package org.polyvisor.device;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The host side of a character device (a VM's console): bytes the guest sends out, and bytes a
 * user types in. Thread-safe.
 */
@ProviderType
public interface CharBackend {

    /**
     * Delivers a byte the guest transmitted.
     *
     * @param b the byte in the low 8 bits
     */
    void write(int b);

    /**
     * Takes the next byte typed by the user, if any. Never blocks.
     *
     * @return the byte 0..255, or -1 if none is waiting
     */
    int read();

    /**
     * Registers the listener told (on any thread) when input becomes available, so the device
     * can raise its receive interrupt. Replaces any earlier listener; {@code null} removes it.
     * The backend calls it without holding any lock that {@link #read()} takes, so the listener
     * may read at once.
     *
     * @param listener the listener
     */
    void onInput(Runnable listener);
}
