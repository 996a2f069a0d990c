package org.polyvisor.cpu.interpreter.core;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Runs translated code in place of the interpreter at an instruction boundary (after pending
 * interrupts were considered, with the interrupt shadow already cleared and the trap flag clear).
 */
@ConsumerType
public interface BlockRunner {

    /**
     * Runs translated code starting at the current CS:EIP.
     *
     * <p>On return, every register, EIP and the lazy flags of the core hold the state after the
     * retired instructions. A guest fault is thrown as an {@link org.polyvisor.x86.X86Exception}
     * after the registers, the flags and {@link InterpreterCore#beginInstruction} describe the state
     * at the start of the faulting instruction; the interpreter then delivers it.
     *
     * @param budget the most instructions to retire (at least 1)
     * @return the instructions retired; 0 to let the interpreter execute the next instruction
     */
    int run(int budget);
}
