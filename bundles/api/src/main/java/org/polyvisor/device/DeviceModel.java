package org.polyvisor.device;

import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.part.Part;

/**
 * A kind of device (e.g. {@code uart16550}, {@code debug-exit}), registered as a service; makes
 * one {@link Device} per use in a VM.
 */
@ConsumerType
public interface DeviceModel extends Part {

    /**
     * Creates a device for one VM, maps its windows on the buses and takes its interrupt lines.
     *
     * @param context the VM's buses, lines, memory, clock and this device's options
     * @return the device
     * @throws IllegalArgumentException if an option is invalid (the message names it)
     */
    Device create(DeviceContext context);
}
