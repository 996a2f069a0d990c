package org.polyvisor.dev.debugcon.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code debugcon} device model: QEMU's {@code isa-debugcon}, a write-only port whose bytes go
 * to the VM log ({@code vm:console --log}), apart from COM1. Firmware writes its diagnostics there: SeaBIOS
 * built for QEMU logs its whole POST to it.
 *
 * <p>Options: {@code port} (default {@code 0x402}; hex {@code 0x..} or decimal) and
 * {@code readback} (the byte a read returns, default {@code 0xe9}).
 *
 * <p>Why 0x402: QEMU's own default is 0xe9 (Bochs' "port e9 hack"), but SeaBIOS's
 * {@code CONFIG_DEBUG_IO} port, as in Debian's bios.bin, is 0x402 and is what
 * {@code -debugcon ... -global isa-debugcon.iobase=0x402} gives; 0xe9 is one option away.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + DebugConsoleModel.NAME)
public final class DebugConsoleModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "debugcon";

    /** Default port: SeaBIOS's CONFIG_DEBUG_IO port. */
    static final int DEFAULT_PORT = 0x402;

    /** Default readback: QEMU's {@code readback} property (QEMU_DEBUGCON_READBACK in SeaBIOS). */
    static final int DEFAULT_READBACK = 0xE9;

    /** Creates the model; DS calls this. */
    public DebugConsoleModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "QEMU-compatible isa-debugcon (port 0x402 by default): bytes written go to the VM log";
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
            if (!key.equals("port") && !key.equals("readback")) {
                throw new IllegalArgumentException(who + ": unknown option '" + key + "' (known: port, readback)");
            }
        }
        int port = parseNumber(who, "port", options.getOrDefault("port", Integer.toString(DEFAULT_PORT)));
        int readback = parseNumber(who, "readback", options.getOrDefault("readback", Integer.toString(DEFAULT_READBACK)));
        if (port < 0 || port > 0xFFFF) {
            throw new IllegalArgumentException(who + ": option port=0x" + Integer.toHexString(port)
                    + " is outside the 64 KiB port space");
        }
        if (readback < 0 || readback > 0xFF) {
            throw new IllegalArgumentException(who + ": option readback=" + readback + " must be a byte (0..255)");
        }
        return new DebugConsoleDevice(context, port, readback);
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
