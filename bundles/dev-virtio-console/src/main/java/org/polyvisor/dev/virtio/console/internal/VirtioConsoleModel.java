package org.polyvisor.dev.virtio.console.internal;

import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;
import org.polyvisor.pci.PciBuses;
import org.polyvisor.virtio.DeviceOptions;

/**
 * The {@code virtio-console} device model: a virtio 1.x console (Linux {@code hvc0}) on the VM's PCI
 * bus, connected to the VM console when it is the console's owner ({@code console=on}, or no device
 * before it claimed the console); otherwise its output is counted and dropped.
 *
 * <p>Options: {@code slot} (PCI device number), and the core's {@code console=on}.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + VirtioConsoleModel.NAME)
public final class VirtioConsoleModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "virtio-console";

    /** Creates the model; DS calls this. */
    public VirtioConsoleModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "virtio 1.x console over PCI (hvc0), connected to the VM console";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        DeviceOptions o = new DeviceOptions(NAME + " '" + context.instanceName() + "'", context.options(), Set.of("slot"));
        int slot = (int) o.number("slot", PciBuses.ANY_DEVICE, PciBuses.ANY_DEVICE, 31);
        return new VirtioConsoleDevice(context, slot);
    }
}
