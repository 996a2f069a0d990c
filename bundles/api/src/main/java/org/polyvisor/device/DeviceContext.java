package org.polyvisor.device;

import java.util.Map;
import java.util.Optional;
import java.util.function.IntConsumer;
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
     * Returns the number of vCPUs of the VM (CMOS, fw_cfg and firmware tables report it).
     *
     * @return the vCPU count
     */
    default int vcpuCount() {
        return 1;
    }

    /**
     * Returns the index of the vCPU whose thread is calling.
     *
     * @return the vCPU index, or -1 when not called from a vCPU thread
     */
    default int currentVcpu() {
        return -1;
    }

    /**
     * Finds a service another part of the same VM offers (for example a PCI bus the host bridge
     * provides, which PCI functions attach to). Parts are created in the order of the VM's device
     * list, and a part created later may provide a service, so a consumer may also look again
     * later.
     *
     * @param type the service type (an exported API type both parts import)
     * @param <T>  the type
     * @return the service, or empty
     */
    default <T> Optional<T> vmService(Class<T> type) {
        return Optional.empty();
    }

    /**
     * Offers a service to the other parts of this VM, until the registration is closed (at the
     * latest when this device is closed).
     *
     * @param type    the service type
     * @param service the implementation
     * @param <T>     the type
     * @return the registration
     * @throws IllegalStateException if another part of the VM already provides that type
     * @throws UnsupportedOperationException where the platform offers no per-VM services
     */
    default <T> AutoCloseable provideVmService(Class<T> type, T service) {
        throw new UnsupportedOperationException("this platform offers no per-VM services");
    }

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

    /**
     * Returns the VM's log: where a device carrying the guest's diagnostic output (a firmware
     * debug port such as QEMU's debugcon) writes it. The log is kept apart from the console (what
     * {@code Vm.log()} and {@code vm:console --log} show), so firmware that prints the same text
     * to both does not garble either. Write only; thread-safe.
     *
     * @return a sink taking one byte (the low 8 bits) per call; the default discards them
     */
    default IntConsumer log() {
        return b -> { };
    }
}
