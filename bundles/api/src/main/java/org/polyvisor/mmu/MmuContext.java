package org.polyvisor.mmu;

import java.util.Map;
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

    /**
     * Returns this strategy's options from the VM's configuration: the {@code mmu.<strategy>.*}
     * properties with the prefix removed (e.g. {@code max-pages} for {@code mmu.shadow.max-pages}).
     * A strategy validates them and fails creation with a message naming a bad one.
     *
     * @return option names to values; empty when none are set
     */
    default Map<String, String> options() {
        return Map.of();
    }
}
