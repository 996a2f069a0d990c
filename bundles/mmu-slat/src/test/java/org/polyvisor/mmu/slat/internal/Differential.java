package org.polyvisor.mmu.slat.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
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
class Differential {

    static final int RAM = 8 << 20;
    static final long POOL = 0x0010_0000L;
    static final int POOL_PAGES = 48;
    static final long OUTSIDE = 0xFEE0_0000L;

    final Random rnd;
    final TestMemory ref;
    final TestMemory sut;
    final Mmu mmu;
    long cr0 = 0x8001_0011L; // PG, WP, ET, PE
    long cr3;
    long cr4;
    long efer;
    long accesses;
    long faults;

    final long[] hot = new long[48];
    final boolean paeTables;

    Differential(long seed, boolean pae, Function<GuestMemory, Mmu> factory) {
        rnd = new Random(seed);
        paeTables = pae;
        TestMemory m = new TestMemory(RAM);
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
        for (int i = 0; i < TestMemory.ROM_SIZE; i += 8) {
            long e = entry(true) | 0x61; // P, A, D: the reference walker cannot update ROM
            m.pokeRom(TestMemory.ROM_BASE + i, (int) e);
            m.pokeRom(TestMemory.ROM_BASE + i + 4, pae ? (int) (e >>> 32) : (int) entry(true) | 0x61);
        }
        cr3 = pickRoot();
        for (int i = 0; i < hot.length; i++) {
            hot[i] = rnd.nextLong() & 0xFFFF_F000L;
        }
        ref = m;
        sut = m.copy();
        mmu = factory.apply(sut);
    }

    boolean pae() {
        return (cr4 & 0x20) != 0;
    }

    PagingMode mode() {
        return new PagingMode(cr0, cr3, cr4, efer);
    }

    long pickRoot() {
        return POOL + rnd.nextInt(4) * 4096L;
    }

    long randomSlot() {
        return POOL + rnd.nextInt(POOL_PAGES) * 4096L + rnd.nextInt(1024) * 4L;
    }

    /** Where an entry points: mostly pool pages (tables, recursion), sometimes ROM, outside RAM, data. */
    long target(boolean leaf) {
        int k = rnd.nextInt(100);
        if (leaf ? k < 20 : k < 85) {
            return POOL + rnd.nextInt(POOL_PAGES) * 4096L;
        }
        if (k < 90) {
            return TestMemory.ROM_BASE + rnd.nextInt(TestMemory.ROM_SIZE / 4096) * 4096L;
        }
        if (k < 93) {
            return OUTSIDE;
        }
        return (long) rnd.nextInt(RAM / 4096) * 4096L;
    }

    /** A mostly well-formed entry (present, often writable and user), with rare reserved bits. */
    long entry(boolean leaf) {
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

    long randomEntry() {
        return entry(rnd.nextBoolean());
    }

    static void writeEntry(GuestMemory m, long slot, long e) {
        if ((slot & 7) == 0 && (e >>> 32) != 0) {
            m.writeQword(slot, e);
        } else {
            m.writeDword(slot, (int) e);
        }
    }

    long randomLinear() {
        if (rnd.nextInt(5) != 0) {
            return hot[rnd.nextInt(hot.length)] | rnd.nextInt(4096);
        }
        return rnd.nextLong() & 0xFFFF_FFFFL;
    }

    void run(int steps) {
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
        assertArrayEquals(ref.ramBytes(), sut.ramBytes(), "RAM after the run");
    }

    void access() {
        access(randomLinear(), Access.values()[rnd.nextInt(3)], rnd.nextInt(3) == 0);
    }

    void access(long linear, Access access, boolean user) {
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
                fail(what + ": expected " + expectedFault.getMessage() + ", got " + Translation.toString(actual));
            }
            assertEquals(expectedFault.getMessage(), actualFault.getMessage(), what);
        } else {
            if (actualFault != null) {
                fail(what + ": expected " + Translation.toString(expected) + ", got " + actualFault.getMessage());
            }
            long mask = Translation.ADDRESS_MASK | Translation.USER | Translation.DIRTY | Translation.LARGE
                    | (mode.enabled() ? Translation.GLOBAL : 0) | writableMask(Translation.address(expected));
            assertEquals(Translation.toString(expected & mask), Translation.toString(actual & mask), what);
        }
        ByteBuffer a = ref.ram.slice((int) POOL, POOL_PAGES * 4096);
        ByteBuffer b = sut.ram.slice((int) POOL, POOL_PAGES * 4096);
        if (a.mismatch(b) >= 0) {
            fail(what + ": page tables differ: " + TestMemory.differences(ref.ramBytes(), sut.ramBytes()));
        }
    }

    /** The guest entries a walk of {@code linear} reads (for failure messages). */
    String chain(long linear) {
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
    long writableMask(long gpa) {
        return Translation.WRITABLE;
    }
}
