package org.polyvisor.cpu.bt.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.cpu.interpreter.core.InterpreterCore;
import org.polyvisor.part.Availability;

/** The binary-translation CPU strategy: runs anywhere, one {@link BtEngine} per vCPU. */
@Component(service = CpuStrategy.class, property = "polyvisor.name=binary-translation")
public class BinaryTranslationStrategy implements CpuStrategy {

    @Override
    public String name() {
        return "binary-translation";
    }

    @Override
    public String description() {
        return "binary translation: hot guest blocks become JVM bytecode (hidden classes), sensitive "
                + "instructions and cold code run on the interpreter";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    /** The CPU models the interpreter core presents: CPUID and the MSRs run there. */
    @Override
    public Availability acceptsCpuModel(String model) {
        return InterpreterCore.acceptsCpuModel(model);
    }

    @Override
    public CpuEngine createEngine(VcpuContext context) {
        return new BtEngine(context);
    }
}
