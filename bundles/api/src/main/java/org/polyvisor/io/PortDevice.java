package org.polyvisor.io;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A device's port I/O window. Offsets are relative to the window's base, never absolute ports.
 * Called on the vCPU thread that executed the IN/OUT. The bus passes accesses through with the
 * guest's width; a device whose registers are byte-wide splits wider accesses itself (as the ISA
 * bus does), so each device decides what a 16- or 32-bit access to it means.
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
