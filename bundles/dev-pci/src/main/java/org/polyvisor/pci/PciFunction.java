package org.polyvisor.pci;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * One PCI function as the host bridge sees it: its 256-byte configuration space and its interrupt
 * pin. Implemented by PCI device bundles, called by the bridge on vCPU threads.
 *
 * <p>Accesses are naturally aligned and do not cross a dword (the bridge splits others). The bridge
 * answers offsets 0x3C-0x3F (Interrupt Line, Interrupt Pin, Min_Gnt, Max_Lat) itself, so a function
 * never sees them. Implementations must not call back into the bus ({@link PciSlot}) while the
 * caller waits for them to return from a configuration access other than through
 * {@link PciSlot#setInterrupt(boolean)}, which is always safe.
 */
@ConsumerType
public interface PciFunction {

    /**
     * Reads configuration space.
     *
     * @param offset 0..255, a multiple of {@code size}
     * @param size   1, 2 or 4
     * @return the value in the low {@code size} bytes
     */
    int configRead(int offset, int size);

    /**
     * Writes configuration space.
     *
     * @param offset 0..255, a multiple of {@code size}
     * @param size   1, 2 or 4
     * @param value  the value in the low {@code size} bytes
     */
    void configWrite(int offset, int size, int value);

    /**
     * Returns the interrupt pin the function uses (the Interrupt Pin register).
     *
     * @return 0 for none, 1 for INTA# .. 4 for INTD#
     */
    int interruptPin();
}
