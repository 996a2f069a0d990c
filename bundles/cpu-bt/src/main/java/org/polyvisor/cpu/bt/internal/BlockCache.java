package org.polyvisor.cpu.bt.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.polyvisor.memory.GuestMemory;

/**
 * Translations by (guest-physical address, EIP, mode bits), with their execution counts while
 * still cold. A direct-mapped table in front answers the common lookups without hashing objects.
 *
 * <p>Bounded: when the entries or the bytecode exceed their limits, the whole cache is flushed
 * (the policy QEMU uses for its translation buffer: cheap, no fragmentation, and hot code is
 * translated again within a few executions). Every code page with translations is watched through
 * {@link GuestMemory#watch}; a write (by the guest, or DMA) that overlaps a translation's bytes
 * drops exactly the translations it overlaps, on any thread.
 */
final class BlockCache {

    /** One guest address: its count while cold, then its translation (or why there is none). */
    static final class Entry {
        final long pa;
        final int eip;
        final int mode;
        int hits;
        CompiledBlock code;
        /** EIP of the last byte of the translated code (CS limit check at entry). */
        int lastEip;
        int guestBytes;
        int instructions;
        /** Not translatable here; if sensitive, its class. */
        boolean untranslatable;
        Sensitive sensitive;
        volatile boolean valid = true;

        Entry(long pa, int eip, int mode) {
            this.pa = pa;
            this.eip = eip;
            this.mode = mode;
        }
    }

    private record Key(long pa, int eip, int mode) {
    }

    /** A watched code page and the translations on it. */
    private final class Page {
        final long base;
        final List<Entry> entries = new CopyOnWriteArrayList<>();
        GuestMemory.WriteWatch watch;

        Page(long base) {
            this.base = base;
        }

        void written(long gpa, long length) {
            long end = gpa + Math.max(length, 1);
            for (Entry e : entries) {
                if (gpa < e.pa + e.guestBytes && e.pa < end) {
                    e.valid = false;
                    entries.remove(e);
                    invalidations++;
                    vcpu.invalidated = true;
                }
            }
        }
    }

    static final int FAST_SIZE = 4096;
    static final int MAX_ENTRIES = 1 << 17;
    static final long MAX_BYTECODE = 48L << 20;

    private final GuestMemory memory;
    private final Vcpu vcpu;
    private final Entry[] fast = new Entry[FAST_SIZE];
    private final Map<Key, Entry> all = new HashMap<>();
    private final Map<Long, Page> pages = new HashMap<>();

    long translations;
    long bytecodeBytes;
    long cachedBytecode;
    long guestBytes;
    long guestInstructions;
    long flushes;
    long evicted;
    volatile long invalidations;

    BlockCache(GuestMemory memory, Vcpu vcpu) {
        this.memory = memory;
        this.vcpu = vcpu;
    }

    Entry lookup(long pa, int eip, int mode) {
        int h = (int) (pa ^ (pa >>> 11) ^ mode * 0x9E37) & (FAST_SIZE - 1);
        Entry e = fast[h];
        if (e != null && e.pa == pa && e.eip == eip && e.mode == mode && e.valid) {
            return e;
        }
        Key k = new Key(pa, eip, mode);
        e = all.get(k);
        if (e == null || !e.valid) {
            if (all.size() >= MAX_ENTRIES) {
                flush();
            }
            e = new Entry(pa, eip, mode);
            all.put(k, e);
        }
        fast[h] = e;
        return e;
    }

    /** Records a new translation and watches its page. */
    void installed(Entry e, Translator.Result r) {
        translations++;
        bytecodeBytes += r.bytecodeBytes();
        cachedBytecode += r.bytecodeBytes();
        guestBytes += r.guestBytes();
        guestInstructions += r.instructions();
        long base = e.pa & ~0xFFFL;
        Page p = pages.get(base);
        if (p == null) {
            Page np = new Page(base);
            np.watch = memory.watch(base, 4096, np::written);
            pages.put(base, np);
            p = np;
        }
        p.entries.add(e);
        if (cachedBytecode > MAX_BYTECODE) {
            flush();
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

    /** Drops every translation (capacity reached). */
    void flush() {
        flushes++;
        evicted += all.size();
        for (Entry e : all.values()) {
            e.valid = false;
        }
        all.clear();
        java.util.Arrays.fill(fast, null);
        List<Page> ps = new ArrayList<>(pages.values());
        pages.clear();
        for (Page p : ps) {
            p.watch.close();
        }
        cachedBytecode = 0;
    }

    int size() {
        return all.size();
    }

    void close() {
        flush();
    }
}
