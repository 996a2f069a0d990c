package org.polyvisor.boot.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;

/**
 * The PC memory map a loader reports to the kernel (e820 for Linux, the Multiboot mmap), derived
 * from the VM's memory regions: conventional RAM up to the EBDA, the EBDA reserved, the legacy
 * window 0xA0000-0xFFFFF left out except the BIOS area 0xF0000-0xFFFFF (reserved), RAM from 1 MiB,
 * and ROM above 1 MiB (the firmware at 4 GiB) reserved.
 */
final class MemoryMap {

    /** e820 type of usable RAM (ACPI 6.4, Table 15.1: AddressRangeMemory). */
    static final int RAM = 1;
    /** e820 type of reserved memory (AddressRangeReserved). */
    static final int RESERVED = 2;
    /** Start of the legacy VGA/ROM window. */
    static final long LEGACY_START = 0xA_0000L; // 640 KiB
    /** Start of the BIOS area. */
    static final long BIOS_START = 0xF_0000L;
    /** 1 MiB: where extended memory starts. */
    static final long ONE_MIB = 0x10_0000L;

    /** One map entry. */
    record Entry(long base, long length, int type) {
        long end() {
            return base + length;
        }
    }

    private MemoryMap() {
    }

    /**
     * Builds the map.
     *
     * @param memory    the guest memory
     * @param ebdaStart where conventional RAM ends (the EBDA, reserved up to 640 KiB)
     * @return the entries in address order
     */
    static List<Entry> of(GuestMemory memory, long ebdaStart) {
        List<long[]> ram = new ArrayList<>();
        List<long[]> reserved = new ArrayList<>();
        List<MemoryRegion> regions = new ArrayList<>(memory.regions());
        regions.sort(Comparator.comparingLong(MemoryRegion::guestBase));
        boolean lowRam = false;
        for (MemoryRegion r : regions) {
            if (r.kind() == MemoryRegion.Kind.ROM) {
                if (r.guestBase() >= ONE_MIB) {
                    add(reserved, r.guestBase(), r.end());
                }
                continue;
            }
            if (r.guestBase() < ebdaStart) {
                add(ram, r.guestBase(), Math.min(r.end(), ebdaStart));
                lowRam = true;
            }
            if (r.end() > ONE_MIB) {
                add(ram, Math.max(r.guestBase(), ONE_MIB), r.end());
            }
        }
        if (lowRam && ebdaStart < LEGACY_START) {
            add(reserved, ebdaStart, LEGACY_START);
        }
        add(reserved, BIOS_START, ONE_MIB);
        List<Entry> out = new ArrayList<>();
        ram.forEach(e -> out.add(new Entry(e[0], e[1] - e[0], RAM)));
        reserved.forEach(e -> out.add(new Entry(e[0], e[1] - e[0], RESERVED)));
        out.sort(Comparator.comparingLong(Entry::base));
        return out;
    }

    private static void add(List<long[]> ranges, long start, long end) {
        if (end <= start) {
            return;
        }
        if (!ranges.isEmpty() && ranges.get(ranges.size() - 1)[1] == start) {
            ranges.get(ranges.size() - 1)[1] = end;
        } else {
            ranges.add(new long[] {start, end});
        }
    }

    /**
     * Returns the end of the RAM that runs contiguously from 1 MiB (where kernels load).
     *
     * @param entries the map
     * @return the first address past it, or 1 MiB if there is no RAM there
     */
    static long extendedTop(List<Entry> entries) {
        long top = ONE_MIB;
        for (Entry e : entries) {
            if (e.type() == RAM && e.base() <= top && e.end() > top) {
                top = e.end();
            }
        }
        return top;
    }

    /**
     * Returns the end of conventional RAM from address 0.
     *
     * @param entries the map
     * @return the first address past it
     */
    static long conventionalTop(List<Entry> entries) {
        for (Entry e : entries) {
            if (e.type() == RAM && e.base() == 0) {
                return Math.min(e.end(), LEGACY_START);
            }
        }
        return 0;
    }
}
