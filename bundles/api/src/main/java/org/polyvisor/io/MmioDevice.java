package org.polyvisor.io;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A device's memory-mapped I/O window. Offsets are relative to the window's base.
 * Called on the vCPU thread whose access hit the window.
 */
@ConsumerType
public interface MmioDevice {

    /**
     * Reads from the window.
     *
     * @param offset offset from the window base
     * @param size   1, 2, 4 or 8 bytes
     * @return the value in the low {@code size} bytes
     */
    long read(long offset, int size);

    /**
     * Writes to the window.
     *
     * @param offset offset from the window base
     * @param size   1, 2, 4 or 8 bytes
     * @param value  the value in the low {@code size} bytes
     */
    void write(long offset, int size, long value);
}
