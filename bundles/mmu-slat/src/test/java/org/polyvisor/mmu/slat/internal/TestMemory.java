package org.polyvisor.mmu.slat.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;

/**
 * Guest memory for tests, behaving like the core's: RAM at 0, a ROM window, open bus (all ones)
 * elsewhere, write watches told of every write, compare-and-swap only on aligned RAM.
 */
final class TestMemory implements GuestMemory {

    static final long ROM_BASE = 0x00F0_0000L; // 15 MiB: a 64 KiB ROM window inside the 4 GiB space
    static final int ROM_SIZE = 0x1_0000;

    final ByteBuffer ram;
    final ByteBuffer rom;
    final List<MemoryRegion> regions;
    private final List<Watch> watches = new CopyOnWriteArrayList<>();
    long watchedWrites;

    TestMemory(int ramBytes) {
        ram = ByteBuffer.allocateDirect(ramBytes).order(ByteOrder.LITTLE_ENDIAN);
        rom = ByteBuffer.allocateDirect(ROM_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        regions = List.of(new MemoryRegion(0, ramBytes, MemoryRegion.Kind.RAM, "ram", ram),
                new MemoryRegion(ROM_BASE, ROM_SIZE, MemoryRegion.Kind.ROM, "rom", rom));
    }

    /** A copy with the same contents and no watches. */
    TestMemory copy() {
        TestMemory m = new TestMemory(ram.capacity());
        for (int i = 0; i < ram.capacity(); i += 8) {
            m.ram.putLong(i, ram.getLong(i));
        }
        for (int i = 0; i < ROM_SIZE; i += 8) {
            m.rom.putLong(i, rom.getLong(i));
        }
        return m;
    }

    private ByteBuffer buf(long gpa) {
        if (gpa >= 0 && gpa < ram.capacity()) {
            return ram;
        }
        return gpa >= ROM_BASE && gpa < ROM_BASE + ROM_SIZE ? rom : null;
    }

    private int off(long gpa) {
        return (int) (gpa < ram.capacity() ? gpa : gpa - ROM_BASE);
    }

    @Override
    public List<MemoryRegion> regions() {
        return regions;
    }

    @Override
    public long ramSize() {
        return ram.capacity();
    }

    @Override
    public boolean isMemory(long gpa) {
        return buf(gpa) != null;
    }

    @Override
    public int readByte(long gpa) {
        ByteBuffer b = buf(gpa);
        return b == null ? 0xFF : b.get(off(gpa)) & 0xFF;
    }

    @Override
    public int readWord(long gpa) {
        return readByte(gpa) | readByte(gpa + 1) << 8;
    }

    @Override
    public int readDword(long gpa) {
        ByteBuffer b = buf(gpa);
        if (b != null && buf(gpa + 3) == b) {
            return b.getInt(off(gpa));
        }
        return readWord(gpa) | readWord(gpa + 2) << 16;
    }

    @Override
    public long readQword(long gpa) {
        return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32;
    }

    @Override
    public void writeByte(long gpa, int value) {
        if (buf(gpa) == ram) {
            ram.put((int) gpa, (byte) value);
            notify(gpa, 1);
        }
    }

    @Override
    public void writeWord(long gpa, int value) {
        writeByte(gpa, value);
        writeByte(gpa + 1, value >>> 8);
    }

    @Override
    public void writeDword(long gpa, int value) {
        if (buf(gpa) == ram && buf(gpa + 3) == ram && ((gpa ^ (gpa + 3)) >>> 12) == 0) {
            ram.putInt((int) gpa, value);
            notify(gpa, 4);
            return;
        }
        writeWord(gpa, value);
        writeWord(gpa + 2, value >>> 16);
    }

    @Override
    public void writeQword(long gpa, long value) {
        if (buf(gpa) == ram && buf(gpa + 7) == ram && ((gpa ^ (gpa + 7)) >>> 12) == 0) {
            ram.putLong((int) gpa, value);
            notify(gpa, 8);
            return;
        }
        writeDword(gpa, (int) value);
        writeDword(gpa + 4, (int) (value >>> 32));
    }

    @Override
    public synchronized boolean compareAndSwapInt(long gpa, int expected, int value) {
        if (buf(gpa) != ram || (gpa & 3) != 0) {
            throw new IllegalArgumentException(String.format("compare-and-swap at 0x%x: not aligned RAM", gpa));
        }
        if (ram.getInt((int) gpa) != expected) {
            return false;
        }
        ram.putInt((int) gpa, value);
        notify(gpa, 4);
        return true;
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) {
        for (int i = 0; i < length; i++) {
            dst[offset + i] = (byte) readByte(gpa + i);
        }
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) {
        for (int i = 0; i < length; i++) {
            writeByte(gpa + i, src[offset + i]);
        }
    }

    @Override
    public void loadRom(MemoryRegion region, long offset, byte[] image) {
        rom.put((int) offset, image);
    }

    /** Writes ROM contents (test setup only). */
    void pokeRom(long gpa, int value) {
        rom.putInt((int) (gpa - ROM_BASE), value);
    }

    private void notify(long gpa, int length) {
        long page = gpa >>> 12;
        for (Watch w : watches) {
            if (page >= w.first && page <= w.last) {
                watchedWrites++;
                w.listener.written(gpa, length);
            }
        }
    }

    /** @return the number of open watches */
    int watchCount() {
        return watches.size();
    }

    @Override
    public WriteWatch watch(long gpa, long length, WriteListener listener) {
        Watch w = new Watch(gpa >>> 12, (gpa + Math.max(1, length) - 1) >>> 12, listener);
        watches.add(w);
        return w;
    }

    @Override
    public boolean isWatched(long gpa) {
        long page = gpa >>> 12;
        return watches.stream().anyMatch(w -> page >= w.first && page <= w.last);
    }

    /** Snapshot of RAM for comparisons. */
    byte[] ramBytes() {
        byte[] out = new byte[ram.capacity()];
        ram.get(0, out);
        return out;
    }

    /** Lists differing RAM dwords (for failure messages). */
    static List<String> differences(byte[] a, byte[] b) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.length && out.size() < 8; i += 4) {
            int x = (a[i] & 0xFF) | (a[i + 1] & 0xFF) << 8 | (a[i + 2] & 0xFF) << 16 | (a[i + 3] & 0xFF) << 24;
            int y = (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 | (b[i + 2] & 0xFF) << 16 | (b[i + 3] & 0xFF) << 24;
            if (x != y) {
                out.add(String.format("0x%x: %08x vs %08x", i, x, y));
            }
        }
        return out;
    }

    private final class Watch implements WriteWatch {
        final long first;
        final long last;
        final WriteListener listener;

        Watch(long first, long last, WriteListener listener) {
            this.first = first;
            this.last = last;
            this.listener = listener;
        }

        @Override
        public void close() {
            watches.remove(this);
        }
    }
}
