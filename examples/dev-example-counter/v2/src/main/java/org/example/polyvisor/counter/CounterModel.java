package org.example.polyvisor.counter;

import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code example-counter} device model, version 2: as version 1, plus a {@code step} (ticks
 * added per period), and it takes over the state of a running version 1 when the bundle is updated.
 *
 * <p>Options: {@code port} (first port, default {@code 0xe00}), {@code step} (default 1).
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
        return "Example third-party device (v2): ticks every 10 ms of VM time by step, readable on port 0xe00";
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
            if (!key.equals("port") && !key.equals("step")) {
                throw new IllegalArgumentException(who + ": unknown option '" + key + "' (known: port, step)");
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
        int step = 1;
        String st = options.get("step");
        if (st != null) {
            try {
                step = Integer.parseInt(st);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(who + ": option step='" + st + "' is not a number", e);
            }
            if (step < 1 || step > 1000) {
                throw new IllegalArgumentException(who + ": option step=" + st + " must be 1..1000");
            }
        }
        return new CounterDevice(context, port, step);
    }
}
