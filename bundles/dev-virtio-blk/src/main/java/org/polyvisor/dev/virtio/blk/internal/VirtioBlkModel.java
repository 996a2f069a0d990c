package org.polyvisor.dev.virtio.blk.internal;

import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;
import org.polyvisor.pci.PciBuses;
import org.polyvisor.virtio.DeviceOptions;

/**
 * The {@code virtio-blk} device model: a virtio 1.x block device on the VM's PCI bus, backed by a
 * raw image file.
 *
 * <p>Options: {@code image} (required; absolute, or relative to {@code karaf.home}),
 * {@code readonly} ({@code on}/{@code off}, default off), {@code serial} (what VIRTIO_BLK_T_GET_ID
 * answers, at most 20 bytes, default the instance name), {@code slot} (PCI device number 1..31,
 * default the lowest free). Needs the {@code pci} device listed before it.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + VirtioBlkModel.NAME)
public final class VirtioBlkModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "virtio-blk";

    /** Creates the model; DS calls this. */
    public VirtioBlkModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "virtio 1.x block device over PCI on a raw image file (image=path, readonly=on|off)";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        DeviceOptions o = new DeviceOptions(NAME + " '" + context.instanceName() + "'", context.options(),
                Set.of("image", "readonly", "serial", "slot"));
        String image = o.string("image", null);
        if (image == null || image.isBlank()) {
            throw new IllegalArgumentException(o.who() + ": option image=<path of a raw disk image> is required");
        }
        boolean readOnly = o.flag("readonly", false);
        String serial = o.string("serial", context.instanceName());
        if (serial.length() > VirtioBlkDevice.ID_BYTES) {
            throw new IllegalArgumentException(o.who() + ": option serial='" + serial + "' is longer than "
                    + VirtioBlkDevice.ID_BYTES + " characters");
        }
        int slot = (int) o.number("slot", PciBuses.ANY_DEVICE, PciBuses.ANY_DEVICE, 31);
        DiskImage disk = DiskImage.open(o.who(), image, readOnly);
        try {
            return new VirtioBlkDevice(context, disk, serial, slot);
        } catch (RuntimeException e) {
            disk.close();
            throw e;
        }
    }
}
