package org.polyvisor.cpu;

import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.time.VmClock;

/** What the platform gives an engine: the vCPU's view of its VM. */
@ProviderType
public interface VcpuContext {

    /**
     * Returns the VM's name.
     *
     * @return the name
     */
    String vmName();

    /**
     * Returns this vCPU's index (0 is the bootstrap processor).
     *
     * @return the index
     */
    int vcpuId();

    /**
     * Returns guest memory.
     *
     * @return the memory
     */
    GuestMemory memory();

    /**
     * Returns the port bus; engines call it for IN/OUT/INS/OUTS.
     *
     * @return the port bus
     */
    PortBus ports();

    /**
     * Returns the MMIO bus; engines call it for accesses outside guest memory.
     *
     * @return the MMIO bus
     */
    MmioBus mmio();

    /**
     * Returns this vCPU's interrupt source.
     *
     * @return the source ({@link InterruptSource#NONE} without an interrupt chip)
     */
    InterruptSource interrupts();

    /**
     * Returns the VM clock (RDTSC follows it).
     *
     * @return the clock
     */
    VmClock clock();

    /**
     * Returns the mask engines apply to every guest-physical address: all ones, or all ones but
     * bit 20 while the A20 gate is closed. Engines read it at the start of every
     * {@link CpuEngine#run(long)} (dropping cached translations when it changed); the platform
     * makes running engines exit when the gate changes.
     *
     * @return the physical address mask
     */
    default long a20Mask() {
        return -1L;
    }

    /**
     * Returns the CPU model the VM's configuration names (CPUID and MSRs): a built-in model name
     * with optional overrides, in the syntax of {@link org.polyvisor.vm.VmConfig#cpuModel()}, or
     * empty for the engine's default model. The platform has asked the strategy
     * ({@link CpuStrategy#acceptsCpuModel}) before creating the engine.
     *
     * @return the model description, empty by default
     * @since 0.3
     */
    default String cpuModel() {
        return "";
    }

    /**
     * Returns the VM's MMU strategy instance, if the VM names one; otherwise the engine translates
     * with its own page walk.
     *
     * @return the MMU, or empty
     */
    Optional<Mmu> mmu();
}
