package org.polyvisor.pci;

import org.osgi.annotation.versioning.ProviderType;
import org.polyvisor.device.DeviceContext;

/**
 * A VM's PCI bus 0, offered to the VM's parts as a per-VM service
 * ({@code DeviceContext.vmService(PciBus.class)}). Devices normally go through
 * {@link PciBuses#attach}, which finds the bus or creates it.
 */
@ProviderType
public interface PciBus {

    /**
     * Attaches a function.
     *
     * @param context  the attaching device's context (the bus lives as long as one of its users)
     * @param owner    the device instance name, for listings and errors
     * @param function the function
     * @param device   the device number wanted (1..31), or {@link PciBuses#ANY_DEVICE}
     * @return the slot; closing it detaches the function
     * @throws IllegalArgumentException if the number is out of range or taken (naming the owner),
     *                                  or the bus is full
     */
    PciSlot attach(DeviceContext context, String owner, PciFunction function, int device);
}
