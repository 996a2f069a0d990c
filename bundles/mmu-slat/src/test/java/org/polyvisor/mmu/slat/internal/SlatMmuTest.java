package org.polyvisor.mmu.slat.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.DirtyPageLog;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.mmu.Translation;
import org.polyvisor.testing.FakeGuestMemory;
import org.polyvisor.testing.MmuDifferential;

class SlatMmuTest {

    private static final long PG_WP = 0x8001_0011L;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void matchesTheArchitecturalWalkOnRandomTables32Bit(long seed) {
        MmuDifferential d = nested(seed, false);
        d.run(30_000);
        Map<String, Long> s = d.mmu().stats();
        assertTrue(s.get("2d-walk-steps") > s.get("guest-walks") * 4, s::toString);
        assertTrue(s.get("nested-violations-mmio") > 0, s::toString);
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void matchesTheArchitecturalWalkOnRandomTablesPae(long seed) {
        MmuDifferential d = nested(seed, true);
        d.run(30_000);
    }

    @ParameterizedTest
    @ValueSource(longs = {31, 32, 33, 34})
    void staysExactWhileDirtyLogging(long seed) {
        // Seeds 33 and 34 run at the smallest nested-table cap: one page table for dirty logging.
        MmuDifferential d = new MmuDifferential(seed, seed % 2 == 0,
                m -> seed < 33 ? new SlatMmu(m, 1) : new SlatMmu(m, 1, new SlatMmu(m, 1).minimumPages())) {
            @Override
            protected long writableMask(long gpa) {
                return 0; // pages not yet written in this round are handed out without WRITABLE
            }
        };
        DirtyPageLog log = d.mmu().dirtyLog().orElseThrow();
        log.start();
        for (int round = 0; round < 5; round++) {
            d.run(4_000);
            BitSet dirty = log.collect();
            // Every page-table page whose accessed/dirty bits changed is in the log.
            assertFalse(dirty.isEmpty());
        }
        log.stop();
    }

    /** The reference comparison, except that ROM frames are write protected by the nested table. */
    private static MmuDifferential nested(long seed, boolean pae) {
        return new MmuDifferential(seed, pae, m -> new SlatMmu(m, 1)) {
            @Override
            protected long writableMask(long gpa) {
                return gpa >= MmuDifferential.ROM_BASE && gpa < MmuDifferential.ROM_BASE + MmuDifferential.ROM_SIZE ? 0
                        : Translation.WRITABLE;
            }
        };
    }


    @Test
    void aTwoDimensionalWalkCountsItsSteps() throws PageFault {
        SlatMmu mmu = new SlatMmu(MmuDifferential.identitySpace(0x67), 1);
        PagingMode a = new PagingMode(PG_WP, 0x1000, 0, 0);
        mmu.translate(0, a, 0x3456, Access.READ, false);
        // RAM is mapped with 2 MiB nested leaves: 3 nested steps per guest-physical address.
        // PDE: 3 + 1, PTE: 3 + 1, final address: 3; A and D already set, so no update walks.
        assertEquals(11, mmu.stats().get("2d-walk-steps"));
        assertEquals(3, mmu.stats().get("nested-walks"));
    }

    @Test
    void mmioAndRomAreNestedViolations() throws PageFault {
        FakeGuestMemory m = MmuDifferential.identitySpace(0x67);
        m.writeDword(0x2000 + 4 * 5, 0xFEC0_0000 | 0x67); // an MMIO page
        m.writeDword(0x2000 + 4 * 6, (int) MmuDifferential.ROM_BASE | 0x67); // ROM
        SlatMmu mmu = new SlatMmu(m, 1);
        PagingMode a = new PagingMode(PG_WP, 0x1000, 0, 0);
        long r = mmu.translate(0, a, 0x5010, Access.WRITE, false);
        assertTrue(Translation.mmio(r));
        assertEquals(0xFEC0_0010L, Translation.address(r));
        r = mmu.translate(0, a, 0x6000, Access.WRITE, false);
        assertFalse(Translation.writable(r), "ROM stays write protected: the engine comes back for every write");
        Map<String, Long> s = mmu.stats();
        assertEquals(1, s.get("nested-violations-mmio"));
        assertEquals(1, s.get("nested-violations-write-protect"));
        // Paging off: only the nested dimension.
        PagingMode off = new PagingMode(0x11, 0, 0, 0);
        assertTrue(Translation.mmio(mmu.translate(0, off, 0xFEE0_0000L, Access.READ, false)));
        assertTrue(Translation.cachesWrites(mmu.translate(0, off, 0x7000, Access.WRITE, false)));
    }

    @Test
    void dirtyLoggingThroughTheNestedTable() throws PageFault {
        FakeGuestMemory m = MmuDifferential.identitySpace(0x67);
        m.writeDword(0x2000 + 4 * 9, 9 << 12 | 0x07); // page 9: accessed and dirty clear
        SlatMmu mmu = new SlatMmu(m, 1);
        PagingMode a = new PagingMode(PG_WP, 0x1000, 0, 0);
        DirtyPageLog log = mmu.dirtyLog().orElseThrow();
        long e0 = mmu.tlbEpoch(0);
        log.start();
        assertNotEquals(e0, mmu.tlbEpoch(0), "engines drop their write entries");
        BitSet first = log.collect();
        assertTrue(first.cardinality() >= (8 << 20) / 4096, "the first round reports all of RAM");
        long r = mmu.translate(0, a, 0x3000, Access.READ, false);
        assertFalse(Translation.cachesWrites(r), "clean in this round: writes must come back");
        r = mmu.translate(0, a, 0x4000, Access.WRITE, false);
        assertTrue(Translation.cachesWrites(r));
        mmu.translate(0, a, 0x9000, Access.READ, false); // sets the guest's accessed bit in the PT page
        BitSet second = log.collect();
        assertTrue(second.get(4) && second.get(2), second.toString());
        assertFalse(second.get(3), second.toString());
        BitSet third = log.collect();
        assertEquals(second.get(4), third.get(4), "carried once: an engine may have written it through its TLB");
        assertTrue(log.collect().isEmpty(), "nothing written for two rounds");
        assertTrue(mmu.stats().get("nested-violations-dirty-log") >= 2);
        log.stop();
        assertTrue(Translation.cachesWrites(mmu.translate(0, a, 0x3000, Access.WRITE, false)));
    }

    @Test
    void theNestedTableIsBoundedAndUsesLargePages() {
        SlatMmu mmu = new SlatMmu(MmuDifferential.memory(), 1);
        Map<String, Long> s = mmu.stats();
        assertEquals(4, s.get("nested-2m-leaves"), s::toString); // 8 MiB of RAM
        assertEquals(16, s.get("nested-4k-leaves"), s::toString); // the 64 KiB ROM window
        mmu.dirtyLog().orElseThrow().start();
        s = mmu.stats();
        assertEquals(0, s.get("nested-2m-leaves"), s::toString);
        assertTrue(s.get("nested-table-pages") <= 1 + 1 + 1 + 4 + 1, s::toString);
    }

    @Test
    void aNestedTableCapFoldsPageTablesBackAndTheLogMissesNoWrite() throws PageFault {
        FakeGuestMemory m = MmuDifferential.memory();
        int cap = new SlatMmu(m, 1).minimumPages() + 1; // two page tables for four 2 MiB ranges of RAM
        SlatMmu mmu = new SlatMmu(m, 1, cap);
        PagingMode off = new PagingMode(0x11, 0, 0, 0);
        DirtyPageLog log = mmu.dirtyLog().orElseThrow();
        log.start();
        log.collect(); // the first round reports all of RAM (carried)
        log.collect();
        BitSet expect = new BitSet();
        for (int round = 0; round < 3; round++) {
            for (int range = 0; range < 4; range++) {
                long page = range * 512L + 16 + round;
                expect.set((int) page);
                long t = mmu.translate(0, off, page << 12, Access.WRITE, false);
                assertTrue(Translation.cachesWrites(t), "the written page itself goes on");
                assertTrue(mmu.stats().get("nested-table-pages") <= cap, mmu.stats()::toString);
                long other = mmu.translate(0, off, (page + 100) << 12, Access.READ, false);
                assertFalse(Translation.writable(other), "an unwritten page of a folded range still traps writes");
            }
        }
        Map<String, Long> s = mmu.stats();
        assertTrue(s.get("nested-evictions") > 0, s::toString);
        assertEquals((long) cap, s.get("nested-table-pages-cap"));
        assertEquals(expect, log.collect());
        // Next round: the pages are clean again, wherever their range ended up (split or folded).
        for (int p = expect.nextSetBit(0); p >= 0; p = expect.nextSetBit(p + 1)) {
            assertFalse(Translation.writable(mmu.translate(0, off, (long) p << 12, Access.READ, false)));
        }
        mmu.translate(0, off, 0x60_5000L, Access.WRITE, false);
        BitSet next = log.collect();
        assertTrue(next.get(0x605), next.toString());
        log.stop();
        assertTrue(Translation.cachesWrites(mmu.translate(0, off, 0x20_0000L, Access.WRITE, false)));
    }

    @Test
    void aCapBelowWhatTheLayoutNeedsIsRefused() {
        FakeGuestMemory m = MmuDifferential.memory();
        int min = new SlatMmu(m, 1).minimumPages();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new SlatMmu(m, 1, min - 1));
        assertTrue(e.getMessage().contains("mmu.slat.max-pages " + (min - 1) + " is below the " + min), e.getMessage());
    }
}
