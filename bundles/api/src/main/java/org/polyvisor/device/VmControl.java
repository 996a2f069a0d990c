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

    /**
     * Opens or closes the A20 gate (i8042 output port bit 1, port 0x92 bit 1). While closed,
     * address bit 20 of every physical access by the vCPUs is forced to 0 (8086 wrap-around).
     *
     * @param enabled true to let A20 through
     */
    default void setA20(boolean enabled) {
        // a platform that does not model the gate keeps A20 open
    }
}
