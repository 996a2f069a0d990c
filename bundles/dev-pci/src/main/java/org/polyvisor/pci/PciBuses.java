package org.polyvisor.pci;

import org.polyvisor.dev.pci.internal.Segments;
import org.polyvisor.device.DeviceContext;

/**
 * Where a PCI device attaches its function: the {@link PciBus} of its VM, found through the
 * device context's per-VM services and created by whichever part comes first, the host bridge or a
 * function (see the package documentation).
 */
public final class PciBuses {

    /** Device number meaning "the lowest free one". */
    public static final int ANY_DEVICE = -1;

    private PciBuses() {
    }

    /**
     * Attaches a function to its VM's PCI bus.
     *
     * @param context  the device's context (names the VM, reaches its per-VM services)
     * @param owner    the device instance name, for listings and errors
     * @param function the function
     * @param device   the device number wanted (1..31), or {@link #ANY_DEVICE}
     * @return the slot
     * @throws IllegalArgumentException if the number is out of range or taken (naming the owner),
     *                                  or the bus is full
     * @throws IllegalStateException    if another bundle offers the VM's PCI bus service
     */
    public static PciSlot attach(DeviceContext context, String owner, PciFunction function, int device) {
        return Segments.attach(context, owner, function, device);
    }
}
