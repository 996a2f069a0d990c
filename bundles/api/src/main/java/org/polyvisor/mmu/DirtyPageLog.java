package org.polyvisor.mmu;

import java.util.BitSet;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Which guest-physical pages were written, kept by an MMU through its own structures (for a nested
 * table: pages are mapped read-only until their first write, as with EPT/NPT dirty logging). Writes
 * by engines and by the MMU's own accessed/dirty updates are logged; DMA and VMM copies are not (the
 * VMM knows those).
 */
@ConsumerType
public interface DirtyPageLog {

    /** Starts logging: every page counts as clean from now on. */
    void start();

    /** Stops logging and forgets the log. */
    void stop();

    /**
     * Tells whether logging is on.
     *
     * @return true between {@link #start()} and {@link #stop()}
     */
    boolean active();

    /**
     * Returns the pages written since {@link #start()} or the previous call, and starts a new round.
     * Until every vCPU has seen the new {@link Mmu#tlbEpoch}, pages of the previous round stay in the
     * next one too (an engine may still write them through its software TLB), so no write is lost.
     *
     * @return guest-physical page frame numbers (address {@code >>> 12}) that were written
     */
    BitSet collect();
}
