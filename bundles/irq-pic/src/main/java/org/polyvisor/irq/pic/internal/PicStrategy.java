package org.polyvisor.irq.pic.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.irq.IrqChipStrategy;
import org.polyvisor.part.Availability;

/**
 * The {@code pic} interrupt-controller strategy: the PC/AT's cascaded pair of Intel 8259A PICs
 * (master 0x20/0x21, slave 0xa0/0xa1 on IR2, ELCR 0x4d0/0x4d1), delivering to vCPU 0.
 */
@Component(service = IrqChipStrategy.class, property = "polyvisor.name=" + PicStrategy.NAME)
public final class PicStrategy implements IrqChipStrategy {

    /** The name users select in a VM's {@code irqchip} property. */
    static final String NAME = "pic";

    /** Creates the strategy; DS calls this. */
    public PicStrategy() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "8259A PIC pair (IRQ 0-15, cascade on IRQ 2, ELCR), interrupts to vCPU 0";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public IrqChip create(IrqChipContext context) {
        return new I8259Pair(context);
    }
}
