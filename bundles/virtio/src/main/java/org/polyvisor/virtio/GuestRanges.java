package org.polyvisor.virtio;

import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;

/** Checks of guest-physical ranges against the regions of guest memory. */
public final class GuestRanges {

    private GuestRanges() {
    }

    /**
     * Tells whether a range lies entirely in guest memory (adjacent regions may be crossed).
     *
     * @param memory   guest memory
     * @param gpa      first guest-physical address
     * @param length   length in bytes; 0 is always inside
     * @param writable true if the device will write the range: then it must be RAM, not ROM
     * @return true if every byte is backed
     */
    public static boolean inside(GuestMemory memory, long gpa, long length, boolean writable) {
        if (length == 0) {
            return true;
        }
        if (gpa < 0 || length < 0 || gpa + length < gpa) {
            return false;
        }
        long end = gpa + length;
        long cur = gpa;
        for (MemoryRegion r : memory.regions()) {
            if (r.contains(cur)) {
                if (writable && r.kind() != MemoryRegion.Kind.RAM) {
                    return false;
                }
                cur = r.end();
                if (cur >= end) {
                    return true;
                }
            }
        }
        return false;
    }
}
