package org.polyvisor.io;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A device's port I/O window. Offsets are relative to the window's base, never absolute ports.
 * Called on the vCPU thread that executed the IN/OUT.
 */
@ConsumerType
public interface PortDevice {

    /**
     * Reads from the window.
     *
     * @param offset offset from the window base
     * @param size   1, 2 or 4 bytes
     * @return the value in the low {@code size} bytes
     */
    int read(int offset, int size);

    /**
     * Writes to the window.
     *
     * @param offset offset from the window base
     * @param size   1, 2 or 4 bytes
     * @param value  the value in the low {@code size} bytes
     */
    void write(int offset, int size, int value);
}
