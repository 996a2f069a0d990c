package org.polyvisor.testing;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.mmu.Translation;
import org.polyvisor.x86.paging.PageWalker;

/**
 * Random page tables and random accesses, run through an MMU strategy and through the architectural
 * walker ({@link PageWalker}) on two copies of the same memory: every access must give the same
 * physical address and permissions or the same fault with the same error code, and leave the same
 * accessed/dirty bits in the tables. Between accesses the guest edits entries (traced), clears
 * accessed/dirty bits, switches CR3, toggles CR0.WP/CR4.PSE/PAE/PGE/EFER.NXE and runs INVLPG.
 *
 * <p>Tables live in a pool of pages; entries point into the pool (including at their own table:
 * recursive maps), at ROM (entries there have accessed and dirty set, since the reference walker's
 * compare-and-swap cannot write ROM), outside RAM (reads as all ones), or at data frames.
 */
public class MmuDifferential {

    /** Bytes of RAM, from address 0. */
    public static final int RAM = 8 << 20;
    /** A 64 KiB ROM window inside the 4 GiB space, above RAM (15 MiB). */
    public static final long ROM_BASE = 0x00F0_0000L;
    /** Size of the ROM window. */
    public static final int ROM_SIZE = 0x1_0000;
    private static final long POOL = 0x0010_0000L;
    private static final int POOL_PAGES = 48;
    private static final long OUTSIDE = 0xFEE0_0000L;

    private final Random rnd;
    private final FakeGuestMemory ref;
    private final FakeGuestMemory sut;
    private final Mmu mmu;
    private long cr0 = 0x8001_0011L; // PG, WP, ET, PE
    private long cr3;
    private long cr4;
    private long efer;
    private long accesses;
    private long faults;

    private final long[] hot = new long[48];
    private final boolean paeTables;

    /**
     * The memory layout of these tests: {@link #RAM} bytes of RAM at 0 and a ROM region named
     * "rom" at {@link #ROM_BASE}.
     *
     * @return zeroed memory
     */
    public static FakeGuestMemory memory() {
        return FakeGuestMemory.builder().ram(0, RAM).rom(ROM_BASE, ROM_SIZE, "rom").build();
    }

    /**
     * {@link #memory()} with a 32-bit address space: the page directory at 0x1000, one page table
     * at 0x2000 mapping 0-4 MiB identically.
     *
     * @param flags the low bits of every entry (e.g. 7 for present, writable, user)
     * @return the memory
     */
    public static FakeGuestMemory identitySpace(int flags) {
        FakeGuestMemory m = memory();
        m.writeDword(0x1000, 0x2000 | flags);
        for (int i = 0; i < 1024; i++) {
            m.writeDword(0x2000 + 4 * i, i << 12 | flags);
        }
        return m;
    }

    /**
     * Writes a dword of ROM, which guest writes cannot (test set-up only).
     *
     * @param m memory from {@link #memory()}
     * @param gpa an address in the ROM window
     * @param value the dword
     */
    public static void pokeRom(FakeGuestMemory m, long gpa, int value) {
        m.region("rom").backing().putInt((int) (gpa - ROM_BASE), value);
    }

    /**
     * Builds random tables in a fresh memory and the MMU under test on a copy of it.
     *
     * @param seed the random seed (a failure names it)
     * @param pae PAE-format tables (else 32-bit)
     * @param factory builds the MMU strategy under test on its memory
     */
    public MmuDifferential(long seed, boolean pae, Function<GuestMemory, Mmu> factory) {
        rnd = new Random(seed);
        paeTables = pae;
        FakeGuestMemory m = memory();
        cr4 = pae ? 0x20 : 0x10; // PAE or PSE
        efer = pae && rnd.nextBoolean() ? 1 << 11 : 0;
        for (int p = 0; p < POOL_PAGES; p++) {
            long page = POOL + p * 4096L;
            for (int i = 0; i < (pae ? 512 : 1024); i++) {
                writeEntry(m, page + (pae ? 8L : 4L) * i, entry(rnd.nextInt(3) == 0));
            }
            if (pae && p < 4) {
                for (int i = 0; i < 4; i++) { // the PDPT of root p: present entries, rarely reserved bits
                    long e = POOL + rnd.nextInt(POOL_PAGES) * 4096L | 1 | (rnd.nextInt(40) == 0 ? 0x40 : 0);
                    m.writeQword(page + 8L * i, rnd.nextInt(10) == 0 ? 0 : e);
                }
            }
        }
        for (int i = 0; i < ROM_SIZE; i += 8) {
            long e = entry(true) | 0x61; // P, A, D: the reference walker cannot update ROM
            pokeRom(m, ROM_BASE + i, (int) e);
            pokeRom(m, ROM_BASE + i + 4, pae ? (int) (e >>> 32) : (int) entry(true) | 0x61);
        }
        cr3 = pickRoot();
        for (int i = 0; i < hot.length; i++) {
            hot[i] = rnd.nextLong() & 0xFFFF_F000L;
        }
        ref = m;
        sut = m.copy();
        mmu = factory.apply(sut);
    }

    /** @return the memory the MMU under test runs on (for checks on its watches) */
    public FakeGuestMemory memoryUnderTest() {
        return sut;
    }

    /** @return the MMU under test */
    public Mmu mmu() {
        return mmu;
    }

    /** @return accesses made so far */
    public long accesses() {
        return accesses;
    }

    /** @return accesses so far that faulted */
    public long faults() {
        return faults;
    }

    private boolean pae() {
        return (cr4 & 0x20) != 0;
    }

    private PagingMode mode() {
        return new PagingMode(cr0, cr3, cr4, efer);
    }

    private long pickRoot() {
        return POOL + rnd.nextInt(4) * 4096L;
    }

    private long randomSlot() {
        return POOL + rnd.nextInt(POOL_PAGES) * 4096L + rnd.nextInt(1024) * 4L;
    }

    /** Where an entry points: mostly pool pages (tables, recursion), sometimes ROM, outside RAM, data. */
    private long target(boolean leaf) {
        int k = rnd.nextInt(100);
        if (leaf ? k < 20 : k < 85) {
            return POOL + rnd.nextInt(POOL_PAGES) * 4096L;
        }
        if (k < 90) {
            return ROM_BASE + rnd.nextInt(ROM_SIZE / 4096) * 4096L;
        }
        if (k < 93) {
            return OUTSIDE;
        }
        return (long) rnd.nextInt(RAM / 4096) * 4096L;
    }

    /** A mostly well-formed entry (present, often writable and user), with rare reserved bits. */
    private long entry(boolean leaf) {
        if (rnd.nextInt(12) == 0) {
            return 0;
        }
        long e = target(leaf) | 1 | (rnd.nextInt(5) != 0 ? 2 : 0) | (rnd.nextInt(5) != 0 ? 4 : 0)
                | (rnd.nextBoolean() ? 0x20 : 0) | (rnd.nextBoolean() ? 0x40 : 0)
                | (rnd.nextInt(4) == 0 ? 0x80 : 0) | (rnd.nextInt(3) == 0 ? 0x100 : 0);
        if (rnd.nextInt(50) == 0) {
            e |= 1L << (13 + rnd.nextInt(9)); // reserved in large-page entries
        }
        if (rnd.nextInt(5) == 0) {
            e |= 1L << 63; // XD (PAE); reserved without EFER.NXE
        }
        if (rnd.nextInt(80) == 0) {
            e |= 1L << (52 + rnd.nextInt(11)); // reserved high bits (PAE)
        }
        return e;
    }

    private long randomEntry() {
        return entry(rnd.nextBoolean());
    }

    private static void writeEntry(GuestMemory m, long slot, long e) {
        if ((slot & 7) == 0 && (e >>> 32) != 0) {
            m.writeQword(slot, e);
        } else {
            m.writeDword(slot, (int) e);
        }
    }

    private long randomLinear() {
        if (rnd.nextInt(5) != 0) {
            return hot[rnd.nextInt(hot.length)] | rnd.nextInt(4096);
        }
        return rnd.nextLong() & 0xFFFF_FFFFL;
    }

    /**
     * Runs random steps: accesses (70 %), traced entry edits, accessed/dirty clearing, CR3 switches,
     * paging-mode toggles, INVLPG and accesses with paging off.
     *
     * @param steps how many
     * @throws AssertionError at the first access that differs, and if RAM differs at the end
     */
    public void run(int steps) {
        for (int i = 0; i < steps; i++) {
            int k = rnd.nextInt(100);
            if (k < 70) {
                access();
            } else if (k < 80) {
                long slot = randomSlot();
                slot &= paeTables ? ~7 : ~3;
                long e = rnd.nextBoolean() ? randomEntry() : ref.readQword(slot) ^ (1L << rnd.nextInt(9));
                if (!paeTables) {
                    e &= 0xFFFF_FFFFL;
                }
                writeEntry(ref, slot, e);
                writeEntry(sut, slot, e);
            } else if (k < 86) {
                long slot = randomSlot();
                int v = ref.readDword(slot) & ~(rnd.nextBoolean() ? 0x20 : 0x60);
                ref.writeDword(slot, v);
                sut.writeDword(slot, v);
            } else if (k < 92) {
                cr3 = pickRoot();
                mmu.pagingChanged(0, mode());
            } else if (k < 95) {
                switch (rnd.nextInt(5)) {
                    case 0 -> cr0 ^= 1 << 16; // WP
                    case 1 -> cr4 ^= 0x10; // PSE
                    case 2 -> cr4 ^= rnd.nextInt(8) == 0 ? 0x20 : 0; // PAE (tables then read in the other format)
                    case 3 -> cr4 ^= 0x80; // PGE
                    default -> efer ^= 1 << 11; // NXE
                }
                mmu.pagingChanged(0, mode());
            } else if (k < 97) {
                mmu.invalidatePage(0, randomLinear());
            } else if (k < 98) {
                cr0 &= ~0x8000_0000L;
                mmu.pagingChanged(0, mode());
                access();
                cr0 |= 0x8000_0000L;
                mmu.pagingChanged(0, mode());
            } else {
                // the same page accessed several ways in a row (TLB-like reuse of shadow entries)
                long linear = randomLinear();
                for (int j = 0; j < 4; j++) {
                    access(linear ^ rnd.nextInt(4096), Access.values()[rnd.nextInt(3)], rnd.nextBoolean());
                }
            }
        }
        if (ref.region("ram").backing().mismatch(sut.region("ram").backing()) >= 0) {
            throw new AssertionError("RAM after the run differs: " + differences(ref, sut, 0, RAM));
        }
    }

    private void access() {
        access(randomLinear(), Access.values()[rnd.nextInt(3)], rnd.nextInt(3) == 0);
    }

    private void access(long linear, Access access, boolean user) {
        accesses++;
        PagingMode mode = mode();
        String what = String.format("%s %s at %08x, cr0 %x cr3 %x cr4 %x efer %x (access %d) walk %s",
                user ? "user" : "supervisor", access, linear, cr0, cr3, cr4, efer, accesses, chain(linear));
        long expected;
        PageFault expectedFault = null;
        try {
            expected = mode.enabled() ? PageWalker.walk(ref, mode, linear, access, user)
                    : linear | Translation.WRITABLE | Translation.DIRTY | Translation.USER;
        } catch (PageFault f) {
            expected = -1;
            expectedFault = f;
        }
        long actual;
        PageFault actualFault = null;
        try {
            actual = mmu.translate(0, mode, linear, access, user);
        } catch (PageFault f) {
            actual = -1;
            actualFault = f;
        }
        if (expectedFault != null) {
            faults++;
            if (actualFault == null) {
                throw new AssertionError(what + ": expected " + expectedFault.getMessage() + ", got "
                        + Translation.toString(actual));
            }
            same(expectedFault.getMessage(), actualFault.getMessage(), what);
        } else {
            if (actualFault != null) {
                throw new AssertionError(what + ": expected " + Translation.toString(expected) + ", got "
                        + actualFault.getMessage());
            }
            long mask = Translation.ADDRESS_MASK | Translation.USER | Translation.DIRTY | Translation.LARGE
                    | (mode.enabled() ? Translation.GLOBAL : 0) | writableMask(Translation.address(expected));
            same(Translation.toString(expected & mask), Translation.toString(actual & mask), what);
        }
        ByteBuffer a = ref.region("ram").backing().slice((int) POOL, POOL_PAGES * 4096);
        ByteBuffer b = sut.region("ram").backing().slice((int) POOL, POOL_PAGES * 4096);
        if (a.mismatch(b) >= 0) {
            throw new AssertionError(what + ": page tables differ: " + differences(ref, sut, POOL, POOL_PAGES * 4096));
        }
    }

    private static void same(String expected, String actual, String what) {
        if (!expected.equals(actual)) {
            throw new AssertionError(what + ": expected " + expected + ", got " + actual);
        }
    }

    /** The first differing dwords of two memories in a range (for failure messages). */
    private static List<String> differences(GuestMemory a, GuestMemory b, long from, int length) {
        List<String> out = new ArrayList<>();
        for (long p = from; p < from + length && out.size() < 8; p += 4) {
            int x = a.readDword(p);
            int y = b.readDword(p);
            if (x != y) {
                out.add(String.format("0x%x: %08x vs %08x", p, x, y));
            }
        }
        return out;
    }

    /** The guest entries a walk of {@code linear} reads (for failure messages). */
    private String chain(long linear) {
        if (!pae()) {
            long pdeAddr = (cr3 & 0xFFFF_F000L) + ((linear >>> 22) << 2);
            long pde = ref.readDword(pdeAddr) & 0xFFFF_FFFFL;
            long pteAddr = (pde & 0xFFFF_F000L) + (((linear >>> 12) & 0x3FF) << 2);
            return String.format("pde@%x=%x pte@%x=%x", pdeAddr, pde, pteAddr, ref.readDword(pteAddr));
        }
        long pdpteAddr = (cr3 & 0xFFFF_FFE0L) + ((linear >>> 30) << 3);
        long pdpte = ref.readQword(pdpteAddr);
        long pdeAddr = (pdpte & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 21) & 0x1FF) << 3);
        long pde = ref.readQword(pdeAddr);
        long pteAddr = (pde & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 12) & 0x1FF) << 3);
        return String.format("pdpte@%x=%x pde@%x=%x pte@%x=%x", pdpteAddr, pdpte, pdeAddr, pde, pteAddr,
                ref.readQword(pteAddr));
    }

    /**
     * The strategy under test may withhold WRITABLE where it must see writes (ROM under a nested
     * table, dirty logging); by default it must match.
     *
     * @param gpa the translated address
     * @return the WRITABLE bit if it is compared
     */
    protected long writableMask(long gpa) {
        return Translation.WRITABLE;
    }
}
