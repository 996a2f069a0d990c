package org.polyvisor.pci;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A function's place on a VM's PCI bus, returned by {@link PciBuses#attach}. Closing it detaches
 * the function (its INTx level is dropped). Thread-safe.
 */
@ProviderType
public interface PciSlot extends AutoCloseable {

    /**
     * Returns the bus number (always 0: one root bus).
     *
     * @return the bus
     */
    int bus();

    /**
     * Returns the device number on the bus.
     *
     * @return 1..31 (0 is the host bridge)
     */
    int device();

    /**
     * Returns the function number.
     *
     * @return always 0 (single-function devices)
     */
    int function();

    /**
     * Returns the address as {@code lspci} prints it.
     *
     * @return e.g. {@code 00:03.0}
     */
    default String address() {
        return String.format("%02x:%02x.%x", bus(), device(), function());
    }

    /**
     * Drives the function's INTx# level (PCI interrupts are level-triggered and shared; the bridge
     * ORs the levels of all functions routed to the same GSI). The function applies the Interrupt
     * Disable bit of its command register itself before calling this.
     *
     * @param asserted true while the function requests service
     */
    void setInterrupt(boolean asserted);

    /** Detaches the function; idempotent. */
    @Override
    void close();
}
