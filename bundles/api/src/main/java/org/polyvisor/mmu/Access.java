package org.polyvisor.mmu;

/** The kind of a memory access being translated. */
public enum Access {
    /** A data read. */
    READ,
    /** A data write. */
    WRITE,
    /** An instruction fetch. */
    EXECUTE
}
