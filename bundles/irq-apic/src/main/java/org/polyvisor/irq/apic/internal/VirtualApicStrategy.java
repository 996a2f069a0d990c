package org.polyvisor.irq.apic.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.irq.IrqChipStrategy;
import org.polyvisor.part.Availability;

/**
 * The {@code apic-v} interrupt-controller strategy: the same controllers and state as
 * {@code apic}, with virtual interrupt delivery in the manner of Intel APICv / AMD AVIC: edge
 * interrupts are posted and taken at the target's next instruction boundary without an exit when
 * it is running; EOI of edge vectors, TPR and register reads do not exit. A VM switches between
 * {@code apic} and {@code apic-v} with a swap, without losing or repeating an interrupt.
 */
@Component(service = IrqChipStrategy.class, property = "polyvisor.name=" + VirtualApicStrategy.NAME)
public final class VirtualApicStrategy implements IrqChipStrategy {

    /** The name users select in a VM's {@code irqchip} property. */
    static final String NAME = "apic-v";

    /** Creates the strategy; DS calls this. */
    public VirtualApicStrategy() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "as apic, with virtual interrupt delivery (posted interrupts, EOI/TPR without exits; APICv/AVIC-style)";
    }

    @Override
    public Availability availability() {
        return Availability.yes("software model; hardware APICv/AVIC needs the KVM strategies");
    }

    @Override
    public IrqChip create(IrqChipContext context) {
        return new ApicChip(context, ApicChip.Delivery.VIRTUAL);
    }
}
