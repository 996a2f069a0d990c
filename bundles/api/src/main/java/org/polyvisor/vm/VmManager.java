package org.polyvisor.vm;

import java.util.List;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/** Defines, finds and destroys VMs, and lists the parts they can be built from. */
@ProviderType
public interface VmManager {

    /** @return all defined VMs, sorted by name */
    List<Vm> list();

    /**
     * Finds a VM.
     *
     * @param name the VM name
     * @return the VM, or empty
     */
    Optional<Vm> get(String name);

    /**
     * Defines a VM and persists its configuration (Config Admin), so it survives a restart.
     * The configuration is validated first, against the parts registered now; nothing is kept
     * when it is refused.
     *
     * @param config the definition
     * @return the new VM (started if {@code autostart})
     * @throws VmException naming the problem (duplicate name, unknown part, invalid value,
     *                     missing or oversized image)
     */
    Vm define(VmConfig config);

    /**
     * Stops a VM if needed and removes its definition.
     *
     * @param name the VM name
     * @throws VmException if there is no such VM
     */
    void destroy(String name);

    /** @return every registered part provider with its availability, by kind then name */
    List<PartInfo> parts();
}
