package org.polyvisor.irq;

import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.part.Part;

/** A kind of interrupt controller (e.g. {@code pic}, {@code apic}), registered as a service. */
@ConsumerType
public interface IrqChipStrategy extends Part {

    /**
     * Creates a chip for one VM and maps its registers on the VM's buses.
     *
     * @param context the VM's buses, clock and vCPU wake-up
     * @return a new chip
     */
    IrqChip create(IrqChipContext context);
}
