package org.polyvisor.memory;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Told about writes to watched guest pages (by engines, DMA and VMM copies alike). Used to trace
 * guest page tables and descriptor tables and to invalidate translated code.
 */
@FunctionalInterface
@ConsumerType
public interface WriteListener {

    /**
     * Called after bytes in a watched page were written. Runs on the writing thread; must be quick
     * and must not write guest memory itself.
     *
     * @param gpa    guest-physical address of the first byte written
     * @param length number of bytes written (never crosses the watched range's pages)
     */
    void written(long gpa, int length);
}
