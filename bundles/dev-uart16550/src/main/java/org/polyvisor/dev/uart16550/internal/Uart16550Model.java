package org.polyvisor.dev.uart16550.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code uart16550} device model: a National Semiconductor 16550A UART, the PC's COM port.
 *
 * <p>Options: {@code port} (first of 8 ports, default {@code 0x3f8} = COM1) and {@code irq}
 * (default 4), each as hex {@code 0x..} or decimal. COM2 is {@code port=0x2f8,irq=3}.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + Uart16550Model.NAME)
public final class Uart16550Model implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "uart16550";

    /** COM1's base port. */
    static final int DEFAULT_PORT = 0x3F8;

    /** COM1's ISA IRQ. */
    static final int DEFAULT_IRQ = 4;

    /** Creates the model; DS calls this. */
    public Uart16550Model() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "16550A UART with 16-byte FIFOs (COM1 at 0x3f8, IRQ 4 by default), connected to the VM console";
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
            if (!key.equals("port") && !key.equals("irq")) {
                throw new IllegalArgumentException(who + ": unknown option '" + key + "' (known: port, irq)");
            }
        }
        int port = parseNumber(who, "port", options.get("port"), DEFAULT_PORT);
        int irq = parseNumber(who, "irq", options.get("irq"), DEFAULT_IRQ);
        if (port < 0 || port + Registers.WINDOW > 0x1_0000) {
            throw new IllegalArgumentException(who + ": option port=0x" + Integer.toHexString(port)
                    + " must leave room for 8 ports below 0x10000");
        }
        if (irq < 0 || irq > 255) {
            throw new IllegalArgumentException(who + ": option irq=" + irq + " must be 0..255");
        }
        return new Uart16550Device(context, port, irq);
    }

    /** Parses {@code 0x..} hex or decimal, naming the option when it is neither. */
    static int parseNumber(String who, String option, String text, int def) {
        if (text == null) {
            return def;
        }
        String t = text.trim();
        try {
            if (t.startsWith("0x") || t.startsWith("0X")) {
                return Integer.parseInt(t.substring(2), 16);
            }
            return Integer.parseInt(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(who + ": option " + option + "='" + text
                    + "' is not a number (write 0x.. for hex or decimal)", e);
        }
    }
}
