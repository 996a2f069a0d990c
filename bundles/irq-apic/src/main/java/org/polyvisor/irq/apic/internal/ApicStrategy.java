package org.polyvisor.irq.apic.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.irq.IrqChipStrategy;
import org.polyvisor.part.Availability;

/**
 * The {@code apic} interrupt-controller strategy: IOAPIC + a local APIC per vCPU + the legacy
 * 8259A pair, with emulated delivery (every interrupt for a running vCPU is an exit, every APIC
 * register access is trapped), as a VMM without APIC virtualisation.
 */
@Component(service = IrqChipStrategy.class, property = "polyvisor.name=" + ApicStrategy.NAME)
public final class ApicStrategy implements IrqChipStrategy {

    /** The name users select in a VM's {@code irqchip} property. */
    static final String NAME = "apic";

    /** Creates the strategy; DS calls this. */
    public ApicStrategy() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "IOAPIC (24 pins) + local APIC per vCPU (xAPIC/x2APIC, timer, IPIs) + 8259A pair via ExtINT; emulated delivery";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public IrqChip create(IrqChipContext context) {
        return new ApicChip(context, ApicChip.Delivery.EMULATED);
    }
}
