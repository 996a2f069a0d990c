package org.polyvisor.cpu.bt.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.memory.GuestMemory;

/**
 * The code cache: translations by (guest-physical address, EIP, mode bits), and the execution
 * counts of addresses that have none yet.
 *
 * <p>Keyed by the guest-physical address of the first byte (with the EIP the translation was made
 * for and the {@link Translator#mode} bits), never by the linear address or CR3: a translation
 * stays valid across address-space switches for as long as the physical bytes it came from are
 * unchanged, and a new mapping of the same code finds it again.
 *
 * <p>Cold addresses have no entry: their executions are counted in a fixed table of counters
 * indexed by a hash of the key (no allocation per interpreted instruction; two addresses sharing a
 * counter only become hot sooner, which is harmless). Only addresses that were translated, or found
 * untranslatable, get an {@link Entry}.
 *
 * <p>Bounded by a number of entries and of bytes of bytecode. When either is exceeded, entries are
 * evicted one at a time by the CLOCK policy (second chance, an approximation of least recently
 * used): each run of an entry after the one that made it sets its reference bit; the hand sweeps
 * the entries in insertion order, clearing set bits and evicting the first entry whose bit is
 * clear. Hot translations thus survive while code that ran only while it was hot during boot is
 * replaced first; nothing is ever flushed as a whole.
 *
 * <p>Every code page with translations is watched through {@link GuestMemory#watch}; a write (by
 * the guest, another vCPU or DMA) that overlaps a translation's bytes drops exactly the
 * translations it overlaps, on any thread. A dropped or evicted entry is marked invalid, which also
 * breaks every chain link to it ({@link Entry#successor}); the vCPU thread unlinks it from the
 * tables lazily, and stops watching a page once no translation is left on it.
 */
final class BlockCache {

    /** A translation (or an address found untranslatable) with its chain links. */
    static final class Entry {
        final long pa;
        final int eip;
        final int mode;
        CompiledBlock code;
        /** EIP of the last byte of the translated code (CS limit check at entry). */
        int lastEip;
        int guestBytes;
        int instructions;
        int bytecodeBytes;
        /** Not translatable here; if sensitive, its class. */
        boolean untranslatable;
        /** Also, for a translation, the class of the event instruction it ends with (or null). */
        Sensitive sensitive;
        /** Cleared by an overlapping write (any thread) or by eviction. */
        volatile boolean valid = true;
        /** CLOCK reference bit: set by runs after the first, cleared by the sweeping hand. */
        boolean referenced;
        /** Next entry in the same hash bucket. */
        Entry bucketNext;
        /** Index in the clock ring, -1 once removed. */
        int slot = -1;
        Page page;
        /**
         * Chain links: the entries that ran after this one (both ways of a conditional branch),
         * then, for code with more successors (an indirect jump or a return), an inline cache of
         * {@link #MORE_LINKS} more, direct-mapped by EIP (one probe; a target replaces the one in
         * its slot). A link is followed only while its target is valid and still the translation
         * of the next CS:EIP.
         */
        Entry link0;
        Entry link1;
        Entry[] more;
        /** How the translation ends ({@link Translator#END_CALL} and the others). */
        int end;
        /**
         * For a translation ending in a CALL: the entry its callee's RET came back to last (at
         * the return address, {@link #returnEip}), the return-address prediction's target.
         */
        Entry returnTo;

        Entry(long pa, int eip, int mode) {
            this.pa = pa;
            this.eip = eip;
            this.mode = mode;
        }

        /** The linked successor starting at an EIP, or null. */
        Entry successor(int nextEip) {
            Entry l = link0;
            if (l != null && l.eip == nextEip) {
                return l;
            }
            l = link1;
            if (l != null && l.eip == nextEip) {
                return l;
            }
            Entry[] m = more;
            if (m != null) {
                l = m[moreSlot(nextEip)];
                if (l != null && l.eip == nextEip) {
                    return l;
                }
            }
            return null;
        }

        private static int moreSlot(int eip) {
            return (eip ^ eip >>> 4 ^ eip >>> 8) & (MORE_LINKS - 1);
        }

        /** The EIP after the translation's last instruction: a CALL's return address. */
        int returnEip() {
            int next = eip + guestBytes;
            return (mode & 1) != 0 ? next : next & 0xFFFF;
        }
    }

    /** A watched code page and the translations on it. */
    final class Page {
        final long base;
        final List<Entry> entries = new CopyOnWriteArrayList<>();
        GuestMemory.WriteWatch watch;
        /** Writes seen: a translation made while it changed may hold old bytes, and is not kept. */
        volatile int writes;

        Page(long base) {
            this.base = base;
        }

        /** The watch listener: runs on the writing thread. */
        void written(long gpa, long length) {
            writes++;
            long end = gpa + Math.max(length, 1);
            for (Entry e : entries) {
                if (gpa < e.pa + Math.max(e.guestBytes, 1) && e.pa < end && e.valid) {
                    e.valid = false;
                    entries.remove(e);
                    invalidations.incrementAndGet();
                    dropped.run();
                }
            }
        }
    }

    /** Default bound on entries ({@code polyvisor.bt.cacheEntries}). */
    static final int MAX_ENTRIES = 1 << 16;
    /** Default bound on bytecode bytes held ({@code polyvisor.bt.cacheBytes}). */
    static final long MAX_BYTECODE = 64L << 20;

    static final int FAST_SIZE = 4096;
    /** Successors an entry keeps beyond its two chain links (the inline cache of an indirect jump). */
    static final int MORE_LINKS = 16;
    private static final int BUCKETS = 1 << 16;
    private static final int COUNTERS = 1 << 16;

    private final GuestMemory memory;
    /** Told (on the writing thread) when a write dropped an entry: translated code checks it. */
    private final Runnable dropped;
    private final int maxEntries;
    private final long maxBytecode;
    private final Entry[] fast = new Entry[FAST_SIZE];
    private final Entry[] buckets = new Entry[BUCKETS];
    private final int[] counters = new int[COUNTERS];
    private final Map<Long, Page> pages = new HashMap<>();
    /** The clock ring: entries in insertion order, null where one was removed. */
    private Entry[] ring;
    private int ringEnd;
    private int hand;
    private int size;

    long translations;
    long bytecodeBytes;
    long cachedBytecode;
    long guestBytes;
    long guestInstructions;
    long evicted;
    long chainLinks;
    final AtomicLong invalidations = new AtomicLong();

    BlockCache(GuestMemory memory, Runnable dropped) {
        this(memory, dropped, Integer.getInteger("polyvisor.bt.cacheEntries", MAX_ENTRIES),
                Long.getLong("polyvisor.bt.cacheBytes", MAX_BYTECODE));
    }

    BlockCache(GuestMemory memory, Runnable dropped, int maxEntries, long maxBytecode) {
        this.memory = memory;
        this.dropped = dropped;
        this.maxEntries = Math.max(1, maxEntries);
        this.maxBytecode = Math.max(1, maxBytecode);
        this.ring = new Entry[Math.min(this.maxEntries, 1024) * 2];
    }

    private static int hash(long pa, int eip, int mode) {
        long h = (pa * 0x9E37_79B9_7F4A_7C15L) ^ (eip * 0xC2B2_AE35L) ^ mode;
        return (int) (h ^ h >>> 29);
    }

    /** The valid entry for a key, or null. */
    Entry find(long pa, int eip, int mode) {
        int h = hash(pa, eip, mode);
        int f = h & (FAST_SIZE - 1);
        Entry e = fast[f];
        if (e != null && e.pa == pa && e.eip == eip && e.mode == mode && e.valid) {
            return e;
        }
        int b = (h >>> 12) & (BUCKETS - 1);
        Entry prev = null;
        e = buckets[b];
        while (e != null) {
            Entry next = e.bucketNext;
            if (!e.valid) {
                // Dropped by a write or evicted: unlink it now (this is the vCPU thread).
                release(e);
                if (prev == null) {
                    buckets[b] = next;
                } else {
                    prev.bucketNext = next;
                }
                e.bucketNext = null;
            } else if (e.pa == pa && e.eip == eip && e.mode == mode) {
                fast[f] = e;
                return e;
            } else {
                prev = e;
            }
            e = next;
        }
        return null;
    }

    /**
     * Counts one execution of an address without a translation.
     *
     * @return the count so far (shared with the addresses hashing to the same counter)
     */
    int count(long pa, int eip, int mode) {
        int c = (hash(pa, eip, mode) * 0x2545_F491 >>> 16) & (COUNTERS - 1);
        int n = counters[c] + 1;
        counters[c] = n;
        return n;
    }

    private void resetCount(Entry e) {
        counters[(hash(e.pa, e.eip, e.mode) * 0x2545_F491 >>> 16) & (COUNTERS - 1)] = 0;
    }

    /**
     * The page of a code address, watched from now on: called before its bytes are read for a
     * translation, so no write can slip between the read and the watch ({@link Page#writes} tells
     * whether one came during the translation).
     */
    Page page(long pa) {
        long base = pa & ~0xFFFL;
        Page p = pages.get(base);
        if (p == null) {
            Page np = new Page(base);
            np.watch = memory.watch(base, 4096, np::written);
            pages.put(base, np);
            p = np;
        }
        return p;
    }

    /** Stops watching a page that ended up with no entry (a translation was abandoned). */
    void abandon(Page p) {
        if (p.entries.isEmpty() && pages.get(p.base) == p) {
            pages.remove(p.base);
            p.watch.close();
        }
    }

    /**
     * Adds an entry, a translation or an address found untranslatable, on its page (from
     * {@link #page}), evicting others first when the cache is full.
     *
     * @param e the entry, with its code (or {@code untranslatable}) and the guest bytes it covers
     * @param r what the translator made, or null
     * @param p the entry's page
     */
    void install(Entry e, Translator.Result r, Page p) {
        resetCount(e);
        if (e.code != null) {
            translations++;
            e.bytecodeBytes = r.bytecodeBytes();
            bytecodeBytes += r.bytecodeBytes();
            cachedBytecode += r.bytecodeBytes();
            guestBytes += r.guestBytes();
            guestInstructions += r.instructions();
        }
        e.page = p;
        p.entries.add(e); // before evicting: its page stays watched
        while (size >= maxEntries || cachedBytecode > maxBytecode) {
            if (!evictOne()) {
                break;
            }
        }
        int b = (hash(e.pa, e.eip, e.mode) >>> 12) & (BUCKETS - 1);
        e.bucketNext = buckets[b];
        buckets[b] = e;
        if (ringEnd == ring.length) {
            compactRing();
        }
        e.slot = ringEnd;
        ring[ringEnd++] = e;
        size++;
        e.referenced = false; // set by its next run: code that never runs again goes first
    }

    /** Moves the hand until it evicts one entry; false when the cache is empty. */
    private boolean evictOne() {
        if (size == 0) {
            return false;
        }
        while (true) {
            if (hand >= ringEnd) {
                hand = 0;
            }
            Entry e = ring[hand];
            if (e == null) {
                hand++;
                continue;
            }
            if (e.valid && e.referenced) {
                e.referenced = false;
                hand++;
                continue;
            }
            if (e.valid) {
                e.valid = false;
                evicted++;
            }
            hand++;
            release(e);
            return true;
        }
    }

    /** Squeezes the removed slots out of the ring, growing it when it is more than half full. */
    private void compactRing() {
        Entry[] to = size * 2 > ring.length ? new Entry[ring.length * 2] : ring;
        int n = 0;
        int newHand = 0;
        for (int i = 0; i < ringEnd; i++) {
            Entry e = ring[i];
            if (i == hand) {
                newHand = n;
            }
            if (e != null) {
                e.slot = n;
                to[n++] = e;
            }
        }
        if (to == ring) {
            java.util.Arrays.fill(ring, n, ringEnd, null);
        }
        ring = to;
        ringEnd = n;
        hand = hand >= ringEnd ? 0 : newHand;
    }

    /**
     * Takes an invalid entry out of the ring and its page (the bucket chain drops it at its next
     * walk), and stops watching the page when it was the page's last translation.
     */
    private void release(Entry e) {
        if (e.slot >= 0) {
            ring[e.slot] = null;
            e.slot = -1;
            size--;
            cachedBytecode -= e.bytecodeBytes;
        }
        Page p = e.page;
        if (p != null) {
            e.page = null;
            p.entries.remove(e);
            if (p.entries.isEmpty() && pages.get(p.base) == p) {
                pages.remove(p.base);
                p.watch.close();
            }
        }
        e.code = null;
        e.link0 = null;
        e.link1 = null;
        e.more = null;
        e.returnTo = null;
    }

    /**
     * Links a successor to an entry that ran just before it (the next run follows the link). A
     * link to the same EIP (to dropped code, or to other code mapped there) is replaced; past
     * two, successors go to the entry's inline cache, each replacing the one in its slot.
     */
    void link(Entry from, Entry to) {
        chainLinks++;
        if (from.link0 == null || from.link0.eip == to.eip) {
            from.link0 = to;
        } else if (from.link1 == null || from.link1.eip == to.eip) {
            from.link1 = to;
        } else {
            if (from.more == null) {
                from.more = new Entry[MORE_LINKS];
            }
            from.more[Entry.moreSlot(to.eip)] = to;
        }
    }

    /** Drops the translations overlapping a guest-physical range (the engine's invalidate). */
    void invalidate(long gpa, long length) {
        long end = gpa + Math.max(length, 1);
        for (long a = gpa & ~0xFFFL; a < end; a += 4096) {
            Page p = pages.get(a);
            if (p != null) {
                p.written(gpa, length);
            }
        }
    }

    /**
     * The entry at a slot of the clock ring ({@link Entry#slot}), or null. Entries move when the
     * ring is compacted, so this may be another entry than the one that had the slot.
     */
    Entry atSlot(int slot) {
        return slot >= 0 && slot < ringEnd ? ring[slot] : null;
    }

    /** @return translations and untranslatable addresses held */
    int size() {
        return size;
    }

    /** @return code pages watched */
    int pages() {
        return pages.size();
    }

    /** Drops everything and stops watching (the engine is closed). */
    void close() {
        for (int i = 0; i < ringEnd; i++) {
            Entry e = ring[i];
            if (e != null) {
                e.valid = false;
                release(e);
            }
        }
        java.util.Arrays.fill(buckets, null);
        java.util.Arrays.fill(fast, null);
        for (Page p : new ArrayList<>(pages.values())) {
            p.watch.close();
        }
        pages.clear();
        ringEnd = 0;
        hand = 0;
        size = 0;
    }
}
