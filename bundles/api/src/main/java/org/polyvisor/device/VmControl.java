package org.polyvisor.device;

import org.osgi.annotation.versioning.ProviderType;

/** The machine-level controls a device may use (a debug-exit port, a reset line). */
@ProviderType
public interface VmControl {

    /**
     * Ends the VM as a power-off with an exit status (e.g. QEMU's isa-debug-exit gives
     * {@code (value << 1) | 1}). The vCPUs stop at their next instruction boundary.
     *
     * @param exitStatus the status reported by {@code vm:info}
     */
    void powerOff(int exitStatus);

    /** Resets the whole machine (as the i8042's pulse of the reset line does). */
    void reset();
}
