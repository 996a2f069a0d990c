package org.polyvisor.cpu;

import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.part.Part;

/**
 * A way of executing guest instructions (interpreter, binary translation, KVM, ...), registered as
 * a service. A factory: each vCPU of each VM gets its own engine.
 */
@ConsumerType
public interface CpuStrategy extends Part {

    /**
     * Creates an engine for one vCPU. The engine starts in the power-on state
     * ({@link CpuState#powerOn(int)}); the platform imports the real starting state afterwards.
     *
     * @param context the vCPU's memory, buses, interrupts and clock
     * @return a new engine
     * @throws IllegalStateException if the host cannot run it after all (with the reason)
     */
    CpuEngine createEngine(VcpuContext context);

    /**
     * Tells whether this strategy can work with the rest of a VM's parts, e.g. a hardware engine
     * that cannot use a software MMU strategy. The platform refuses the VM with this reason.
     *
     * @param mmu the VM's MMU strategy name, empty for the engine's own translation
     * @return yes, or no with the reason
     */
    default org.polyvisor.part.Availability compatibleWith(String mmu) {
        return org.polyvisor.part.Availability.yes();
    }

    /**
     * Tells whether this strategy's engines can present a CPU model to the guest: the model must
     * exist and report only features the engine implements (and hide none it cannot hide). The
     * platform refuses a VM (at creation, start and swap) with this reason. By default only the
     * engine's own model (an empty description) is accepted.
     *
     * @param model a model description ({@link VcpuContext#cpuModel()}), empty for the default
     * @return yes, or no with the reason
     * @since 0.3
     */
    default org.polyvisor.part.Availability acceptsCpuModel(String model) {
        return model == null || model.isBlank() ? org.polyvisor.part.Availability.yes()
                : org.polyvisor.part.Availability.no("cpu strategy '" + name() + "' has no configurable CPU model");
    }
}
