package org.polyvisor.mmu;

import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.part.Part;

/** A memory-virtualisation technique (e.g. {@code shadow}, {@code slat}), registered as a service. */
@ConsumerType
public interface MmuStrategy extends Part {

    /**
     * Creates the MMU of one VM.
     *
     * @param context the VM's memory and vCPU count
     * @return a new MMU
     */
    Mmu create(MmuContext context);
}
