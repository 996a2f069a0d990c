package org.polyvisor.tools.conformance;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;

/**
 * Flat guest RAM for one test vector: 16 MiB of zeroes whose 4 KiB pages are allocated on first
 * touch, so a vector costs only the few pages it uses. Supports write watches (the interpreter's
 * decoded-instruction cache needs them) and records, for the comparison, which bytes the engine
 * wrote and which interrupt-vector-table slots it read.
 */
final class SparseMemory implements GuestMemory {

    /** 16 MiB, the 80286's physical address space (the vectors need A20 on, up to 0x10FFEF). */
    static final long SIZE = 16L << 20;
    private static final int PAGES = (int) (SIZE >>> 12);
    /** Real-mode interrupt vector table: 256 four-byte entries at physical 0. */
    private static final int IVT_END = 0x400;

    private final byte[][] pages = new byte[PAGES][];
    private final List<Watch> watches = new ArrayList<>();
    private final BitSet watchedPages = new BitSet(PAGES);
    /** Addresses written since {@link #track()}; null while loading. */
    private BitSet written;
    /** IVT slots (vector numbers) read since {@link #track()}, in order. */
    private final List<Integer> vectorsRead = new ArrayList<>();
    private boolean tracking;

    private final class Watch implements WriteWatch {
        final long gpa;
        final long length;
        final WriteListener listener;

        Watch(long gpa, long length, WriteListener listener) {
            this.gpa = gpa;
            this.length = length;
            this.listener = listener;
        }

        @Override
        public void close() {
            watches.remove(this);
        }
    }

    /** From now on, record writes and IVT reads (the engine runs). */
    void track() {
        written = new BitSet();
        vectorsRead.clear();
        tracking = true;
    }

    /** @return the addresses written since {@link #track()} */
    BitSet written() {
        return written == null ? new BitSet() : written;
    }

    /** @return interrupt vectors whose IVT entry was read (first word), in order */
    List<Integer> vectorsRead() {
        return vectorsRead;
    }

    private byte[] page(long gpa, boolean create) {
        if (gpa < 0 || gpa >= SIZE) {
            return null;
        }
        int p = (int) (gpa >>> 12);
        byte[] b = pages[p];
        if (b == null && create) {
            b = new byte[4096];
            pages[p] = b;
        }
        return b;
    }

    private void noteRead(long gpa) {
        if (tracking && gpa < IVT_END && (gpa & 3) == 0) {
            vectorsRead.add((int) (gpa >>> 2));
        }
    }

    private void noteWrite(long gpa, int length) {
        if (written != null) {
            written.set((int) gpa, (int) (gpa + length));
        }
        if (!watches.isEmpty() && watchedPages.get((int) (gpa >>> 12))) {
            for (Watch w : List.copyOf(watches)) {
                if (gpa < w.gpa + w.length && gpa + length > w.gpa) {
                    w.listener.written(gpa, length);
                }
            }
        }
    }

    /** No regions: the memory has no single backing buffer to hand out (engines here use the accessors). */
    @Override
    public List<MemoryRegion> regions() {
        return List.of();
    }

    @Override
    public long ramSize() {
        return SIZE;
    }

    @Override
    public boolean isMemory(long gpa) {
        return gpa >= 0 && gpa < SIZE;
    }

    @Override
    public int readByte(long gpa) {
        noteRead(gpa);
        byte[] b = page(gpa, false);
        return b == null ? (gpa < SIZE ? 0 : 0xFF) : b[(int) gpa & 0xFFF] & 0xFF;
    }

    private int rawByte(long gpa) {
        byte[] b = page(gpa, false);
        return b == null ? 0 : b[(int) gpa & 0xFFF] & 0xFF;
    }

    @Override
    public int readWord(long gpa) {
        noteRead(gpa);
        return rawByte(gpa) | rawByte(gpa + 1) << 8;
    }

    @Override
    public int readDword(long gpa) {
        noteRead(gpa);
        return rawByte(gpa) | rawByte(gpa + 1) << 8 | rawByte(gpa + 2) << 16 | rawByte(gpa + 3) << 24;
    }

    @Override
    public long readQword(long gpa) {
        return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32;
    }

    private void rawWrite(long gpa, int v) {
        byte[] b = page(gpa, true);
        if (b != null) {
            b[(int) gpa & 0xFFF] = (byte) v;
        }
    }

    @Override
    public void writeByte(long gpa, int value) {
        rawWrite(gpa, value);
        noteWrite(gpa, 1);
    }

    @Override
    public void writeWord(long gpa, int value) {
        rawWrite(gpa, value);
        rawWrite(gpa + 1, value >>> 8);
        noteWrite(gpa, 2);
    }

    @Override
    public void writeDword(long gpa, int value) {
        for (int i = 0; i < 4; i++) {
            rawWrite(gpa + i, value >>> (8 * i));
        }
        noteWrite(gpa, 4);
    }

    @Override
    public void writeQword(long gpa, long value) {
        for (int i = 0; i < 8; i++) {
            rawWrite(gpa + i, (int) (value >>> (8 * i)));
        }
        noteWrite(gpa, 8);
    }

    @Override
    public boolean compareAndSwapInt(long gpa, int expected, int value) {
        if (readDword(gpa) != expected) {
            return false;
        }
        writeDword(gpa, value);
        return true;
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) {
        for (int i = 0; i < length; i++) {
            dst[offset + i] = (byte) rawByte(gpa + i);
        }
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) {
        for (int i = 0; i < length; i++) {
            rawWrite(gpa + i, src[offset + i]);
        }
        noteWrite(gpa, length);
    }

    /**
     * Reads a byte without recording anything (for the comparison).
     *
     * @param gpa the address
     * @return the byte
     */
    int peek(long gpa) {
        return rawByte(gpa);
    }

    @Override
    public void loadRom(MemoryRegion region, long offset, byte[] image) {
        throw new UnsupportedOperationException("test memory has no ROM");
    }

    @Override
    public WriteWatch watch(long gpa, long length, WriteListener listener) {
        Watch w = new Watch(gpa, length, listener);
        watches.add(w);
        for (long a = gpa & ~0xFFFL; a < gpa + length && a < SIZE; a += 4096) {
            watchedPages.set((int) (a >>> 12));
        }
        return w;
    }

    @Override
    public boolean isWatched(long gpa) {
        return gpa >= 0 && gpa < SIZE && watchedPages.get((int) (gpa >>> 12));
    }
}
