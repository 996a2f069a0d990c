package org.polyvisor.mmu;

import java.util.Map;
import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * One VM's memory virtualisation (shadow page tables, nested tables, ...): turns guest-linear
 * addresses into guest-physical ones with exact guest semantics (accessed and dirty bits written to
 * the guest's tables, #PF error codes, CR0.WP, NX, U/S, global and large pages).
 *
 * <p>Protocol with an engine (one per vCPU, each on its own thread):
 * <ol>
 * <li>On a miss of its software TLB the engine calls {@link #translate} and fills the TLB from the
 *     returned {@link Translation} by that class's rules. It calls it also while guest paging is off
 *     (CR0.PG=0: the linear address is the guest-physical one), so a nested table applies then too.</li>
 * <li>After loading CR0, CR3, CR4 or EFER (MOV to CR, task switch, state import) it calls
 *     {@link #pagingChanged}; after INVLPG, {@link #invalidatePage}.</li>
 * <li>At the start of every {@code run} it reads {@link #tlbEpoch} and drops its whole software TLB
 *     when the value changed (or when the VM's MMU instance changed: an MMU swap).</li>
 * </ol>
 * An MMU never keeps a translation the guest's current tables do not allow: whatever it caches is
 * traced or revalidated, so engines see the same translations whichever MMU fills their TLB, and
 * an MMU can be replaced between two {@code run}s without the guest noticing.
 */
@ConsumerType
public interface Mmu extends AutoCloseable {

    /**
     * Translates a linear address for a vCPU, setting the guest's accessed and dirty bits as the
     * processor's page walk would.
     *
     * @param vcpu   the vCPU index
     * @param mode   the vCPU's paging controls (paging may be off)
     * @param linear the linear address (32 bits)
     * @param access the access kind
     * @param user   true for a CPL 3 access (implicit supervisor accesses pass false)
     * @return the guest-physical address with the {@link Translation} bits
     * @throws PageFault if the guest's tables do not allow the access (the engine delivers #PF)
     */
    long translate(int vcpu, PagingMode mode, long linear, Access access, boolean user) throws PageFault;

    /**
     * Drops what is cached for one page (INVLPG).
     *
     * @param vcpu   the vCPU index
     * @param linear an address in the page
     */
    void invalidatePage(int vcpu, long linear);

    /**
     * Tells the MMU that a vCPU loaded CR0, CR3, CR4 or EFER. A CR3 load switches address space
     * (an MMU keeping per-address-space structures selects or builds the new one); a change of
     * CR0.PG/WP, CR4.PSE/PAE/PGE or EFER.NXE also voids global translations.
     *
     * @param vcpu the vCPU index
     * @param mode the new paging controls
     */
    void pagingChanged(int vcpu, PagingMode mode);

    /**
     * Returns a counter that changes whenever translations this MMU handed out became void for a
     * reason the engine cannot see (nested write protection armed, a dirty log collected, a memory
     * cap evicting). Reading it also acknowledges, for this vCPU, every change before it.
     *
     * @param vcpu the vCPU index
     * @return the current epoch
     */
    default long tlbEpoch(int vcpu) {
        return 0;
    }

    /**
     * Returns the dirty-page log of guest memory, if this MMU can keep one (used by snapshots and
     * migration).
     *
     * @return the log, or empty
     */
    default Optional<DirtyPageLog> dirtyLog() {
        return Optional.empty();
    }

    /**
     * Starts tracing a descriptor table (GDT, IDT, LDT or a TSS), so an engine may cache data derived
     * from its descriptors: the returned trace's {@link DescriptorTableTrace#version()} changes when the
     * guest writes the guest-physical pages under the table or the page-table entries that map it.
     * Looking up the table does not set accessed bits.
     *
     * @param vcpu  the vCPU index
     * @param mode  the vCPU's paging controls
     * @param base  linear base of the table
     * @param limit the table's limit (last valid byte offset)
     * @return the trace, or empty when this MMU does not trace descriptor tables
     */
    default Optional<DescriptorTableTrace> traceDescriptorTable(int vcpu, PagingMode mode, long base, int limit) {
        return Optional.empty();
    }

    /**
     * Returns counters for {@code vm:stats} (misses, trace faults, walk steps, ...).
     *
     * @return counter names to values
     */
    default Map<String, Long> stats() {
        return Map.of();
    }

    /** Releases the MMU's resources (write watches, tables). */
    @Override
    void close();
}
