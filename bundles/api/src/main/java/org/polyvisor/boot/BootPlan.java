package org.polyvisor.boot;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.polyvisor.cpu.CpuState;

/**
 * What a boot loader did: the state the boot vCPU starts in, what it placed where (for logs and
 * {@code vm:info}), and files a firmware-configuration device (fw_cfg) may offer the guest.
 *
 * <p>The core publishes the plan to the VM's devices as a per-VM service of this type, so a device
 * such as fw_cfg can pick up {@link #firmwareFiles()}.
 *
 * @param loader        the name of the loader that made it
 * @param start         the boot vCPU's starting state
 * @param placements    what was placed where, one line each, e.g. {@code kernel 0x00100000-0x0067ffff}
 * @param firmwareFiles fw_cfg file name to content, e.g. {@code etc/e820}; may be empty
 */
public record BootPlan(String loader, CpuState start, List<String> placements, Map<String, byte[]> firmwareFiles) {

    /** Validates the fields and copies the collections. */
    public BootPlan {
        Objects.requireNonNull(loader, "loader");
        Objects.requireNonNull(start, "start");
        placements = placements == null ? List.of() : List.copyOf(placements);
        firmwareFiles = firmwareFiles == null ? Map.of() : Map.copyOf(firmwareFiles);
    }
}
