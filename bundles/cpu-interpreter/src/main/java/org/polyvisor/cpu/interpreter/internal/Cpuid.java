package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.x86.CpuModel;

/**
 * CPUID for this engine: answered from the vCPU's {@link CpuModel} (SDM Vol. 2A, CPUID). The default
 * model reports only what this engine implements; {@link #IMPLEMENTED} is that set, and a
 * configured model asking for more is refused ({@link #check}).
 */
final class Cpuid {

    /** Everything this engine implements (leaf 1 EDX of {@link CpuModel#DEFAULT}); the APIC bit is the chip's. */
    static final CpuModel IMPLEMENTED = CpuModel.DEFAULT;

    /** Signature in EAX of leaf 1 and in EDX at reset, of the default model. */
    static final int SIGNATURE = CpuModel.DEFAULT.signature();

    private Cpuid() {
    }

    /**
     * The model for a vCPU: the configured one (today always the default, until the API carries a
     * model option), with the APIC bit when the VM's interrupt source owns IA32_APIC_BASE, i.e. is
     * a local APIC.
     */
    static CpuModel modelFor(org.polyvisor.irq.InterruptSource interrupts, CpuModel configured) {
        return check(configured).withApic(interrupts.ownsMsr(CpuModel.MSR_APIC_BASE));
    }

    /** @throws IllegalArgumentException if the model reports a feature this engine does not implement */
    static CpuModel check(CpuModel m) {
        var missing = m.unsupported(IMPLEMENTED);
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("the interpreter does not implement CPU feature(s) " + missing
                    + " that the CPU model reports");
        }
        return m;
    }

    static void execute(Cpu c) {
        int[] r = c.model.cpuid(c.r[0], c.context.vcpuId());
        c.r[0] = r[0];
        c.r[3] = r[1];
        c.r[1] = r[2];
        c.r[2] = r[3];
    }
}
