package org.polyvisor.dev.virtio.net.internal;

import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;
import org.polyvisor.pci.PciBuses;
import org.polyvisor.virtio.DeviceOptions;

/**
 * The {@code virtio-net} device model: a virtio 1.x network card on the VM's PCI bus, plugged into
 * an in-process virtual switch shared by the VMs of this runtime.
 *
 * <p>Options: {@code switch} (the switch's name, default {@code default}; VMs on the same switch
 * exchange frames), {@code mac} (e.g. {@code 52:54:00:12:34:56}; default derived from the VM and
 * instance names in QEMU's locally administered 52:54:00 range), {@code slot} (PCI device number).
 * Needs the {@code pci} device listed before it.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + VirtioNetModel.NAME)
public final class VirtioNetModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "virtio-net";

    /** Creates the model; DS calls this. */
    public VirtioNetModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "virtio 1.x network card over PCI on an in-process switch linking this runtime's VMs (switch=name, mac=...)";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        DeviceOptions o = new DeviceOptions(NAME + " '" + context.instanceName() + "'", context.options(),
                Set.of("switch", "mac", "slot"));
        String sw = o.string("switch", "default");
        if (!sw.matches("[A-Za-z0-9._-]+")) {
            throw new IllegalArgumentException(o.who() + ": option switch='" + sw + "' must be letters, digits, '.', '_' or '-'");
        }
        String macText = o.string("mac", null);
        long mac = macText == null ? defaultMac(context.vmName(), context.instanceName()) : parseMac(o.who(), macText);
        int slot = (int) o.number("slot", PciBuses.ANY_DEVICE, PciBuses.ANY_DEVICE, 31);
        return new VirtioNetDevice(context, sw, mac, slot);
    }

    /** 52:54:00 plus 24 bits of a hash of the names: stable across restarts. */
    static long defaultMac(String vm, String instance) {
        int h = (vm + "/" + instance).hashCode();
        return 0x5254_0000_0000L | (h & 0xFF_FFFFL);
    }

    static long parseMac(String who, String text) {
        String[] parts = text.trim().split("[:-]");
        if (parts.length != 6) {
            throw new IllegalArgumentException(who + ": option mac='" + text + "' is not six hex bytes like 52:54:00:12:34:56");
        }
        long v = 0;
        for (String p : parts) {
            if (!p.matches("[0-9A-Fa-f]{1,2}")) {
                throw new IllegalArgumentException(who + ": option mac='" + text + "': '" + p + "' is not a hex byte");
            }
            v = v << 8 | Integer.parseInt(p, 16);
        }
        if ((v & 0x0100_0000_0000L) != 0) {
            throw new IllegalArgumentException(who + ": option mac='" + text + "' is a multicast address");
        }
        return v;
    }

    static String format(long mac) {
        StringBuilder sb = new StringBuilder();
        for (int i = 5; i >= 0; i--) {
            sb.append(String.format("%02x", (mac >>> (8 * i)) & 0xFF));
            if (i > 0) {
                sb.append(':');
            }
        }
        return sb.toString();
    }
}
