package org.polyvisor.memory;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * One contiguous window of guest-physical address space backed by host memory.
 *
 * <p>The backing buffer is a direct (off-heap), page-aligned {@link ByteBuffer} in little-endian
 * order, so it can be registered with KVM and read by the software engines without copying.
 * Several regions may share one backing buffer (a ROM mapped at two addresses).
 *
 * @param guestBase first guest-physical address, page aligned
 * @param size      length in bytes, a multiple of the page size
 * @param kind      RAM or ROM
 * @param name      what the region is, e.g. {@code ram-low} or {@code firmware}
 * @param backing   the host memory; its capacity equals {@code size}
 */
public record MemoryRegion(long guestBase, long size, Kind kind, String name, ByteBuffer backing) {

    /** Page size of the guest-physical address space. */
    public static final int PAGE_SIZE = 0x1000; // 4 KiB

    /** What a guest may do with a region. */
    public enum Kind {
        /** Readable, writable, executable memory. */
        RAM,
        /** Readable and executable; guest writes are ignored (as on a PC's flash/ROM). */
        ROM
    }

    /** Validates the region. */
    public MemoryRegion {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(backing, "backing");
        if ((guestBase & (PAGE_SIZE - 1)) != 0 || (size & (PAGE_SIZE - 1)) != 0 || size <= 0) {
            throw new IllegalArgumentException(String.format(
                    "region %s at 0x%x size 0x%x is not page aligned", name, guestBase, size));
        }
        if (!backing.isDirect() || backing.capacity() != size) {
            throw new IllegalArgumentException("region " + name + " needs a direct buffer of exactly " + size + " bytes");
        }
    }

    /**
     * Returns the guest-physical address just past the region.
     *
     * @return {@code guestBase + size}
     */
    public long end() {
        return guestBase + size;
    }

    /**
     * Tells whether a guest-physical address falls in this region.
     *
     * @param gpa a guest-physical address
     * @return true if inside
     */
    public boolean contains(long gpa) {
        return gpa >= guestBase && gpa - guestBase < size;
    }
}
