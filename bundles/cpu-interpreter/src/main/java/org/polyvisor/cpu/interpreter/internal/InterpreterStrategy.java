package org.polyvisor.cpu.interpreter.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.part.Availability;

/** The interpreter CPU strategy: runs anywhere, one {@link InterpreterEngine} per vCPU. */
@Component(service = CpuStrategy.class, property = "polyvisor.name=interpreter")
public final class InterpreterStrategy implements CpuStrategy {

    @Override
    public String name() {
        return "interpreter";
    }

    @Override
    public String description() {
        return "reference interpreter: decodes and executes i686 integer instructions in Java";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    /** Accepts the built-in models of {@link org.polyvisor.x86.CpuModel} and overrides within what this engine implements. */
    @Override
    public Availability acceptsCpuModel(String model) {
        try {
            Cpuid.configured(model);
            return Availability.yes();
        } catch (IllegalArgumentException e) {
            return Availability.no(e.getMessage());
        }
    }

    @Override
    public CpuEngine createEngine(VcpuContext context) {
        return new InterpreterEngine(context);
    }
}
