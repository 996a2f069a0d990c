package org.polyvisor.dev.pit8254.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code pit8254} device model: the PC's Intel 8254 interval timer at ports 0x40-0x43 (channel
 * 0 on IRQ 0, channel 2 gated by and readable through port 0x61 with the speaker bits). No options.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + Pit8254Model.NAME)
public final class Pit8254Model implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "pit8254";

    /** Creates the model; DS calls this. */
    public Pit8254Model() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Intel 8254 PIT (ports 0x40-0x43, IRQ 0), channel 2 gate and speaker at port 0x61";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        if (!context.options().isEmpty()) {
            throw new IllegalArgumentException(NAME + " '" + context.instanceName() + "': unknown option(s) "
                    + context.options().keySet() + " (it has none: ports 0x40-0x43 and 0x61, IRQ 0)");
        }
        return new Pit8254(context);
    }
}
