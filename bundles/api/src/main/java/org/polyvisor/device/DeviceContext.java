package org.polyvisor.device;

import java.util.Map;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.time.VmClock;

/** What the platform gives a device when it is created for a VM. */
@ProviderType
public interface DeviceContext {

    /**
     * Returns the VM's name.
     *
     * @return the name
     */
    String vmName();

    /**
     * Returns this device's instance name (unique in the VM), e.g. {@code com1}.
     *
     * @return the name
     */
    String instanceName();

    /**
     * Returns this device's options from the VM configuration, e.g. {@code port=0x2f8, irq=3}
     * for {@code uart16550(port=0x2f8,irq=3)}.
     *
     * @return option names to raw values
     */
    Map<String, String> options();

    /**
     * Returns the VM's port bus.
     *
     * @return the port bus
     */
    PortBus ports();

    /**
     * Returns the VM's MMIO bus.
     *
     * @return the MMIO bus
     */
    MmioBus mmio();

    /**
     * Returns an interrupt line of the VM's interrupt controller.
     *
     * @param gsi the line number
     * @return the line; a VM without an interrupt controller gives a line that goes nowhere
     */
    IrqLine irq(int gsi);

    /**
     * Returns guest memory for DMA.
     *
     * @return the guest memory
     */
    GuestMemory memory();

    /**
     * Returns the VM clock.
     *
     * @return the clock
     */
    VmClock clock();

    /**
     * Returns the VM's machine controls.
     *
     * @return power off and reset
     */
    VmControl control();

    /**
     * Returns the VM's console backend if this device is the console (the first serial port by
     * default), so the guest's output reaches {@code vm:console}.
     *
     * @return the backend, or empty if another device owns the console
     */
    Optional<CharBackend> console();
}
