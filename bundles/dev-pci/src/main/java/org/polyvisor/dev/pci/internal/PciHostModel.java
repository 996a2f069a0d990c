package org.polyvisor.dev.pci.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code pci} device model: the PCI host bridge of a PC, configuration mechanism #1 at
 * 0xCF8/0xCFC, the host bridge function at 00:00.0 (an 82441FX as QEMU presents it, whose PAM
 * registers switch the legacy window 0xC0000-0xFFFFF between the firmware ROM and shadow RAM, as
 * SeaBIOS needs), and INTx routing of the functions that PCI device bundles attach (see
 * {@link org.polyvisor.pci.PciBuses}).
 *
 * <p>Options: {@code pirq} (the GSIs of PIRQA..PIRQD, colon-separated, default {@code 10:10:11:11}
 * as SeaBIOS programs the PIIX3 router; with an IOAPIC, e.g. {@code 16:17:18:19}; one number routes
 * all four to it). List it before the PCI devices in the VM's {@code devices}.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + PciHostModel.NAME)
public final class PciHostModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "pci";

    /** SeaBIOS's PIRQ routing for the PIIX3 (src/fw/pciinit.c, {@code pci_irqs}). */
    static final int[] DEFAULT_PIRQ = {10, 10, 11, 11};

    /** Creates the model; DS calls this. */
    public PciHostModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "PCI host bridge (config mechanism #1 at 0xcf8/0xcfc, INTx to GSIs 10/11 by default) for PCI device bundles";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        String who = NAME + " '" + context.instanceName() + "'";
        Map<String, String> options = context.options();
        for (String key : options.keySet()) {
            if (!key.equals("pirq")) {
                throw new IllegalArgumentException(who + ": unknown option '" + key + "' (known: pirq)");
            }
        }
        int[] pirq = parsePirq(who, options.get("pirq"));
        return new PciHostDevice(context, pirq);
    }

    static int[] parsePirq(String who, String text) {
        if (text == null) {
            return DEFAULT_PIRQ.clone();
        }
        String[] parts = text.split(":");
        if (parts.length != 1 && parts.length != 4) {
            throw new IllegalArgumentException(who + ": option pirq='" + text
                    + "' must be one GSI or four GSIs for PIRQA..D separated by ':' (e.g. 10:10:11:11)");
        }
        int[] out = new int[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[parts.length == 1 ? 0 : i].trim();
            try {
                out[i] = p.startsWith("0x") ? Integer.parseInt(p.substring(2), 16) : Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(who + ": option pirq='" + text + "': '" + p + "' is not a number", e);
            }
            if (out[i] < 0 || out[i] > 254) {
                throw new IllegalArgumentException(who + ": option pirq='" + text + "': GSI " + out[i]
                        + " out of range 0..254");
            }
        }
        return out;
    }
}
