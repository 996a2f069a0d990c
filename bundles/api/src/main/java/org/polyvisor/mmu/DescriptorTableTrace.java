package org.polyvisor.mmu;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A traced descriptor table (a shadow descriptor table's coherence handle): an engine caching
 * descriptor-derived data compares {@link #version()} with the value it cached under.
 */
@ConsumerType
public interface DescriptorTableTrace extends AutoCloseable {

    /**
     * Returns a counter that grows whenever the guest wrote the table's pages or the page-table
     * entries mapping them.
     *
     * @return the version
     */
    long version();

    /** Stops tracing; idempotent. */
    @Override
    void close();
}
