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

    /**
     * Features this engine cannot hide: CMOVcc, FCMOVcc/FCOMI and the x87 escapes execute whatever
     * CPUID says (checking the model on that hot path is not worth it), so a model must report them.
     */
    static final int ALWAYS_ON = CpuModel.EDX_FPU | CpuModel.EDX_CMOV;

    private Cpuid() {
    }

    /**
     * The model for a vCPU: the configured one ({@link org.polyvisor.cpu.VcpuContext#cpuModel()}),
     * with the APIC bit when the VM's interrupt source owns IA32_APIC_BASE, i.e. is a local APIC.
     */
    static CpuModel modelFor(org.polyvisor.irq.InterruptSource interrupts, CpuModel configured) {
        return check(configured).withApic(interrupts.ownsMsr(CpuModel.MSR_APIC_BASE));
    }

    /**
     * @throws IllegalArgumentException if the model reports a feature this engine does not implement,
     *                                  or hides one it cannot hide
     */
    static CpuModel check(CpuModel m) {
        var missing = m.unsupported(IMPLEMENTED);
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("the interpreter does not implement CPU feature(s) "
                    + String.join(", ", missing) + " that the CPU model reports");
        }
        if ((m.featuresEdx() & ALWAYS_ON) != ALWAYS_ON) {
            throw new IllegalArgumentException("the interpreter always executes FPU and CMOV instructions, so a CPU "
                    + "model must report the fpu and cmov features");
        }
        return m;
    }

    /**
     * Parses and checks a configured model description.
     *
     * @param spec the description, empty for the default
     * @return the model (without the APIC bit)
     * @throws IllegalArgumentException naming what is wrong
     */
    static CpuModel configured(String spec) {
        return check(CpuModel.parse(spec));
    }

    static void execute(Cpu c) {
        int[] r = c.model.cpuid(c.r[0], c.context.vcpuId());
        c.r[0] = r[0];
        c.r[3] = r[1];
        c.r[1] = r[2];
        c.r[2] = r[3];
    }
}
