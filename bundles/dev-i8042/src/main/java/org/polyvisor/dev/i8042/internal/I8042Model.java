package org.polyvisor.dev.i8042.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code i8042} device model: the PC's keyboard controller at ports 0x60/0x64 (keyboard on
 * IRQ 1, PS/2 mouse on IRQ 12) with system reset and the A20 gate, and the PS/2 "system control
 * port A" at 0x92 (fast A20, fast reset). No options.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + I8042Model.NAME)
public final class I8042Model implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "i8042";

    /** Creates the model; DS calls this. */
    public I8042Model() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "8042 keyboard controller (0x60/0x64, IRQ 1/12): self test, PS/2 keyboard and mouse, reset, A20; port 0x92";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        if (!context.options().isEmpty()) {
            throw new IllegalArgumentException(NAME + " '" + context.instanceName() + "': unknown option(s) "
                    + context.options().keySet() + " (it has none)");
        }
        return new I8042(context);
    }
}
