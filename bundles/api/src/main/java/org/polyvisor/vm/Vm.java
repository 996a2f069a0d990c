package org.polyvisor.vm;

import java.time.Duration;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.part.PartKind;

/**
 * One virtual machine. Operations that change state return once the change is done (vCPUs
 * stopped at an instruction boundary, for example) or throw {@link VmException} saying why not.
 */
@ProviderType
public interface Vm {

    /** @return the VM's name */
    String name();

    /** @return the current configuration */
    VmConfig config();

    /** @return the state with its explanation */
    VmStatus status();

    /**
     * Assembles the VM from its parts and starts it from power-on. Allowed when defined, stopped
     * or crashed.
     *
     * @throws VmException if a part is missing or unavailable, or an image is unusable
     */
    void start();

    /**
     * Pauses all vCPUs at an instruction boundary.
     *
     * @throws VmException if not running
     */
    void pause();

    /**
     * Resumes a paused VM.
     *
     * @throws VmException if not paused, or paused waiting for a provider that is still missing
     */
    void resume();

    /** Stops the VM (a power-off without the guest's consent); releases its parts. */
    void stop();

    /**
     * Replaces one part while the guest runs: pauses, exports the part's state, builds the new
     * part, imports the state and resumes, so the guest does not notice.
     *
     * @param kind     which part
     * @param strategy the new strategy's name
     * @throws VmException if the strategy is unknown, unavailable or incompatible (the VM keeps
     *                     running with the old part)
     */
    void swap(PartKind kind, String strategy);

    /** @return the statistics now */
    VmStats stats();

    /** @return the console */
    VmConsole console();

    /**
     * Returns the dirty-page log of the VM's MMU strategy, while the VM is assembled and its MMU
     * keeps one (the {@code slat} nested table does: pages are mapped read-only until their first
     * write). A swap to another MMU ends logging; the new MMU starts with logging off.
     *
     * @return the log, or empty
     */
    default java.util.Optional<org.polyvisor.mmu.DirtyPageLog> dirtyLog() {
        return java.util.Optional.empty();
    }

    /**
     * Returns the VM's log: the guest's diagnostic output that devices carry apart from the
     * console, such as firmware writing to a debug port (SeaBIOS to debugcon). It takes no input:
     * {@link VmConsole#send} throws {@link VmException}. Like the console it outlives restarts.
     *
     * @return the log
     */
    VmConsole log();

    /** @return the devices of the assembled VM (empty when not assembled) */
    List<DeviceInfo> devices();

    /**
     * Returns a vCPU's architectural state; the VM must be paused, stopped or crashed (the state
     * at its end) so that the value is consistent.
     *
     * @param vcpu the vCPU index
     * @return the state
     * @throws VmException if running or never started
     */
    CpuState cpuState(int vcpu);

    /**
     * Waits until the VM reaches one of the given states.
     *
     * @param timeout how long to wait
     * @param states  the accepted states
     * @return the status at the end of the wait (check its state: the wait may have timed out)
     * @throws InterruptedException if interrupted
     */
    VmStatus awaitState(Duration timeout, VmState... states) throws InterruptedException;
}
