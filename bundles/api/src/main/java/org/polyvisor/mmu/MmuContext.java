package org.polyvisor.mmu;

import org.osgi.annotation.versioning.ProviderType;
import org.polyvisor.memory.GuestMemory;

/** What the platform gives an MMU when it is created for a VM. */
@ProviderType
public interface MmuContext {

    /**
     * Returns the VM's name.
     *
     * @return the name
     */
    String vmName();

    /**
     * Returns the number of vCPUs.
     *
     * @return the count
     */
    int vcpuCount();

    /**
     * Returns guest memory (where the guest's page tables live).
     *
     * @return the memory
     */
    GuestMemory memory();
}
