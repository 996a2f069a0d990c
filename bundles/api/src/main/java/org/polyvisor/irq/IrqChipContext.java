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
     * Wakes a vCPU because the chip now has something for it (it may be halted or inside a long
     * budget). Safe from any thread.
     *
     * @param vcpu the vCPU index
     */
    void kick(int vcpu);
}
