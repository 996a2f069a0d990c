package org.polyvisor.cpu.bt.internal;

/**
 * The code of one translation: generated subclasses live in hidden classes (one per translation),
 * so an evicted or dropped translation is unloaded with its class.
 */
abstract class CompiledBlock {

    /**
     * Runs the translation from its first instruction.
     *
     * @param x      the vCPU
     * @param budget instructions it may retire before it returns at an instruction boundary (a
     *               translation that loops to itself checks it on its back edge)
     * @return instructions retired; EIP, registers and flags are written back
     */
    abstract int run(Vcpu x, int budget);
}
