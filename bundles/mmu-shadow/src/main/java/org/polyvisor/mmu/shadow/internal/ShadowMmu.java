package org.polyvisor.mmu.shadow.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.DescriptorTableTrace;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.mmu.Translation;

/**
 * Shadow paging for one VM.
 *
 * <p>For every guest address space (a root: CR3 plus the paging-mode bits that change how its
 * tables read) the MMU keeps a shadow directory of shadow page tables holding the combined
 * guest-linear to guest-physical translations with their effective permissions, built lazily from
 * guest walks (a shadow miss, VMware's "hidden page fault"). Each guest page-table page behind a
 * shadow is traced: a {@link GuestMemory#watch} on it reports every write (a trace fault), and the
 * shadow entries derived from the written guest entries are dropped, to be rebuilt on the next
 * miss. So roots stay coherent while inactive and are reused across CR3 switches. A clean guest page
 * (dirty bit 0) is shadowed read-only: its first write misses, and the guest walk sets the dirty bit.
 *
 * <p>Semantics are those of the architectural walk ({@code PageWalker}): a shadow entry exists only
 * for a walk that succeeded (accessed bits set), a protection fault found on a shadow entry has the
 * error code the walk would give, and anything the guest changes in its tables drops the entries
 * concerned. Guest page tables may be anywhere: outside RAM (read as all ones), in ROM (accessed and
 * dirty updates dropped, as the bus drops them), at themselves (recursive maps: one page both a
 * directory and a table, traced in both roles).
 *
 * <p>Memory is bounded: at most {@code maxTables} shadow page tables and {@code maxRoots} roots;
 * beyond, least recently used inactive roots are evicted, then everything.
 *
 * <p>Thread safety: one lock per VM; trace faults from other threads take it too.
 */
final class ShadowMmu implements Mmu {

    static final int DEFAULT_MAX_TABLES = 2048; // 2048 x 8 KiB = 16 MiB at most
    static final int DEFAULT_MAX_ROOTS = 128;

    // Guest paging-structure bits (SDM Vol. 3A, 4.3 and 4.4).
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

    // Shadow entry bits (a shadow entry of 0 is empty).
    private static final long S_VALID = 1;
    private static final long S_RW = 1 << 1;
    private static final long S_US = 1 << 2;
    private static final long S_DIRTY = 1 << 6;
    private static final long S_GLOBAL = 1 << 8;
    private static final long S_NX = 1 << 9;
    private static final long S_LARGE = 1 << 10;
    private static final long S_MMIO = 1 << 11;
    private static final long S_FRAME = 0x000F_FFFF_FFFF_F000L;

    // Root key flags (in the low bits of the root's table address).
    private static final long K_PAE = 1;
    private static final long K_PSE = 2;
    private static final long K_WP = 4;
    private static final long K_NXE = 8;

    private final GuestMemory memory;
    private final MemoryRegion[] ram;
    private final int maxTables;
    private final int maxRoots;

    private final LinkedHashMap<Long, Root> roots = new LinkedHashMap<>(16, 0.75f, true);
    private final Root[] active;
    private final Map<Long, Traced> traced = new HashMap<>();
    private int tableCount;
    /** True while this MMU writes accessed/dirty bits itself (see {@link #selfWritten}). */
    private boolean selfWrite;
    /** With {@link #selfWrite}: the write sets a dirty bit. */
    private boolean selfDirty;
    /** Set when our own accessed/dirty update dropped shadow structures: the walk in progress caches nothing. */
    private boolean walkInvalidated;
    private boolean closed;

    // counters
    private long hits;
    private long misses;
    private long dirtyMisses;
    private long traceFaults;
    private long entriesDropped;
    private long tablesBuilt;
    private long tablesReused;
    private long tablesZapped;
    private long rootsBuilt;
    private long rootsReused;
    private long cr3Switches;
    private long evictions;
    private int peakTables;
    private long invlpgs;
    private long guestFaults;
    private long physicalMode;
    private long descriptorTraceFaults;

    ShadowMmu(GuestMemory memory, int vcpus, int maxTables, int maxRoots) {
        this.memory = memory;
        this.ram = memory.regions().stream().filter(r -> r.kind() == MemoryRegion.Kind.RAM)
                .toArray(MemoryRegion[]::new);
        this.maxTables = Math.max(1, maxTables);
        this.maxRoots = Math.max(1, maxRoots);
        this.active = new Root[Math.max(1, vcpus)];
    }

    // =====================================================================================
    // Structures
    // =====================================================================================

    /** The shadow of one guest address space: a directory of shadow page tables. */
    private static final class Root {
        final long key;
        final long base;
        final boolean pae;
        final boolean pse;
        final boolean wp;
        final boolean nxe;
        /** 1024 (32-bit paging: one per PDE) or 2048 (PAE: 4 PDPTEs x 512 PDEs). */
        final Table[] dirs;
        /** Guest page directories traced for this root: 1 (32-bit) or up to 4 (PAE); -1 if none. */
        final long[] pdPages;
        int tables;
        int activeOn;

        Root(long key, long base, boolean pae, boolean pse, boolean wp, boolean nxe) {
            this.key = key;
            this.base = base;
            this.pae = pae;
            this.pse = pse;
            this.wp = wp;
            this.nxe = nxe;
            this.dirs = new Table[pae ? 2048 : 1024];
            this.pdPages = new long[pae ? 4 : 1];
            java.util.Arrays.fill(pdPages, -1);
        }

        int dirIndex(long linear) {
            return (int) (pae ? linear >>> 21 : linear >>> 22);
        }

        int entryIndex(long linear) {
            return (int) (pae ? (linear >>> 12) & 0x1FF : (linear >>> 12) & 0x3FF);
        }
    }

    /** A shadow page table: the shadow of one guest page table, or of one large page. */
    private static final class Table {
        final Root root;
        final int dir;
        /** Guest-physical page of the guest page table, or -1 for a large page. */
        final long guestPage;
        final long[] entries;

        Table(Root root, int dir, long guestPage) {
            this.root = root;
            this.dir = dir;
            this.guestPage = guestPage;
            this.entries = new long[root.pae ? 512 : 1024];
        }
    }

    /** A guest page directory used by a root: quadrant 0..3 of a PAE root, 0 for 32-bit paging. */
    private record DirUse(Root root, int quadrant) {
    }

    /** A traced guest page and the shadow structures that depend on it. */
    private final class Traced {
        final long page;
        final GuestMemory.WriteWatch watch;
        final List<Table> tables = new ArrayList<>(1);
        final List<DirUse> dirs = new ArrayList<>(1);
        final List<Root> pdpts = new ArrayList<>(0);
        final List<DescriptorTrace> descriptors = new ArrayList<>(0);

        Traced(long page) {
            this.page = page;
            this.watch = memory.watch(page << 12, 4096, ShadowMmu.this::written);
        }

        boolean unused() {
            return tables.isEmpty() && dirs.isEmpty() && pdpts.isEmpty() && descriptors.isEmpty();
        }
    }

    private Traced trace(long gpa) {
        long page = gpa >>> 12;
        Traced t = traced.get(page);
        if (t == null) {
            t = new Traced(page);
            traced.put(page, t);
        }
        return t;
    }

    private void untraceIfUnused(Traced t) {
        if (t != null && t.unused()) {
            t.watch.close();
            traced.remove(t.page);
        }
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
            return linear | Translation.WRITABLE | Translation.DIRTY | Translation.USER
                    | (memory.isMemory(linear) ? 0 : Translation.MMIO);
        }
        Root r = rootFor(vcpu, mode);
        Table t = r.dirs[r.dirIndex(linear)];
        long e = t == null ? 0 : t.entries[r.entryIndex(linear)];
        boolean write = access == Access.WRITE;
        if (e != 0) {
            int base = baseError(r, access, user);
            if (user && (e & S_US) == 0
                    || write && (e & S_RW) == 0 && (user || r.wp)
                    || access == Access.EXECUTE && r.nxe && (e & S_NX) != 0) {
                guestFaults++;
                throw new PageFault(linear, base | PageFault.P);
            }
            if (!write || (e & S_DIRTY) != 0) {
                hits++;
                return result(r, e, linear, user);
            }
            dirtyMisses++; // a clean page mapped read-only: the first write walks to set the dirty bit
        } else {
            misses++;
        }
        return walk(r, linear, access, user);
    }

    private static int baseError(Root r, Access access, boolean user) {
        return (access == Access.WRITE ? PageFault.W : 0) | (user ? PageFault.U : 0)
                | (access == Access.EXECUTE && r.nxe ? PageFault.ID : 0);
    }

    private static long result(Root r, long e, long linear, boolean user) {
        boolean writable = (e & S_RW) != 0 || !user && !r.wp;
        return (e & S_FRAME) | (linear & 0xFFF)
                | (writable ? Translation.WRITABLE : 0)
                | ((e & S_US) != 0 ? Translation.USER : 0)
                | ((e & S_DIRTY) != 0 ? Translation.DIRTY : 0)
                | ((e & S_GLOBAL) != 0 ? Translation.GLOBAL : 0)
                | ((e & S_LARGE) != 0 ? Translation.LARGE : 0)
                | ((e & S_NX) != 0 && r.nxe ? Translation.NO_EXECUTE : 0)
                | ((e & S_MMIO) != 0 ? Translation.MMIO : 0);
    }

    /**
     * The guest walk of a shadow miss, step for step the architectural one (same reads, same
     * checks in the same order, same accessed/dirty updates), tracing each guest page-table page
     * before reading from it and filling the shadow entry at the end.
     */
    private long walk(Root r, long linear, Access access, boolean user) throws PageFault {
        walkInvalidated = false;
        boolean write = access == Access.WRITE;
        int base = baseError(r, access, user);
        int dir = r.dirIndex(linear);
        long pdeAddr;
        long pde;
        if (r.pae) {
            long pdpteAddr = r.base + ((linear >>> 30) << 3);
            long pdpte = memory.readQword(pdpteAddr);
            if ((pdpte & P) == 0) {
                throw fault(linear, base);
            }
            if ((pdpte & (0x1E6L | 0xFFF0_0000_0000_0000L)) != 0) {
                throw fault(linear, base | PageFault.P | PageFault.RSVD);
            }
            int q = (int) (linear >>> 30);
            long pd = pdpte & 0x000F_FFFF_FFFF_F000L;
            useDirectory(r, q, pd);
            pdeAddr = pd + (((linear >>> 21) & 0x1FF) << 3);
            pde = memory.readQword(pdeAddr);
            if ((pde & P) == 0) {
                throw fault(linear, base);
            }
            long rsvdHigh = r.nxe ? 0x7FF0_0000_0000_0000L : 0xFFF0_0000_0000_0000L;
            if ((pde & rsvdHigh) != 0 || (pde & PS) != 0 && (pde & 0x001F_E000L) != 0) {
                throw fault(linear, base | PageFault.P | PageFault.RSVD);
            }
            if ((pde & PS) != 0) {
                check(r, pde, pde, linear, write, user, base);
                checkNx(r, pde, 0, access, linear, base);
                setBits(pdeAddr, pde, write ? A | D : A);
                long frame = (pde & 0x000F_FFFF_FFE0_0000L) | (linear & 0x1F_F000L);
                return fill(r, dir, -1, linear, frame, pde, pde, write, true, user);
            }
            long pt = pde & 0x000F_FFFF_FFFF_F000L;
            Table t = tableFor(r, dir, pt);
            long pteAddr = pt + (((linear >>> 12) & 0x1FF) << 3);
            long pte = memory.readQword(pteAddr);
            if ((pte & P) == 0) {
                throw fault(linear, base);
            }
            if ((pte & rsvdHigh) != 0) {
                throw fault(linear, base | PageFault.P | PageFault.RSVD);
            }
            check(r, pde, pte, linear, write, user, base);
            checkNx(r, pde, pte, access, linear, base);
            setBits(pdeAddr, pde, A);
            setBits(pteAddr, pte, write ? A | D : A);
            return fill(r, dir, t.guestPage, linear, pte & 0x000F_FFFF_FFFF_F000L, pde, pte, write, false, user);
        }
        useDirectory(r, 0, r.base);
        pdeAddr = r.base + ((linear >>> 22) << 2);
        pde = memory.readDword(pdeAddr) & 0xFFFF_FFFFL;
        if ((pde & P) == 0) {
            throw fault(linear, base);
        }
        if (r.pse && (pde & PS) != 0) {
            if ((pde & 0x003F_E000L) != 0) { // bits 21:13 reserved (no PSE-36)
                throw fault(linear, base | PageFault.P | PageFault.RSVD);
            }
            check(r, pde, pde, linear, write, user, base);
            setBits(pdeAddr, pde, write ? A | D : A);
            long frame = (pde & 0xFFC0_0000L) | (linear & 0x003F_F000L);
            return fill(r, dir, -1, linear, frame, pde, pde, write, true, user);
        }
        long pt = pde & 0xFFFF_F000L;
        Table t = tableFor(r, dir, pt);
        long pteAddr = pt + (((linear >>> 12) & 0x3FF) << 2);
        long pte = memory.readDword(pteAddr) & 0xFFFF_FFFFL;
        if ((pte & P) == 0) {
            throw fault(linear, base);
        }
        check(r, pde, pte, linear, write, user, base);
        setBits(pdeAddr, pde, A);
        setBits(pteAddr, pte, write ? A | D : A);
        return fill(r, dir, t.guestPage, linear, pte & 0xFFFF_F000L, pde, pte, write, false, user);
    }

    private PageFault fault(long linear, int errorCode) {
        guestFaults++;
        return new PageFault(linear, errorCode);
    }

    private void check(Root r, long pde, long pte, long linear, boolean write, boolean user, int base)
            throws PageFault {
        boolean userOk = (pde & US) != 0 && (pte & US) != 0;
        boolean rw = (pde & RW) != 0 && (pte & RW) != 0;
        if (user && !userOk) {
            throw fault(linear, base | PageFault.P);
        }
        if (write && !(rw || !user && !r.wp)) {
            throw fault(linear, base | PageFault.P);
        }
    }

    private void checkNx(Root r, long pde, long pte, Access access, long linear, int base) throws PageFault {
        if (r.nxe && access == Access.EXECUTE && ((pde | pte) & XD) != 0) {
            throw fault(linear, base | PageFault.P);
        }
    }

    /** Records the translation in the shadow (creating the large-page table if needed) and returns it. */
    private long fill(Root r, int dir, long guestPage, long linear, long frame, long pde, long pte, boolean write,
                      boolean large, boolean user) {
        Table t = walkInvalidated ? null : large ? largeTableFor(r, dir) : r.dirs[dir];
        long e = S_VALID | (frame & S_FRAME)
                | ((pde & RW) != 0 && (pte & RW) != 0 ? S_RW : 0)
                | ((pde & US) != 0 && (pte & US) != 0 ? S_US : 0)
                | (write || (pte & D) != 0 ? S_DIRTY : 0)
                | ((pte & G) != 0 ? S_GLOBAL : 0)
                | (r.pae && ((pde | pte) & XD) != 0 ? S_NX : 0)
                | (large ? S_LARGE : 0)
                | (memory.isMemory(frame) ? 0 : S_MMIO);
        if (t != null && t.guestPage == guestPage && !walkInvalidated) {
            t.entries[r.entryIndex(linear)] = e;
        }
        return result(r, e, linear, user);
    }

    /** Sets accessed/dirty bits with a compare-and-swap, as the processor's locked update does. */
    private void setBits(long addr, long entry, long bits) {
        if ((entry & bits) == bits || !writableRam(addr)) {
            return; // already set, or the table is in ROM / outside RAM: the bus drops the write
        }
        selfWrite = true;
        selfDirty = (bits & D) != 0 && (entry & D) == 0;
        try {
            int old = (int) entry;
            for (int tries = 0; tries < 16; tries++) {
                if (memory.compareAndSwapInt(addr, old, old | (int) bits)) {
                    break;
                }
                old = memory.readDword(addr);
                if ((old & bits) == bits) {
                    break;
                }
                if (tries == 15) {
                    memory.writeDword(addr, old | (int) bits);
                }
            }
        } finally {
            selfWrite = false;
        }
    }

    private boolean writableRam(long gpa) {
        for (MemoryRegion m : ram) {
            if (m.contains(gpa)) {
                return (gpa & 3) == 0;
            }
        }
        return false;
    }

    // =====================================================================================
    // Roots and tables
    // =====================================================================================

    private static long keyOf(PagingMode mode) {
        boolean pae = (mode.cr4() & CR4_PAE) != 0;
        long base = pae ? mode.cr3() & 0xFFFF_FFE0L : mode.cr3() & 0xFFFF_F000L;
        return base << 4 | (pae ? K_PAE : 0) | ((mode.cr4() & CR4_PSE) != 0 ? K_PSE : 0)
                | ((mode.cr0() & CR0_WP) != 0 ? K_WP : 0) | (pae && (mode.efer() & EFER_NXE) != 0 ? K_NXE : 0);
    }

    private Root rootFor(int vcpu, PagingMode mode) {
        long key = keyOf(mode);
        Root r = vcpu < active.length ? active[vcpu] : null;
        if (r != null && r.key == key) {
            return r;
        }
        return switchRoot(vcpu, key);
    }

    private Root switchRoot(int vcpu, long key) {
        cr3Switches++;
        Root r = roots.get(key);
        if (r != null) {
            rootsReused++;
            tablesReused += r.tables;
        } else {
            r = new Root(key, key >>> 4, (key & K_PAE) != 0, (key & K_PSE) != 0, (key & K_WP) != 0,
                    (key & K_NXE) != 0);
            roots.put(key, r);
            rootsBuilt++;
            if (r.pae) {
                trace(r.base).pdpts.add(r);
            }
        }
        if (vcpu < active.length) {
            Root old = active[vcpu];
            if (old != null) {
                old.activeOn--;
            }
            active[vcpu] = r;
            r.activeOn++;
        }
        evictRoots();
        return r;
    }

    /** Makes sure the guest directory of quadrant {@code q} is traced for the root. */
    private void useDirectory(Root r, int q, long pd) {
        if (r.pdPages[q] == pd) {
            return;
        }
        if (r.pdPages[q] >= 0) {
            dropQuadrant(r, q);
        }
        r.pdPages[q] = pd;
        trace(pd).dirs.add(new DirUse(r, q));
    }

    private void dropQuadrant(Root r, int q) {
        long pd = r.pdPages[q];
        if (pd < 0) {
            return;
        }
        int from = r.pae ? q * 512 : 0;
        int to = r.pae ? from + 512 : 1024;
        for (int i = from; i < to; i++) {
            zap(r, i);
        }
        Traced t = traced.get(pd >>> 12);
        if (t != null) {
            t.dirs.remove(new DirUse(r, q));
            untraceIfUnused(t);
        }
        r.pdPages[q] = -1;
    }

    private Table tableFor(Root r, int dir, long guestTable) {
        Table t = r.dirs[dir];
        if (t != null && t.guestPage == guestTable) {
            return t;
        }
        zap(r, dir);
        t = new Table(r, dir, guestTable);
        r.dirs[dir] = t;
        trace(guestTable).tables.add(t);
        built(r);
        return t;
    }

    private Table largeTableFor(Root r, int dir) {
        Table t = r.dirs[dir];
        if (t != null && t.guestPage == -1) {
            return t;
        }
        zap(r, dir);
        t = new Table(r, dir, -1);
        r.dirs[dir] = t;
        built(r);
        return t;
    }

    private void built(Root r) {
        r.tables++;
        tableCount++;
        tablesBuilt++;
        if (tableCount > maxTables) {
            evictTables(r);
        }
        peakTables = Math.max(peakTables, tableCount);
    }

    private void zap(Root r, int dir) {
        Table t = r.dirs[dir];
        if (t == null) {
            return;
        }
        r.dirs[dir] = null;
        r.tables--;
        tableCount--;
        tablesZapped++;
        if (t.guestPage >= 0) {
            Traced tr = traced.get(t.guestPage >>> 12);
            if (tr != null) {
                tr.tables.remove(t);
                untraceIfUnused(tr);
            }
        }
    }

    private void dropRoot(Root r) {
        for (int q = 0; q < r.pdPages.length; q++) {
            dropQuadrant(r, q);
        }
        for (int i = 0; i < r.dirs.length; i++) {
            zap(r, i);
        }
        if (r.pae) {
            Traced t = traced.get(r.base >>> 12);
            if (t != null) {
                t.pdpts.remove(r);
                untraceIfUnused(t);
            }
        }
    }

    /** Keeps the number of roots under the cap: the least recently used inactive ones go. */
    private void evictRoots() {
        var it = roots.values().iterator();
        while (roots.size() > maxRoots && it.hasNext()) {
            Root victim = it.next();
            if (victim.activeOn == 0) {
                it.remove();
                dropRoot(victim);
                evictions++;
            }
        }
    }

    /** Over the table cap: evict inactive roots (least recently used first), then all tables but {@code keep}'s. */
    private void evictTables(Root keep) {
        var it = roots.values().iterator();
        while (tableCount > maxTables && it.hasNext()) {
            Root victim = it.next();
            if (victim.activeOn == 0 && victim != keep) {
                it.remove();
                dropRoot(victim);
                evictions++;
            }
        }
        if (tableCount > maxTables) {
            evictions++;
            for (Root r : roots.values()) {
                for (int i = 0; i < r.dirs.length && tableCount > maxTables / 2; i++) {
                    if (r != keep || r.dirs[i] != null && r.tables > 1) {
                        zap(r, i);
                    }
                }
            }
        }
    }

    // =====================================================================================
    // Tracing
    // =====================================================================================

    /** A write to a traced guest page: drop what was derived from the written entries. */
    private synchronized void written(long gpa, int length) {
        if (closed) {
            return;
        }
        Traced t = traced.get(gpa >>> 12);
        if (t == null) {
            return;
        }
        if (selfWrite) {
            selfWritten(t, gpa);
            return;
        }
        traceFaults++;
        int off = (int) (gpa & 0xFFF);
        int last = off + Math.max(length, 1) - 1;
        for (Table table : t.tables.toArray(new Table[0])) {
            int shift = table.root.pae ? 3 : 2;
            for (int i = off >>> shift; i <= last >>> shift && i < table.entries.length; i++) {
                if (table.entries[i] != 0) {
                    table.entries[i] = 0;
                    entriesDropped++;
                }
            }
        }
        for (DirUse u : t.dirs.toArray(new DirUse[0])) {
            Root r = u.root();
            int shift = r.pae ? 3 : 2;
            int from = r.pae ? u.quadrant() * 512 : 0;
            for (int i = off >>> shift; i <= last >>> shift && i < (r.pae ? 512 : 1024); i++) {
                zap(r, from + i);
            }
        }
        for (Root r : t.pdpts.toArray(new Root[0])) {
            long start = r.base & 0xFFF;
            if (last >= start && off < start + 32) {
                for (int q = 0; q < 4; q++) {
                    dropQuadrant(r, q);
                }
            }
        }
        for (DescriptorTrace d : t.descriptors) {
            d.version++;
            descriptorTraceFaults++;
        }
    }

    /**
     * Our own walk set accessed/dirty bits in the low dword of an entry at {@code gpa}. Where that dword
     * is a 32-bit entry or the low half of a 64-bit one, setting A or D invalidates nothing (a shadow
     * entry exists only for a walk that set A), but other shadow entries backed by the same guest entry
     * (aliases, recursive maps, other roots) learn that the page is dirty. Where the same bytes are the
     * high half of a 64-bit entry (address bits) or a PAE PDPTE (A and D are reserved there), the write
     * is a real change and is handled like a guest write.
     */
    private void selfWritten(Traced t, long gpa) {
        int off = (int) (gpa & 0xFFF);
        for (Table table : t.tables.toArray(new Table[0])) {
            boolean pae = table.root.pae;
            int i = off >>> (pae ? 3 : 2);
            if (pae && (off & 7) != 0) {
                if (table.entries[i] != 0) {
                    table.entries[i] = 0;
                    entriesDropped++;
                    walkInvalidated = true;
                }
            } else if (selfDirty && table.entries[i] != 0) {
                table.entries[i] |= S_DIRTY;
            }
        }
        for (DirUse u : t.dirs.toArray(new DirUse[0])) {
            Root r = u.root();
            int dir = (r.pae ? u.quadrant() * 512 : 0) + (off >>> (r.pae ? 3 : 2));
            if (r.pae && (off & 7) != 0) {
                if (r.dirs[dir] != null) {
                    zap(r, dir);
                    walkInvalidated = true;
                }
            } else if (selfDirty && r.dirs[dir] != null && r.dirs[dir].guestPage == -1) {
                long[] entries = r.dirs[dir].entries;
                for (int i = 0; i < entries.length; i++) {
                    if (entries[i] != 0) {
                        entries[i] |= S_DIRTY;
                    }
                }
            }
        }
        for (Root r : t.pdpts.toArray(new Root[0])) {
            long start = r.base & 0xFFF;
            if (off + 3 >= start && off < start + 32) {
                for (int q = 0; q < 4; q++) {
                    dropQuadrant(r, q);
                }
                walkInvalidated = true;
            }
        }
        for (DescriptorTrace d : t.descriptors) {
            d.version++;
            descriptorTraceFaults++;
        }
    }

    // =====================================================================================
    // Engine notifications
    // =====================================================================================

    @Override
    public synchronized void invalidatePage(int vcpu, long linear) {
        // The shadow follows the guest's tables through tracing, so nothing it holds is stale;
        // INVLPG only concerns the engine's own TLB.
        invlpgs++;
    }

    @Override
    public synchronized void pagingChanged(int vcpu, PagingMode mode) {
        if (mode.enabled()) {
            rootFor(vcpu, mode);
        }
    }

    // =====================================================================================
    // Descriptor tables
    // =====================================================================================

    /** A traced descriptor table: the pages under it and the guest entries mapping them. */
    private final class DescriptorTrace implements DescriptorTableTrace {
        final List<Traced> pages = new ArrayList<>();
        volatile long version;
        boolean open = true;

        @Override
        public long version() {
            return version;
        }

        @Override
        public void close() {
            synchronized (ShadowMmu.this) {
                if (!open) {
                    return;
                }
                open = false;
                for (Traced t : pages) {
                    t.descriptors.remove(this);
                    untraceIfUnused(t);
                }
                pages.clear();
            }
        }
    }

    @Override
    public synchronized Optional<DescriptorTableTrace> traceDescriptorTable(int vcpu, PagingMode mode, long base,
                                                                         int limit) {
        DescriptorTrace d = new DescriptorTrace();
        long first = base & 0xFFFF_FFFFL & ~0xFFFL;
        long end = (base & 0xFFFF_FFFFL) + (limit & 0xFFFF_FFFFL);
        for (long page = first; page <= end && page <= 0xFFFF_FFFFL; page += 4096) {
            for (long gpa : mapping(mode, page)) {
                Traced t = trace(gpa);
                if (!t.descriptors.contains(d)) {
                    t.descriptors.add(d);
                    d.pages.add(t);
                }
            }
        }
        return Optional.of(d);
    }

    /**
     * The guest-physical pages a linear page's translation depends on (its paging-structure entries
     * and the page itself), found without setting accessed bits.
     */
    private List<Long> mapping(PagingMode mode, long linear) {
        List<Long> out = new ArrayList<>(4);
        if (!mode.enabled()) {
            out.add(linear);
            return out;
        }
        boolean pae = (mode.cr4() & CR4_PAE) != 0;
        long pde;
        if (pae) {
            long pdpteAddr = (mode.cr3() & 0xFFFF_FFE0L) + ((linear >>> 30) << 3);
            out.add(pdpteAddr);
            long pdpte = memory.readQword(pdpteAddr);
            if ((pdpte & P) == 0) {
                return out;
            }
            long pdeAddr = (pdpte & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 21) & 0x1FF) << 3);
            out.add(pdeAddr);
            pde = memory.readQword(pdeAddr);
            if ((pde & P) == 0) {
                return out;
            }
            if ((pde & PS) != 0) {
                out.add((pde & 0x000F_FFFF_FFE0_0000L) | (linear & 0x1F_F000L));
                return out;
            }
            long pteAddr = (pde & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 12) & 0x1FF) << 3);
            out.add(pteAddr);
            long pte = memory.readQword(pteAddr);
            if ((pte & P) != 0) {
                out.add(pte & 0x000F_FFFF_FFFF_F000L);
            }
            return out;
        }
        long pdeAddr = (mode.cr3() & 0xFFFF_F000L) + ((linear >>> 22) << 2);
        out.add(pdeAddr);
        pde = memory.readDword(pdeAddr) & 0xFFFF_FFFFL;
        if ((pde & P) == 0) {
            return out;
        }
        if ((mode.cr4() & CR4_PSE) != 0 && (pde & PS) != 0) {
            out.add((pde & 0xFFC0_0000L) | (linear & 0x003F_F000L));
            return out;
        }
        long pteAddr = (pde & 0xFFFF_F000L) + (((linear >>> 12) & 0x3FF) << 2);
        out.add(pteAddr);
        long pte = memory.readDword(pteAddr) & 0xFFFF_FFFFL;
        if ((pte & P) != 0) {
            out.add(pte & 0xFFFF_F000L);
        }
        return out;
    }

    // =====================================================================================
    // Statistics and life cycle
    // =====================================================================================

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("shadow-hits", hits);
        m.put("shadow-misses", misses);
        m.put("dirty-misses", dirtyMisses);
        m.put("trace-faults", traceFaults);
        m.put("shadow-entries-dropped", entriesDropped);
        m.put("shadow-pages-built", tablesBuilt);
        m.put("shadow-pages-reused", tablesReused);
        m.put("shadow-pages-zapped", tablesZapped);
        m.put("shadow-pages", (long) tableCount);
        m.put("shadow-pages-peak", (long) peakTables);
        m.put("shadow-pages-cap", (long) maxTables);
        m.put("roots", (long) roots.size());
        m.put("roots-built", rootsBuilt);
        m.put("roots-reused", rootsReused);
        m.put("cr3-switches", cr3Switches);
        m.put("evictions", evictions);
        m.put("traced-pages", (long) traced.size());
        m.put("guest-page-faults", guestFaults);
        m.put("invlpg", invlpgs);
        m.put("physical-mode-translations", physicalMode);
        m.put("descriptor-trace-faults", descriptorTraceFaults);
        return m;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Traced t : traced.values()) {
            t.watch.close();
        }
        traced.clear();
        roots.clear();
        java.util.Arrays.fill(active, null);
        tableCount = 0;
    }
}
