package org.example.polyvisor.counter;

import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code example-counter} device model, version 1: a tick counter on four I/O ports, written by
 * a third party against the Polyvisor API only. It counts one tick per 10 ms of VM time; a 32-bit IN
 * from its first port reads the count, an OUT stores a scratch value.
 *
 * <p>Options: {@code port} (first port, default {@code 0xe00}).
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + CounterModel.NAME)
public final class CounterModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    public static final String NAME = "example-counter";

    /** Default first port. */
    static final int DEFAULT_PORT = 0xE00;

    /** Creates the model; DS calls this. */
    public CounterModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Example third-party device (v1): ticks every 10 ms of VM time, readable on port 0xe00";
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
            if (!key.equals("port")) {
                throw new IllegalArgumentException(who + ": unknown option '" + key + "' (known: port)");
            }
        }
        int port = DEFAULT_PORT;
        String p = options.get("port");
        if (p != null) {
            try {
                port = p.startsWith("0x") ? Integer.parseInt(p.substring(2), 16) : Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(who + ": option port='" + p + "' is not a number", e);
            }
            if (port < 0 || port > 0xFFFC) {
                throw new IllegalArgumentException(who + ": option port=" + p + " must leave room for 4 ports");
            }
        }
        return new CounterDevice(context, port);
    }
}
