package org.polyvisor.irq;

import org.osgi.annotation.versioning.ProviderType;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.time.VmClock;

/** What the platform gives an interrupt chip when it is created for a VM. */
@ProviderType
public interface IrqChipContext {

    /**
     * Returns the VM's name, for logs and errors.
     *
     * @return the name
     */
    String vmName();

    /**
     * Returns the number of vCPUs.
     *
     * @return vCPU count
     */
    int vcpuCount();

    /**
     * Returns the VM's port bus, where the chip maps its registers (e.g. 0x20/0xA0 for the PIC).
     *
     * @return the port bus
     */
    PortBus ports();

    /**
     * Returns the VM's MMIO bus (e.g. for the IOAPIC and LAPIC windows).
     *
     * @return the MMIO bus
     */
    MmioBus mmio();

    /**
     * Returns the VM clock (for APIC timers).
     *
     * @return the clock
     */
    VmClock clock();

    /**
     * Returns the index of the vCPU whose thread is calling, so a register window shared by all
     * vCPUs (the local APIC page) knows whose registers are meant.
     *
     * @return the vCPU index, or -1 when not called from a vCPU thread
     */
    default int currentVcpu() {
        return -1;
    }

    /**
     * Wakes a halted vCPU without making a running one leave its engine (for engines that look at
     * {@link InterruptSource#hasInterrupt()} at every instruction boundary, this saves an exit; the
     * platform still forces an exit for engines that cannot look, such as hardware ones).
     *
     * @param vcpu the vCPU index
     */
    default void wake(int vcpu) {
        kick(vcpu);
    }

    /**
     * Wakes a vCPU because the chip now has something for it (it may be halted or inside a long
     * budget). Safe from any thread.
     *
     * @param vcpu the vCPU index
     */
    void kick(int vcpu);
}
