package org.polyvisor.pci;

import org.polyvisor.dev.pci.internal.Segments;

/**
 * The PCI buses of the VMs of this runtime, by VM name: where a PCI device attaches its function.
 * See the package documentation for why this is a registry and how it behaves with bundles
 * starting in any order.
 */
public final class PciBuses {

    /** Device number meaning "the lowest free one". */
    public static final int ANY_DEVICE = -1;

    private PciBuses() {
    }

    /**
     * Attaches a function to a VM's PCI bus.
     *
     * @param vmName   the VM, as {@code DeviceContext.vmName()} gives it
     * @param owner    the device instance name, for listings and errors
     * @param function the function
     * @param device   the device number wanted (1..31), or {@link #ANY_DEVICE}
     * @return the slot
     * @throws IllegalArgumentException if the number is out of range or taken (naming the owner),
     *                                  or the bus is full
     */
    public static PciSlot attach(String vmName, String owner, PciFunction function, int device) {
        return Segments.attach(vmName, owner, function, device);
    }
}
