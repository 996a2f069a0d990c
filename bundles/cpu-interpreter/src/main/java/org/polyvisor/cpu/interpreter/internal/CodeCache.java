package org.polyvisor.cpu.interpreter.internal;

import java.util.ArrayList;
import java.util.List;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.x86.decode.Instruction;

/**
 * Decoded instructions by guest-physical address, one slot per byte of each code page. Every page
 * with cached code is watched ({@link GuestMemory#watch}); a write that touches a 64-byte chunk
 * holding cached code drops the page's decodes (self-modifying code, a loader, DMA). Writes to
 * other chunks of the page (data next to code) keep them.
 */
final class CodeCache {

    static final class Page {
        /**
         * Decodes for a 32-bit code segment (CS.D set), by page offset. Kept apart from the 16-bit
         * ones so a hit needs no mode check (the same bytes decode differently in either mode).
         */
        final Instruction[] slots32 = new Instruction[4096];
        /** Decodes for a 16-bit code segment; created on the first one. */
        private volatile Instruction[] slots16;
        /** Bit n set: chunk n (64 bytes) holds bytes of a cached instruction. */
        volatile long codeChunks;
        GuestMemory.WriteWatch watch;
        long invalidations;

        /** @return the slots for decodes in a code segment of the given default size */
        Instruction[] slots(boolean code32) {
            if (code32) {
                return slots32;
            }
            Instruction[] s = slots16;
            if (s == null) {
                s = new Instruction[4096];
                slots16 = s;
            }
            return s;
        }

        void clear() {
            java.util.Arrays.fill(slots32, null);
            Instruction[] s = slots16;
            if (s != null) {
                java.util.Arrays.fill(s, null);
            }
            codeChunks = 0;
        }

        void written(int offset, int length) {
            long chunks = codeChunks;
            if (chunks == 0) {
                return;
            }
            int first = offset >>> 6;
            int last = Math.min(4095, offset + Math.max(length, 1) - 1) >>> 6;
            long mask = (last == 63 ? -1L : (1L << (last + 1)) - 1) & -(1L << first);
            if ((chunks & mask) != 0) {
                clear();
                invalidations++;
            }
        }

        void put(int offset, Instruction in) {
            slots(in.default32())[offset] = in;
            int first = offset >>> 6;
            int last = Math.min(4095, offset + in.length() - 1) >>> 6;
            long mask = (last == 63 ? -1L : (1L << (last + 1)) - 1) & -(1L << first);
            codeChunks |= mask;
        }
    }

    private final GuestMemory memory;
    /** Two-level directory over the 1 Mi page frames of a 32-bit physical space. */
    private final Page[][] directory = new Page[1024][];
    private final List<Page> pages = new ArrayList<>();

    long decodes;
    long hits;

    CodeCache(GuestMemory memory) {
        this.memory = memory;
    }

    /** Returns the page for a guest-physical page frame number, creating and watching it. */
    Page page(long frame) {
        if (frame >= (1L << 20)) {
            return null; // above 4 GiB (PAE): not cached
        }
        int f = (int) frame;
        Page[] dir = directory[f >>> 10];
        if (dir == null) {
            dir = new Page[1024];
            directory[f >>> 10] = dir;
        }
        Page p = dir[f & 1023];
        if (p == null) {
            Page np = new Page();
            long base = frame << 12;
            np.watch = memory.watch(base, 4096, (gpa, length) -> np.written((int) (gpa - base), length));
            dir[f & 1023] = np;
            pages.add(np);
            p = np;
        }
        return p;
    }

    void invalidate(long gpa, long length) {
        long end = gpa + Math.max(length, 1);
        for (long a = gpa & ~0xFFFL; a < end; a += 4096) {
            long frame = a >>> 12;
            if (frame >= (1L << 20)) {
                break;
            }
            Page[] dir = directory[(int) frame >>> 10];
            Page p = dir == null ? null : dir[(int) frame & 1023];
            if (p != null) {
                p.clear();
            }
        }
    }

    long invalidations() {
        long n = 0;
        for (Page p : pages) {
            n += p.invalidations;
        }
        return n;
    }

    int pageCount() {
        return pages.size();
    }

    void close() {
        for (Page p : pages) {
            if (p.watch != null) {
                p.watch.close();
            }
        }
        pages.clear();
        java.util.Arrays.fill(directory, null);
    }
}
