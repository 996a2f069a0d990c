/**
 * The interpreter as a building block for other CPU engines (the binary translator): an
 * {@link org.polyvisor.cpu.interpreter.core.InterpreterCore} is a complete interpreter engine (events,
 * state import/export, statistics, every instruction) that also hands out its register file, lazy
 * flags, segment windows and software TLB, and calls a
 * {@link org.polyvisor.cpu.interpreter.core.BlockRunner} at instruction boundaries so translated code
 * can run in its place. Cold code and instructions a translator leaves alone run on the interpreter,
 * so both engines share one implementation of the architecture.
 *
 * <p>The arrays handed out are the live state, for speed: a user must keep the invariants stated on
 * each accessor, and must only touch them on the vCPU thread.
 *
 * <p>1.1: {@link org.polyvisor.cpu.interpreter.core.InterpreterCore#acceptsCpuModel}.
 * <p>1.2: {@link org.polyvisor.cpu.interpreter.core.InterpreterCore#event} (INT n, INT3, INTO, UD2
 * and IRET through the interpreter's own delivery) and the TLB's host buffers and offsets
 * ({@link org.polyvisor.cpu.interpreter.core.InterpreterCore#tlbReadBuffers} and the others).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.2.0")
package org.polyvisor.cpu.interpreter.core;
