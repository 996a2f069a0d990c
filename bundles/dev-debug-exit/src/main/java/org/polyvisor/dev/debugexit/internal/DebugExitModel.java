package org.polyvisor.dev.debugexit.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code debug-exit} device model: QEMU's {@code isa-debug-exit}, a port that ends the VM with
 * exit status {@code (value << 1) | 1} when written. Test kernels use it to report pass or fail.
 *
 * <p>Options: {@code port} (first port, default {@code 0xf4}; hex {@code 0x..} or decimal) and
 * {@code size} (number of ports decoded, default 4).
 *
 * <p>Why these defaults: QEMU's own defaults are {@code iobase=0x501}, {@code iosize=0x02}
 * (hw/misc/debugexit.c, {@code debug_exit_properties}), but kvm-unit-tests (x86/run,
 * {@code -device isa-debug-exit,iobase=0xf4,iosize=0x4}), QEMU's tests/tcg/x86_64 and most hobby
 * kernels use 0xf4 with 4 ports, so that is what a guest written for "QEMU's exit port" expects.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + DebugExitModel.NAME)
public final class DebugExitModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "debug-exit";

    /** Default first port: kvm-unit-tests' {@code iobase=0xf4}. */
    static final int DEFAULT_PORT = 0xF4;

    /** Default window: kvm-unit-tests' {@code iosize=0x4}, so a 32-bit OUT hits one device. */
    static final int DEFAULT_SIZE = 4;

    /** Creates the model; DS calls this. */
    public DebugExitModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "QEMU-compatible isa-debug-exit: writing v ends the VM with exit status (v << 1) | 1";
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
            if (!key.equals("port") && !key.equals("size")) {
                throw new IllegalArgumentException(who + ": unknown option '" + key + "' (known: port, size)");
            }
        }
        int port = parseNumber(who, "port", options.getOrDefault("port", Integer.toString(DEFAULT_PORT)));
        int size = parseNumber(who, "size", options.getOrDefault("size", Integer.toString(DEFAULT_SIZE)));
        if (size < 1 || size > 0x100) {
            throw new IllegalArgumentException(who + ": option size=" + size + " must be 1..256");
        }
        if (port < 0 || port + size > 0x1_0000) {
            throw new IllegalArgumentException(who + ": ports 0x" + Integer.toHexString(port) + "+" + size
                    + " leave the 64 KiB port space");
        }
        return new DebugExitDevice(context, port, size);
    }

    /** Parses {@code 0x..} hex or decimal, naming the option when it is neither. */
    static int parseNumber(String who, String option, String text) {
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
