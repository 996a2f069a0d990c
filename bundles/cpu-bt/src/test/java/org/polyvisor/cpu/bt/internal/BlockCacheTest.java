package org.polyvisor.cpu.bt.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.interpreter.TestMemory;

/**
 * The code cache's bookkeeping on its own: the CLOCK eviction policy under both bounds, exact
 * invalidation by written bytes, pages watched only while they hold entries, and chain links.
 */
class BlockCacheTest {

    private static final int MODE = Translator.mode(true, true, 0);

    private final TestMemory memory = new TestMemory(1 << 20);
    private final AtomicInteger drops = new AtomicInteger();

    private static final class Stub extends CompiledBlock {
        @Override
        int run(Vcpu x, int budget) {
            return 0;
        }
    }

    private static BlockCache.Entry add(BlockCache cache, long pa, int guestBytes, int bytecode) {
        BlockCache.Entry e = new BlockCache.Entry(pa, (int) pa, MODE);
        e.code = new Stub();
        e.guestBytes = guestBytes;
        e.instructions = 1;
        e.lastEip = (int) pa + guestBytes - 1;
        cache.install(e, new Translator.Result(e.code, 1, guestBytes, bytecode, null, null), cache.page(pa));
        return e;
    }

    private BlockCache cache(int entries, long bytes) {
        return new BlockCache(memory, drops::incrementAndGet, entries, bytes);
    }

    @Test
    void clockGivesReferencedEntriesASecondChance() {
        BlockCache c = cache(4, 1 << 20);
        BlockCache.Entry a = add(c, 0x1000, 4, 10);
        BlockCache.Entry b = add(c, 0x1100, 4, 10);
        BlockCache.Entry d = add(c, 0x1200, 4, 10);
        BlockCache.Entry e = add(c, 0x1300, 4, 10);
        assertEquals(0, c.evicted);
        // Full: none ran since it was made, so the hand evicts the oldest, a.
        add(c, 0x1400, 4, 10);
        assertEquals(1, c.evicted);
        assertFalse(a.valid, "oldest unreferenced entry evicted");
        assertNull(c.find(0x1000, 0x1000, MODE));
        // b runs again (its bit is set); the next eviction passes over it and takes d.
        b.referenced = true;
        add(c, 0x1500, 4, 10);
        assertEquals(2, c.evicted);
        assertTrue(b.valid, "recently run entry kept");
        assertSame(b, c.find(0x1100, 0x1100, MODE));
        assertFalse(d.valid, "unreferenced entry evicted in its place");
        assertTrue(e.valid);
        assertEquals(4, c.size(), "one eviction per installation, never a flush");
    }

    @Test
    void theBytecodeBoundEvictsUntilItHolds() {
        BlockCache c = cache(1000, 100);
        add(c, 0x1000, 4, 40);
        add(c, 0x1100, 4, 40);
        assertEquals(80, c.cachedBytecode);
        add(c, 0x1200, 4, 40);
        assertEquals(1, c.evicted);
        assertEquals(80, c.cachedBytecode, "evicted the bytecode of one translation");
        add(c, 0x1300, 4, 90);
        assertEquals(90, c.cachedBytecode, "a translation larger than half the bound displaces all others");
        assertEquals(1, c.size());
    }

    @Test
    void aLongRunKeepsTheCacheAtItsBoundAndEveryEntryFindable() {
        BlockCache c = cache(16, 1 << 20);
        BlockCache.Entry hot = add(c, 0x800, 8, 10);
        for (int i = 0; i < 1000; i++) {
            hot.referenced = true; // runs between every two translations
            add(c, 0x1000 + i * 16L, 8, 10);
            assertTrue(c.size() <= 16);
        }
        assertEquals(16, c.size());
        assertEquals(1001 - 16, c.evicted);
        assertSame(hot, c.find(0x800, 0x800, MODE), "the entry in constant use never left");
        assertNotNull(c.find(0x1000 + 999 * 16L, 0x1000 + 999 * 16, MODE), "the newest is there");
        assertNull(c.find(0x1000, 0x1000, MODE), "an old one is gone");
        assertEquals(1001, c.translations);
    }

    @Test
    void aWriteDropsExactlyTheEntriesWhoseBytesItOverlaps() {
        BlockCache c = cache(100, 1 << 20);
        BlockCache.Entry first = add(c, 0x5000, 0x10, 10);    // 5000..500f
        BlockCache.Entry second = add(c, 0x5010, 0x8, 10);    // 5010..5017
        BlockCache.Entry other = add(c, 0x6000, 0x10, 10);
        assertTrue(memory.isWatched(0x5000) && memory.isWatched(0x6000));
        memory.writeByte(0x5018, 0x90); // same page, after both
        memory.writeByte(0x7000, 0x90); // a page without code
        assertEquals(0, c.invalidations.get());
        memory.writeWord(0x500F, 0x9090); // last byte of first, first byte of second
        assertEquals(2, c.invalidations.get());
        assertEquals(2, drops.get(), "the engine is told");
        assertFalse(first.valid);
        assertFalse(second.valid);
        assertTrue(other.valid);
        assertNull(c.find(0x5000, 0x5000, MODE));
        assertNull(c.find(0x5010, 0x5010, MODE));
        assertSame(other, c.find(0x6000, 0x6000, MODE));
        assertFalse(memory.isWatched(0x5000), "a page without translations is no longer watched");
        assertTrue(memory.isWatched(0x6000));
        c.invalidate(0x6008, 1); // the engine's invalidate (e.g. DMA) does the same
        assertFalse(other.valid);
        assertEquals(3, c.invalidations.get());
    }

    @Test
    void aWriteDuringTranslationIsSeenOnThePage() {
        BlockCache c = cache(100, 1 << 20);
        BlockCache.Page p = c.page(0x9000);
        int before = p.writes;
        assertTrue(memory.isWatched(0x9000), "watched before the bytes are read");
        memory.writeByte(0x9123, 1);
        assertTrue(p.writes != before);
        c.abandon(p);
        assertFalse(memory.isWatched(0x9000));
    }

    @Test
    void linksKeepSeveralSuccessorsAndDoNotOutliveThem() {
        BlockCache c = cache(100, 1 << 20);
        BlockCache.Entry from = add(c, 0x2000, 4, 10);
        BlockCache.Entry taken = add(c, 0x2100, 4, 10);
        BlockCache.Entry fall = add(c, 0x3000, 4, 10);
        BlockCache.Entry third = add(c, 0x2200, 4, 10);
        c.link(from, taken);
        c.link(from, fall);
        assertSame(taken, from.successor(0x2100));
        assertSame(fall, from.successor(0x3000));
        assertNull(from.successor(0x2200));
        c.link(from, third);
        assertSame(third, from.successor(0x2200), "a third successor (an indirect jump's) is kept too");
        assertSame(taken, from.successor(0x2100));
        assertSame(fall, from.successor(0x3000));
        assertEquals(3, c.chainLinks);
        // Past the two links, targets go to a direct-mapped inline cache: a target in the same slot
        // replaces the one there; targets in other slots stay.
        BlockCache.Entry sameSlot = add(c, 0x2200 + 0x100 * BlockCache.MORE_LINKS, 4, 10);
        BlockCache.Entry otherSlot = add(c, 0x2201, 4, 10);
        c.link(from, otherSlot);
        assertSame(third, from.successor(0x2200));
        assertSame(otherSlot, from.successor(0x2201));
        c.link(from, sameSlot);
        assertSame(sameSlot, from.successor(sameSlot.eip));
        assertNull(from.successor(0x2200), "replaced by the target in its slot");
        assertSame(otherSlot, from.successor(0x2201));
        assertSame(taken, from.successor(0x2100), "the chain links stay");
        assertEquals(5, c.chainLinks);
        memory.writeByte(0x2100, 0xC3);
        assertFalse(from.successor(0x2100).valid, "a link to dropped code is seen as broken");
    }
}
