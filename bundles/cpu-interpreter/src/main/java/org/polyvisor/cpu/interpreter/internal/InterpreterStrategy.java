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

    @Override
    public CpuEngine createEngine(VcpuContext context) {
        return new InterpreterEngine(context);
    }
}
