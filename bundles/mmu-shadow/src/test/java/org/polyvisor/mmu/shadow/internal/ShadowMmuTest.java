package org.polyvisor.mmu.shadow.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.DescriptorTableTrace;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.mmu.Translation;
import org.polyvisor.testing.FakeGuestMemory;
import org.polyvisor.testing.MmuDifferential;

class ShadowMmuTest {

    private static final long PG_WP = 0x8001_0011L;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void matchesTheArchitecturalWalkOnRandomTables32Bit(long seed) {
        MmuDifferential d = new MmuDifferential(seed, false, m -> new ShadowMmu(m, 1, 2048, 128));
        d.run(30_000);
        Map<String, Long> s = d.mmu().stats();
        assertTrue(s.get("shadow-hits") > 0 && s.get("trace-faults") > 0 && s.get("shadow-pages-zapped") > 0, s::toString);
        assertTrue(d.faults() > 100 && d.faults() < d.accesses(), d.faults() + " faults of " + d.accesses());
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14, 15, 16})
    void matchesTheArchitecturalWalkOnRandomTablesPae(long seed) {
        MmuDifferential d = new MmuDifferential(seed, true, m -> new ShadowMmu(m, 1, 2048, 128));
        d.run(30_000);
        Map<String, Long> s = d.mmu().stats();
        assertTrue(s.get("shadow-hits") > 0 && s.get("trace-faults") > 0, s::toString);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void staysExactAndBoundedUnderATinyCap(long seed) {
        MmuDifferential d = new MmuDifferential(seed, seed % 2 == 0, m -> new ShadowMmu(m, 1, 4, 2));
        d.run(20_000);
        Map<String, Long> s = d.mmu().stats();
        assertTrue(s.get("shadow-pages-peak") <= 4 && s.get("roots") <= 2, s::toString);
        assertTrue(s.get("evictions") > 0, s::toString);
        // Watches are released with the shadows that needed them.
        assertTrue(d.memoryUnderTest().watchCount() <= 4 + 2 * 5 + 2, "watches " + d.memoryUnderTest().watchCount() + " " + s);
    }


    @Test
    void shadowsSurviveCr3SwitchesAndFollowTracedEdits() throws PageFault {
        FakeGuestMemory m = MmuDifferential.identitySpace(7);
        // A second address space at 0x3000 sharing the same page table.
        m.writeDword(0x3000, 0x2000 | 7);
        ShadowMmu mmu = new ShadowMmu(m, 1, 64, 8);
        PagingMode a = new PagingMode(PG_WP, 0x1000, 0, 0);
        PagingMode b = new PagingMode(PG_WP, 0x3000, 0, 0);
        for (int round = 0; round < 10; round++) {
            mmu.pagingChanged(0, round % 2 == 0 ? a : b);
            for (int p = 0; p < 16; p++) {
                assertEquals(p << 12 | 0x10, Translation.address(mmu.translate(0, round % 2 == 0 ? a : b,
                        p << 12 | 0x10, Access.READ, false)));
            }
        }
        Map<String, Long> s = mmu.stats();
        assertEquals(2, s.get("roots-built"), s::toString);
        assertTrue(s.get("roots-reused") >= 8 && s.get("shadow-pages-reused") >= 8, s::toString);
        assertEquals(32, s.get("shadow-misses"), s::toString);
        // The guest remaps page 5 (no INVLPG needed for the shadow: the write is traced).
        m.writeDword(0x2000 + 4 * 5, 0x0077_7000 | 7);
        assertEquals(0x0077_7010L, Translation.address(mmu.translate(0, b, 0x5010, Access.READ, false)));
        assertEquals(0x0077_7010L, Translation.address(mmu.translate(0, a, 0x5010, Access.READ, false)),
                "the inactive root sharing the table sees the edit too");
        assertTrue(mmu.stats().get("trace-faults") >= 1);
        // The guest unmaps the table from one directory: only that root loses it.
        m.writeDword(0x3000, 0);
        PageFault f = assertThrows(PageFault.class, () -> mmu.translate(0, b, 0x1000, Access.WRITE, true));
        assertEquals(PageFault.W | PageFault.U, f.errorCode());
        assertEquals(0x1000L, Translation.address(mmu.translate(0, a, 0x1000, Access.READ, true)));
        mmu.close();
        assertEquals(0, m.watchCount(), "close releases every watch");
    }

    @Test
    void cleanPagesAreMappedReadOnlyUntilTheFirstWrite() throws PageFault {
        FakeGuestMemory m = MmuDifferential.identitySpace(7);
        ShadowMmu mmu = new ShadowMmu(m, 1, 64, 8);
        PagingMode a = new PagingMode(PG_WP, 0x1000, 0, 0);
        long r = mmu.translate(0, a, 0x7000, Access.READ, false);
        assertTrue(Translation.writable(r) && !Translation.dirty(r) && !Translation.cachesWrites(r));
        assertEquals(0x20, m.readDword(0x2000 + 4 * 7) & 0x60, "read: accessed only");
        long w = mmu.translate(0, a, 0x7000, Access.WRITE, false);
        assertTrue(Translation.cachesWrites(w));
        assertEquals(0x60, m.readDword(0x2000 + 4 * 7) & 0x60, "write: dirty");
        assertEquals(1, mmu.stats().get("dirty-misses"));
        // The guest clears the dirty bit (as an OS does after writing a page back): traced, so the
        // next write walks again and sets it again.
        m.writeDword(0x2000 + 4 * 7, m.readDword(0x2000 + 4 * 7) & ~0x40);
        mmu.translate(0, a, 0x7000, Access.WRITE, false);
        assertEquals(0x60, m.readDword(0x2000 + 4 * 7) & 0x60);
    }

    @Test
    void largeGlobalPagesAndWriteProtect() throws PageFault {
        FakeGuestMemory m = MmuDifferential.memory();
        m.writeDword(0x1000 + 4, 0x0040_0000 | 0x83 | 0x100); // 4 MiB at 4 MiB, RW, supervisor, global
        ShadowMmu mmu = new ShadowMmu(m, 1, 64, 8);
        PagingMode noWp = new PagingMode(0x8000_0011L, 0x1000, 0x10 | 0x80, 0);
        long r = mmu.translate(0, noWp, 0x0045_6789L, Access.WRITE, false);
        assertEquals(0x0045_6789L, Translation.address(r));
        assertTrue(Translation.large(r) && Translation.global(r) && !Translation.user(r));
        PageFault f = assertThrows(PageFault.class, () -> mmu.translate(0, noWp, 0x0045_6789L, Access.READ, true));
        assertEquals(PageFault.P | PageFault.U, f.errorCode());
        // Read-only now; without WP the supervisor may still write, with WP it may not.
        m.writeDword(0x1000 + 4, 0x0040_0000 | 0x81 | 0x60);
        mmu.translate(0, noWp, 0x0045_0000L, Access.WRITE, false);
        PagingMode wp = new PagingMode(PG_WP, 0x1000, 0x10 | 0x80, 0);
        f = assertThrows(PageFault.class, () -> mmu.translate(0, wp, 0x0045_0000L, Access.WRITE, false));
        assertEquals(PageFault.P | PageFault.W, f.errorCode());
    }

    @Test
    void recursiveAndRomAndOutsideTablesNeverThrowHostExceptions() throws PageFault {
        FakeGuestMemory m = MmuDifferential.memory();
        m.writeDword(0x1000 + 4 * 1023, 0x1000 | 3); // the last PDE maps the directory itself
        m.writeDword(0x1000, (int) MmuDifferential.ROM_BASE | 3); // a page table in ROM
        MmuDifferential.pokeRom(m, MmuDifferential.ROM_BASE, 0x5000 | 3); // its entry 0, accessed bit clear
        m.writeDword(0x1000 + 4, 0xFEE0_0000 | 7); // a page table outside RAM: reads all ones
        ShadowMmu mmu = new ShadowMmu(m, 1, 64, 8);
        PagingMode a = new PagingMode(PG_WP, 0x1000, 0, 0);
        // Through the recursive entry the directory is its own page table: 0xFFFFF000 maps it.
        assertEquals(0x1000L, Translation.address(mmu.translate(0, a, 0xFFFF_F000L, Access.WRITE, false)));
        mmu.translate(0, a, 0xFFFF_F000L + 4 * 5, Access.WRITE, false);
        assertThrows(PageFault.class, () -> mmu.translate(0, a, 5L << 22, Access.READ, false));
        m.writeDword(0x6000, 0x8000 | 3);
        m.writeDword(0x1000 + 4 * 5, 0x6000 | 3); // the directory entry doubles as a page-table entry
        assertEquals(0x8000L, Translation.address(mmu.translate(0, a, 5L << 22, Access.READ, false)));
        assertEquals(0x6000L, Translation.page(mmu.translate(0, a, 0xFFC0_0000L + (5 << 12), Access.READ, false)));
        // The ROM table: translation works, the accessed bit cannot be set (the bus drops the write).
        assertEquals(0x5000L, Translation.address(mmu.translate(0, a, 0x0, Access.READ, false)));
        assertEquals(0x5000 | 3, m.readDword(MmuDifferential.ROM_BASE));
        // Outside RAM the entries read as all ones: present, writable, user, accessed, dirty.
        assertEquals(0xFFFF_F000L, Translation.page(mmu.translate(0, a, 0x0040_0000L, Access.WRITE, true)));
    }

    @Test
    void descriptorTableTraceCountsWritesToTheTableAndItsMapping() throws PageFault {
        FakeGuestMemory m = MmuDifferential.identitySpace(7);
        ShadowMmu mmu = new ShadowMmu(m, 1, 64, 8);
        PagingMode a = new PagingMode(PG_WP, 0x1000, 0, 0);
        DescriptorTableTrace gdt = mmu.traceDescriptorTable(0, a, 0x9000, 0xFFF).orElseThrow();
        assertEquals(0, 0x20 & m.readDword(0x2000 + 4 * 9), "looking up the table sets no accessed bit");
        long v0 = gdt.version();
        m.writeDword(0x9008, 0x1234); // a descriptor
        long v1 = gdt.version();
        assertNotEquals(v0, v1);
        m.writeDword(0xA000, 1); // the next page: not under the table
        assertEquals(v1, gdt.version());
        m.writeDword(0x2000 + 4 * 9, 0x9000 | 7); // the PTE mapping the table
        assertNotEquals(v1, gdt.version());
        assertTrue(mmu.stats().get("descriptor-trace-faults") >= 2);
        gdt.close();
        long v2 = gdt.version();
        m.writeDword(0x9008, 0x5678);
        assertEquals(v2, gdt.version());
    }

    @Test
    void pagingOffIsIdentityWithMmioMarked() throws PageFault {
        FakeGuestMemory m = MmuDifferential.memory();
        ShadowMmu mmu = new ShadowMmu(m, 1, 64, 8);
        PagingMode off = new PagingMode(0x11, 0, 0, 0);
        assertEquals(0x1234L, Translation.address(mmu.translate(0, off, 0x1234, Access.WRITE, true)));
        assertTrue(Translation.mmio(mmu.translate(0, off, 0xFEC0_0000L, Access.READ, false)));
    }
}
