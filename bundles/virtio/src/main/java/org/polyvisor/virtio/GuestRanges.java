package org.polyvisor.virtio;

import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;

/** Checks of guest-physical ranges against guest memory as it is decoded now. */
public final class GuestRanges {

    private GuestRanges() {
    }

    /**
     * Tells whether a range lies entirely in guest memory (adjacent regions may be crossed), page
     * by page as the memory decodes it now, so firmware's shadow RAM in the legacy window counts
     * as RAM once the chipset has opened it for writing.
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
        for (long page = gpa & -MemoryRegion.PAGE_SIZE; page < end; page += MemoryRegion.PAGE_SIZE) {
            if (writable ? !memory.isWritable(page) : !memory.isMemory(page)) {
                return false;
            }
        }
        return true;
    }
}
