package org.polyvisor.mmu;

import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * One VM's memory virtualisation (shadow page tables, nested tables, ...): turns guest-linear
 * addresses into guest-physical ones with exact guest semantics (accessed/dirty bits, error codes).
 * Engines call it on a miss of their software TLB and tell it about paging-control changes.
 */
@ConsumerType
public interface Mmu extends AutoCloseable {

    /**
     * Translates a linear address for a vCPU.
     *
     * @param vcpu   the vCPU index
     * @param mode   the vCPU's paging controls
     * @param linear the linear address
     * @param access the access kind
     * @param user   true for a CPL 3 access
     * @return the guest-physical address
     * @throws PageFault if the guest's tables do not allow the access
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
     * Drops cached translations after a CR3 load or a CR0/CR4 paging change.
     *
     * @param vcpu          the vCPU index
     * @param includeGlobal also drop global pages (CR4.PGE toggled, CR0.PG changed)
     */
    void flush(int vcpu, boolean includeGlobal);

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
