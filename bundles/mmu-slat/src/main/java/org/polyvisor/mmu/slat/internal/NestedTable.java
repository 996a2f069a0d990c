package org.polyvisor.mmu.slat.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A nested page table in the Intel EPT format (SDM Vol. 3C, 29.3.2 "EPT Translation Mechanism"):
 * four levels of 512 64-bit entries (PML4, PDPT, PD, PT) mapping guest-physical to host-physical
 * addresses with read/write/execute bits, 2 MiB leaves at the PD level (bit 7) and 4 KiB leaves in
 * the PT. Table pages live in VMM memory, named by host-physical addresses from {@link #TABLE_BASE}
 * up; leaves name the host frames of guest RAM, which here are the frames of the VM's
 * {@code GuestMemory} address space (engines reach RAM through it), so leaves map identically while
 * the structure, permissions and walk cost are those of EPT.
 *
 * <p>Size is bounded by construction: guest-physical space is at most 4 GiB (one PML4 entry, one
 * PDPT, four PDs), and a PT exists only where a 2 MiB range was split (4 KiB granularity at a region
 * boundary, or dirty logging): at most 2048 of them. A lower cap ({@link #maxPages}) is kept by
 * eviction: the PT of the range split longest ago (for dirty logging; region-boundary PTs stay) is
 * folded back into one 2 MiB leaf, writable only if all 512 of its leaves were, so folding never
 * grants a write the table did not allow.
 *
 * <p>Not thread safe: {@link SlatMmu} serialises access.
 */
final class NestedTable {

    /** EPT entry: read access. */
    static final long R = 1;
    /** EPT entry: write access. */
    static final long W = 1 << 1;
    /** EPT entry: instruction fetch. */
    static final long X = 1 << 2;
    /** EPT leaf: memory type write-back (bits 5:3 = 6). */
    static final long MT_WB = 6 << 3;
    /** EPT PD entry: maps a 2 MiB page. */
    static final long LARGE = 1 << 7;
    /** EPT entry: accessed (with EPT A/D enabled). */
    static final long ACCESSED = 1 << 8;
    /** EPT leaf: dirty (with EPT A/D enabled). */
    static final long DIRTY = 1 << 9;
    static final long ADDRESS = 0x000F_FFFF_FFFF_F000L;
    /** Host-physical address of the first table page (above any guest frame, so the two never mix). */
    static final long TABLE_BASE = 1L << 40;

    /** Result of {@link #walk}: the leaf is not present (an EPT violation on any access). */
    static final long NOT_PRESENT = -1;

    /** Most table pages with the default cap: PML4, PDPT, 4 PDs and a PT for every 2 MiB of 4 GiB. */
    static final int BOUND = 1 + 1 + 4 + 2048;

    private final List<long[]> pages = new ArrayList<>();
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    /** 2 MiB ranges split by {@link #split(long, boolean)} (evictable), oldest first. */
    private final ArrayDeque<Long> splitRanges = new ArrayDeque<>();
    /** Entries read by walks, for the two-dimensional walk count. */
    long steps;
    int largeLeaves;
    int smallLeaves;
    /** The cap on table pages that {@link #split(long, boolean)} keeps. */
    int maxPages = BOUND;
    /** Page tables folded back into 2 MiB leaves to stay under the cap. */
    long evictions;

    NestedTable() {
        newPage(); // the PML4
    }

    private long newPage() {
        Integer reuse = free.poll();
        if (reuse != null) {
            return TABLE_BASE + (long) reuse * 4096;
        }
        pages.add(new long[512]);
        return TABLE_BASE + (long) (pages.size() - 1) * 4096;
    }

    private long[] page(long hpa) {
        return pages.get((int) ((hpa - TABLE_BASE) >>> 12));
    }

    /** @return the number of table pages in use (for statistics and the cap) */
    int tablePages() {
        return pages.size() - free.size();
    }

    private static int index(long gpa, int level) {
        return (int) (gpa >>> (12 + 9 * level)) & 0x1FF;
    }

    /**
     * Walks the table for a guest-physical address, counting one step per entry read.
     *
     * @param gpa guest-physical address
     * @return the leaf's permission bits (11:0) with the host frame of the 4 KiB page holding
     *         {@code gpa} (51:12), or {@link #NOT_PRESENT}
     */
    long walk(long gpa) {
        long table = TABLE_BASE;
        for (int level = 3; level >= 0; level--) {
            long e = page(table)[index(gpa, level)];
            steps++;
            if ((e & (R | W | X)) == 0) {
                return NOT_PRESENT;
            }
            if (level == 0 || level == 1 && (e & LARGE) != 0) {
                long mask = level == 1 ? 0x1F_F000L : 0;
                return (e & 0xFFF) | (e & ADDRESS & ~mask) | (gpa & mask);
            }
            table = e & ADDRESS;
        }
        throw new IllegalStateException("unreachable");
    }

    /**
     * Maps one 2 MiB range with a single leaf.
     *
     * @param gpa   2 MiB aligned guest-physical address
     * @param hpa   2 MiB aligned host address
     * @param perms R/W/X bits
     */
    void mapLarge(long gpa, long hpa, long perms) {
        long[] pd = page(tableFor(gpa, 1));
        int i = index(gpa, 1);
        if (pd[i] != 0 && (pd[i] & LARGE) == 0) {
            throw new IllegalStateException(String.format("0x%x is already mapped with 4 KiB pages", gpa));
        }
        if (pd[i] == 0) {
            largeLeaves++;
        }
        pd[i] = hpa & ADDRESS | perms | MT_WB | LARGE;
    }

    /**
     * Maps one 4 KiB page, splitting a 2 MiB leaf over it if needed.
     *
     * @param gpa   page-aligned guest-physical address
     * @param hpa   page-aligned host address
     * @param perms R/W/X bits
     */
    void map(long gpa, long hpa, long perms) {
        long[] pt = page(tableFor(gpa, 0));
        int i = index(gpa, 0);
        if (pt[i] == 0) {
            smallLeaves++;
        }
        pt[i] = hpa & ADDRESS | perms | MT_WB;
    }

    /**
     * Changes the permission bits of the leaf covering a guest-physical address (4 KiB leaves only).
     *
     * @param gpa   guest-physical address
     * @param set   bits to set
     * @param clear bits to clear
     * @return false if no 4 KiB leaf maps the address
     */
    boolean protect(long gpa, long set, long clear) {
        long table = TABLE_BASE;
        for (int level = 3; level >= 1; level--) {
            long e = page(table)[index(gpa, level)];
            if ((e & (R | W | X)) == 0 || (e & LARGE) != 0) {
                return false;
            }
            table = e & ADDRESS;
        }
        long[] pt = page(table);
        int i = index(gpa, 0);
        if ((pt[i] & (R | W | X)) == 0) {
            return false;
        }
        pt[i] = (pt[i] | set) & ~clear;
        return true;
    }

    /**
     * Changes the permission bits of the leaf covering a guest-physical address, a 2 MiB leaf too.
     *
     * @param gpa   guest-physical address
     * @param set   bits to set
     * @param clear bits to clear
     */
    void protectLeaf(long gpa, long set, long clear) {
        long table = TABLE_BASE;
        for (int level = 3; level >= 0; level--) {
            long[] p = page(table);
            int i = index(gpa, level);
            long e = p[i];
            if ((e & (R | W | X)) == 0) {
                return;
            }
            if (level == 0 || level == 1 && (e & LARGE) != 0) {
                p[i] = (e | set) & ~clear;
                return;
            }
            table = e & ADDRESS;
        }
    }

    /**
     * Replaces the 2 MiB leaf covering {@code gpa} (if any) by a table of 512 4 KiB leaves with the same
     * host frames and permissions (a split made at construction, for a region boundary: kept forever).
     *
     * @param gpa guest-physical address
     */
    void split(long gpa) {
        split(gpa, false, false);
    }

    /**
     * Splits the 2 MiB leaf covering {@code gpa} for 4 KiB permissions (dirty logging), within the cap.
     *
     * @param gpa   guest-physical address
     * @param evict whether to fold the oldest such split back when the cap is reached
     * @return true if 4 KiB leaves cover {@code gpa} now
     */
    boolean split(long gpa, boolean evict) {
        return split(gpa, true, evict);
    }

    private boolean split(long gpa, boolean evictable, boolean evict) {
        long[] pd = page(tableFor(gpa, 1));
        int i = index(gpa, 1);
        long e = pd[i];
        if ((e & LARGE) == 0) {
            return true;
        }
        if (evictable) {
            while (tablePages() >= maxPages) {
                if (!evict || !evictOldest(gpa & ~0x1F_FFFFL)) {
                    return false;
                }
            }
            splitRanges.add(gpa & ~0x1F_FFFFL);
        }
        long pt = newPage();
        long[] entries = page(pt);
        long perms = e & (R | W | X);
        for (int k = 0; k < 512; k++) {
            entries[k] = ((e & ADDRESS & ~0x1F_FFFFL) + ((long) k << 12)) | perms | MT_WB;
        }
        pd[i] = pt | R | W | X;
        largeLeaves--;
        smallLeaves += 512;
        return true;
    }

    /** Folds the PT of the oldest evictable split (other than {@code keep}) back into a 2 MiB leaf. */
    private boolean evictOldest(long keep) {
        for (int n = splitRanges.size(); n > 0; n--) {
            long range = splitRanges.poll();
            if (range == keep) {
                splitRanges.add(range);
                continue;
            }
            long[] pd = page(tableFor(range, 1));
            int i = index(range, 1);
            long ptAddr = pd[i] & ADDRESS;
            long[] pt = page(ptAddr);
            long perms = R | W | X;
            for (long leaf : pt) {
                perms &= leaf; // writable (executable, readable) only if every 4 KiB leaf was
            }
            pd[i] = (pt[0] & ADDRESS) | perms | MT_WB | LARGE;
            java.util.Arrays.fill(pt, 0);
            free.add((int) ((ptAddr - TABLE_BASE) >>> 12));
            largeLeaves++;
            smallLeaves -= 512;
            evictions++;
            return true;
        }
        return false;
    }

    /** Finds (creating the non-leaf levels) the table at {@code level} (1 = PD, 0 = PT) covering {@code gpa}. */
    private long tableFor(long gpa, int level) {
        long table = TABLE_BASE;
        for (int l = 3; l > level; l--) {
            long[] p = page(table);
            int i = index(gpa, l);
            long e = p[i];
            if ((e & LARGE) != 0 && l == 1) {
                split(gpa);
                e = p[i];
            }
            if ((e & (R | W | X)) == 0) {
                long next = newPage();
                p = page(table); // newPage may not move arrays, but stay explicit
                p[i] = next | R | W | X;
                e = p[i];
            }
            table = e & ADDRESS;
        }
        return table;
    }
}
