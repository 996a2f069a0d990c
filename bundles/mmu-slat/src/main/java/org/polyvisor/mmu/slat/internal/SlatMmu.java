package org.polyvisor.mmu.slat.internal;

import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.DirtyPageLog;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.mmu.Translation;

/**
 * Second-level address translation for one VM, as EPT/NPT hardware does it: the guest's own page
 * tables translate guest-linear to guest-physical with nothing traced, and a nested table the VMM
 * owns ({@link NestedTable}, EPT format) translates every guest-physical address, including those of
 * the guest's page-table entries. A TLB miss is therefore a two-dimensional walk: each guest
 * paging-structure read (and each accessed/dirty update) first goes through the nested table, then
 * the final guest-physical address does too; every nested entry read and every guest entry read
 * counts as a step (up to 3 + 2 x 4 = 14 steps with 32-bit guest paging over 4 KiB nested pages
 * here, 24 with four guest levels on hardware).
 *
 * <p>Nested violations exit to the VMM (this class): a guest-physical address with no nested leaf is
 * MMIO (the translation says so, and a guest page table there reads as the bus does: all ones); a
 * write to a leaf without W is either ROM (write protection: the write is dropped, as the bus drops
 * it) or a page not yet written since the dirty log was last collected (logged, W set, resumed).
 *
 * <p>Memory: the nested table stays under {@code mmu.slat.max-pages} table pages; dirty logging
 * splits 2 MiB leaves as far as the cap allows and {@link NestedTable} folds the oldest split back
 * when a write needs another one (a folded range stays read-only, so each page's first write in a
 * round still traps and is logged).
 *
 * <p>Guest semantics are those of the architectural walk ({@code PageWalker}), step for step.
 * Nothing of the guest's tables is cached here, so CR3 switches, INVLPG and page-table edits cost
 * nothing beyond the engine's TLB flush.
 */
final class SlatMmu implements Mmu {

    private static final long P = 1;
    private static final long RW = 1 << 1;
    private static final long US = 1 << 2;
    private static final long A = 1 << 5;
    private static final long D = 1 << 6;
    private static final long PS = 1 << 7;
    private static final long G = 1 << 8;
    private static final long XD = 1L << 63;
    private static final long CR0_WP = 1 << 16;
    private static final long CR4_PSE = 1 << 4;
    private static final long CR4_PAE = 1 << 5;
    private static final long EFER_NXE = 1 << 11;

    private final GuestMemory memory;
    private final int vcpus;
    private final MemoryRegion[] ram;
    private final NestedTable nested = new NestedTable();
    private final Log log = new Log();
    private volatile long epoch;
    private boolean closed;

    // counters
    private long guestWalks;
    private long nestedWalks;
    private long guestTableReads;
    private long violationsMmio;
    private long violationsWriteProtect;
    private long violationsDirtyLog;
    private long dirtyPagesLogged;
    private long guestFaults;
    private long invlpgs;
    private long pagingChanges;
    private long physicalMode;
    private long logRounds;

    SlatMmu(GuestMemory memory, int vcpus) {
        this(memory, vcpus, NestedTable.BOUND);
    }

    /**
     * @param maxPages cap on nested table pages (4 KiB each); at least what the memory layout needs
     *                 plus one, see {@link #minimumPages}
     */
    SlatMmu(GuestMemory memory, int vcpus, int maxPages) {
        this.memory = memory;
        this.vcpus = vcpus;
        this.ram = memory.regions().stream().filter(r -> r.kind() == MemoryRegion.Kind.RAM)
                .toArray(MemoryRegion[]::new);
        for (MemoryRegion r : memory.regions()) {
            long perms = r.kind() == MemoryRegion.Kind.RAM ? NestedTable.R | NestedTable.W | NestedTable.X
                    : NestedTable.R | NestedTable.X; // ROM: writes are nested violations (dropped)
            long gpa = r.guestBase();
            while (gpa < r.end()) {
                if ((gpa & 0x1F_FFFFL) == 0 && gpa + 0x20_0000L <= r.end()) {
                    nested.mapLarge(gpa, gpa, perms);
                    gpa += 0x20_0000L;
                } else {
                    nested.map(gpa, gpa, perms);
                    gpa += 0x1000;
                }
            }
        }
        if (maxPages < minimumPages()) {
            throw new IllegalArgumentException("mmu.slat.max-pages " + maxPages + " is below the " + minimumPages()
                    + " nested table pages this VM's memory layout needs (with one page table for dirty logging)");
        }
        nested.maxPages = maxPages;
    }

    /** @return the smallest cap for this VM: the table pages the memory layout needs, plus one page table */
    int minimumPages() {
        return nested.tablePages() + 1;
    }

    // =====================================================================================
    // Translation
    // =====================================================================================

    @Override
    public synchronized long translate(int vcpu, PagingMode mode, long linear, Access access, boolean user)
            throws PageFault {
        linear &= 0xFFFF_FFFFL;
        if (!mode.enabled()) {
            physicalMode++;
            return finish(linear, access, Translation.WRITABLE | Translation.DIRTY | Translation.USER);
        }
        guestWalks++;
        boolean write = access == Access.WRITE;
        if ((mode.cr4() & CR4_PAE) != 0) {
            return walkPae(mode, linear, access, user);
        }
        int base = (write ? PageFault.W : 0) | (user ? PageFault.U : 0);
        long pdeAddr = (mode.cr3() & 0xFFFF_F000L) + ((linear >>> 22) << 2);
        long pde = readGuest32(pdeAddr);
        if ((pde & P) == 0) {
            throw fault(linear, base);
        }
        if ((mode.cr4() & CR4_PSE) != 0 && (pde & PS) != 0) {
            if ((pde & 0x003F_E000L) != 0) { // bits 21:13 reserved (no PSE-36)
                throw fault(linear, base | PageFault.P | PageFault.RSVD);
            }
            long perms = check(mode, pde, pde, linear, write, user, base);
            setBits(pdeAddr, pde, write ? A | D : A);
            long gpa = (pde & 0xFFC0_0000L) | (linear & 0x003F_FFFFL);
            return finish(gpa, access, perms | Translation.LARGE | ((pde & G) != 0 ? Translation.GLOBAL : 0)
                    | (write || (pde & D) != 0 ? Translation.DIRTY : 0));
        }
        long pteAddr = (pde & 0xFFFF_F000L) + (((linear >>> 12) & 0x3FF) << 2);
        long pte = readGuest32(pteAddr);
        if ((pte & P) == 0) {
            throw fault(linear, base);
        }
        long perms = check(mode, pde, pte, linear, write, user, base);
        setBits(pdeAddr, pde, A);
        setBits(pteAddr, pte, write ? A | D : A);
        long gpa = (pte & 0xFFFF_F000L) | (linear & 0xFFF);
        return finish(gpa, access, perms | ((pte & G) != 0 ? Translation.GLOBAL : 0)
                | (write || (pte & D) != 0 ? Translation.DIRTY : 0));
    }

    private long walkPae(PagingMode mode, long linear, Access access, boolean user) throws PageFault {
        boolean write = access == Access.WRITE;
        boolean nxe = (mode.efer() & EFER_NXE) != 0;
        int base = (write ? PageFault.W : 0) | (user ? PageFault.U : 0)
                | (access == Access.EXECUTE && nxe ? PageFault.ID : 0);
        long rsvdHigh = nxe ? 0x7FF0_0000_0000_0000L : 0xFFF0_0000_0000_0000L;
        long pdpteAddr = (mode.cr3() & 0xFFFF_FFE0L) + ((linear >>> 30) << 3);
        long pdpte = readGuest64(pdpteAddr);
        if ((pdpte & P) == 0) {
            throw fault(linear, base);
        }
        if ((pdpte & (0x1E6L | 0xFFF0_0000_0000_0000L)) != 0) {
            throw fault(linear, base | PageFault.P | PageFault.RSVD);
        }
        long pdeAddr = (pdpte & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 21) & 0x1FF) << 3);
        long pde = readGuest64(pdeAddr);
        if ((pde & P) == 0) {
            throw fault(linear, base);
        }
        if ((pde & rsvdHigh) != 0 || (pde & PS) != 0 && (pde & 0x001F_E000L) != 0) {
            throw fault(linear, base | PageFault.P | PageFault.RSVD);
        }
        if ((pde & PS) != 0) {
            long perms = check(mode, pde, pde, linear, write, user, base);
            checkNx(pde, 0, access, nxe, linear, base);
            setBits(pdeAddr, pde, write ? A | D : A);
            long gpa = (pde & 0x000F_FFFF_FFE0_0000L) | (linear & 0x1F_FFFFL);
            return finish(gpa, access, perms | Translation.LARGE | ((pde & G) != 0 ? Translation.GLOBAL : 0)
                    | (write || (pde & D) != 0 ? Translation.DIRTY : 0)
                    | (nxe && (pde & XD) != 0 ? Translation.NO_EXECUTE : 0));
        }
        long pteAddr = (pde & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 12) & 0x1FF) << 3);
        long pte = readGuest64(pteAddr);
        if ((pte & P) == 0) {
            throw fault(linear, base);
        }
        if ((pte & rsvdHigh) != 0) {
            throw fault(linear, base | PageFault.P | PageFault.RSVD);
        }
        long perms = check(mode, pde, pte, linear, write, user, base);
        checkNx(pde, pte, access, nxe, linear, base);
        setBits(pdeAddr, pde, A);
        setBits(pteAddr, pte, write ? A | D : A);
        long gpa = (pte & 0x000F_FFFF_FFFF_F000L) | (linear & 0xFFF);
        return finish(gpa, access, perms | ((pte & G) != 0 ? Translation.GLOBAL : 0)
                | (write || (pte & D) != 0 ? Translation.DIRTY : 0)
                | (nxe && ((pde | pte) & XD) != 0 ? Translation.NO_EXECUTE : 0));
    }

    private PageFault fault(long linear, int errorCode) {
        guestFaults++;
        return new PageFault(linear, errorCode);
    }

    private long check(PagingMode mode, long pde, long pte, long linear, boolean write, boolean user, int base)
            throws PageFault {
        boolean userOk = (pde & US) != 0 && (pte & US) != 0;
        boolean rw = (pde & RW) != 0 && (pte & RW) != 0;
        if (user && !userOk) {
            throw fault(linear, base | PageFault.P);
        }
        boolean writable = rw || !user && (mode.cr0() & CR0_WP) == 0;
        if (write && !writable) {
            throw fault(linear, base | PageFault.P);
        }
        return (writable ? Translation.WRITABLE : 0) | (userOk ? Translation.USER : 0);
    }

    private void checkNx(long pde, long pte, Access access, boolean nxe, long linear, int base) throws PageFault {
        if (nxe && access == Access.EXECUTE && ((pde | pte) & XD) != 0) {
            throw fault(linear, base | PageFault.P);
        }
    }

    /** The second dimension for the final guest-physical address: the nested walk and its violations. */
    private long finish(long gpa, Access access, long bits) {
        nestedWalks++;
        long leaf = nested.walk(gpa);
        if (leaf == NestedTable.NOT_PRESENT) {
            violationsMmio++; // MMIO: the engine sends the access to the bus
            return gpa | bits | Translation.MMIO;
        }
        if ((leaf & NestedTable.W) == 0) {
            if (access == Access.WRITE && (bits & Translation.WRITABLE) != 0 && writeViolation(gpa)) {
                return gpa | bits;
            }
            return gpa | bits & ~Translation.WRITABLE; // the engine must come back for writes
        }
        return gpa | bits;
    }

    /**
     * A write hit a nested leaf without W: the VMM logs the page if dirty logging armed it and lets
     * the write go on (W set), or keeps it protected (ROM).
     *
     * @return true if the page is now writable
     */
    private boolean writeViolation(long gpa) {
        if (log.active && isRam(gpa)) {
            violationsDirtyLog++;
            long page = gpa >>> 12;
            if (!log.dirty.get((int) page)) {
                log.dirty.set((int) page);
                dirtyPagesLogged++;
            }
            // 4 KiB granularity for the write permission; a range left as one read-only 2 MiB leaf
            // (the cap) hands out this page writable to the engine's TLB only, other pages still trap.
            nested.split(gpa, true);
            nested.protect(gpa, NestedTable.W, 0);
            return true;
        }
        violationsWriteProtect++;
        return false;
    }

    /** Reads a guest paging-structure entry through the nested table (one dimension of the walk). */
    private long readGuest32(long gpa) {
        nestedTranslate(gpa);
        return memory.readDword(gpa) & 0xFFFF_FFFFL;
    }

    private long readGuest64(long gpa) {
        nestedTranslate(gpa);
        return memory.readQword(gpa);
    }

    private void nestedTranslate(long gpa) {
        nestedWalks++;
        guestTableReads++;
        nested.steps++; // the guest entry read itself
        if (nested.walk(gpa) == NestedTable.NOT_PRESENT) {
            violationsMmio++; // a guest page table outside RAM: the VMM reads it as the bus does
        }
    }

    /** Sets accessed/dirty bits in a guest entry: a guest-physical write, so nested permissions apply. */
    private void setBits(long addr, long entry, long bits) {
        if ((entry & bits) == bits) {
            return;
        }
        nestedWalks++;
        long leaf = nested.walk(addr);
        if (leaf == NestedTable.NOT_PRESENT) {
            violationsMmio++;
            return; // the update goes to the bus, which drops it
        }
        if ((leaf & NestedTable.W) == 0 && !writeViolation(addr)) {
            return; // ROM
        }
        int old = (int) entry;
        for (int tries = 0; tries < 16; tries++) {
            if (memory.compareAndSwapInt(addr, old, old | (int) bits)) {
                return;
            }
            old = memory.readDword(addr);
            if ((old & bits) == bits) {
                return;
            }
        }
        memory.writeDword(addr, old | (int) bits);
    }

    private boolean isRam(long gpa) {
        for (MemoryRegion r : ram) {
            if (r.contains(gpa)) {
                return true;
            }
        }
        return false;
    }

    // =====================================================================================
    // Engine notifications: nothing of the guest's tables is cached here
    // =====================================================================================

    @Override
    public synchronized void invalidatePage(int vcpu, long linear) {
        invlpgs++;
    }

    @Override
    public synchronized void pagingChanged(int vcpu, PagingMode mode) {
        pagingChanges++;
    }

    @Override
    public long tlbEpoch(int vcpu) {
        return epoch;
    }

    // =====================================================================================
    // Dirty-page logging
    // =====================================================================================

    @Override
    public Optional<DirtyPageLog> dirtyLog() {
        return Optional.of(log);
    }

    /** Dirty logging through the nested table: RAM leaves lose W, the first write to each page logs it. */
    private final class Log implements DirtyPageLog {
        boolean active;
        BitSet dirty = new BitSet();
        /** The previous round's pages: engines may still write them through their TLBs until they flush. */
        BitSet carry = new BitSet();

        @Override
        public void start() {
            synchronized (SlatMmu.this) {
                active = true;
                dirty = new BitSet();
                carry = new BitSet();
                for (MemoryRegion r : ram) {
                    for (long gpa = r.guestBase(); gpa < r.end(); gpa += 4096) {
                        nested.split(gpa, false); // as far as the cap allows; the rest stays 2 MiB, read-only
                        nested.protectLeaf(gpa, 0, NestedTable.W);
                        carry.set((int) (gpa >>> 12)); // writable until each engine flushes: report once
                    }
                }
                epoch++;
            }
        }

        @Override
        public void stop() {
            synchronized (SlatMmu.this) {
                active = false;
                for (MemoryRegion r : ram) {
                    for (long gpa = r.guestBase(); gpa < r.end(); gpa += 4096) {
                        nested.protectLeaf(gpa, NestedTable.W, 0);
                    }
                }
                dirty = new BitSet();
                carry = new BitSet();
            }
        }

        @Override
        public boolean active() {
            synchronized (SlatMmu.this) {
                return active;
            }
        }

        @Override
        public BitSet collect() {
            synchronized (SlatMmu.this) {
                BitSet out = (BitSet) dirty.clone();
                out.or(carry);
                if (!active) {
                    return out;
                }
                for (int p = dirty.nextSetBit(0); p >= 0; p = dirty.nextSetBit(p + 1)) {
                    nested.protectLeaf((long) p << 12, 0, NestedTable.W);
                }
                carry = dirty;
                dirty = new BitSet();
                logRounds++;
                epoch++;
                return out;
            }
        }
    }

    // =====================================================================================
    // Statistics and life cycle
    // =====================================================================================

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("2d-walk-steps", nested.steps);
        m.put("guest-walks", guestWalks);
        m.put("guest-table-reads", guestTableReads);
        m.put("nested-walks", nestedWalks);
        m.put("nested-violations", violationsMmio + violationsWriteProtect + violationsDirtyLog);
        m.put("nested-violations-mmio", violationsMmio);
        m.put("nested-violations-write-protect", violationsWriteProtect);
        m.put("nested-violations-dirty-log", violationsDirtyLog);
        m.put("dirty-pages", (long) log.dirty.cardinality());
        m.put("dirty-pages-logged", dirtyPagesLogged);
        m.put("dirty-log-rounds", logRounds);
        m.put("nested-table-pages", (long) nested.tablePages());
        m.put("nested-table-pages-cap", (long) nested.maxPages);
        m.put("nested-evictions", nested.evictions);
        m.put("nested-2m-leaves", (long) nested.largeLeaves);
        m.put("nested-4k-leaves", (long) nested.smallLeaves);
        m.put("guest-page-faults", guestFaults);
        m.put("invlpg", invlpgs);
        m.put("paging-changes", pagingChanges);
        m.put("physical-mode-translations", physicalMode);
        m.put("vcpus", (long) vcpus);
        return m;
    }

    @Override
    public synchronized void close() {
        closed = true;
    }
}
