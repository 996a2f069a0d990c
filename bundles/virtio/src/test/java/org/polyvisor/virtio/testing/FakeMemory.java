package org.polyvisor.virtio.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;

/**
 * Guest memory for tests: RAM from 0 and optionally a ROM region; accesses outside read as ones
 * and are dropped (as the platform's memory does) but are counted, so a test can prove the device
 * never wrote outside RAM.
 */
public final class FakeMemory implements GuestMemory {

    private final List<MemoryRegion> regions = new ArrayList<>();
    private final long ramSize;
    /** Writes that hit no RAM (dropped). */
    public long strayWrites;

    /**
     * Creates RAM of a size, plus a 64 KiB ROM at {@code romBase} if not negative.
     *
     * @param ramSize RAM bytes, a multiple of 4 KiB
     * @param romBase ROM base or -1
     */
    public FakeMemory(long ramSize, long romBase) {
        this.ramSize = ramSize;
        regions.add(new MemoryRegion(0, ramSize, MemoryRegion.Kind.RAM, "ram",
                ByteBuffer.allocateDirect((int) ramSize).order(ByteOrder.LITTLE_ENDIAN)));
        if (romBase >= 0) {
            regions.add(new MemoryRegion(romBase, 0x1_0000, MemoryRegion.Kind.ROM, "rom",
                    ByteBuffer.allocateDirect(0x1_0000).order(ByteOrder.LITTLE_ENDIAN)));
        }
    }

    private MemoryRegion region(long gpa) {
        if (gpa >= 0 && gpa < ramSize) {
            return regions.get(0);
        }
        for (MemoryRegion r : regions) {
            if (r.contains(gpa)) {
                return r;
            }
        }
        return null;
    }

    @Override
    public List<MemoryRegion> regions() {
        return regions;
    }

    @Override
    public long ramSize() {
        return ramSize;
    }

    @Override
    public boolean isMemory(long gpa) {
        return region(gpa) != null;
    }

    @Override
    public int readByte(long gpa) {
        MemoryRegion r = region(gpa);
        return r == null ? 0xFF : r.backing().get((int) (gpa - r.guestBase())) & 0xFF;
    }

    private long readN(long gpa, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            v |= (long) readByte(gpa + i) << (8 * i);
        }
        return v;
    }

    @Override
    public int readWord(long gpa) {
        return (int) readN(gpa, 2);
    }

    @Override
    public int readDword(long gpa) {
        return (int) readN(gpa, 4);
    }

    @Override
    public long readQword(long gpa) {
        return readN(gpa, 8);
    }

    @Override
    public void writeByte(long gpa, int value) {
        MemoryRegion r = region(gpa);
        if (r == null || r.kind() != MemoryRegion.Kind.RAM) {
            strayWrites++;
            return;
        }
        r.backing().put((int) (gpa - r.guestBase()), (byte) value);
    }

    private void writeN(long gpa, long v, int n) {
        for (int i = 0; i < n; i++) {
            writeByte(gpa + i, (int) (v >>> (8 * i)));
        }
    }

    @Override
    public void writeWord(long gpa, int value) {
        writeN(gpa, value, 2);
    }

    @Override
    public void writeDword(long gpa, int value) {
        writeN(gpa, value, 4);
    }

    @Override
    public void writeQword(long gpa, long value) {
        writeN(gpa, value, 8);
    }

    @Override
    public synchronized boolean compareAndSwapInt(long gpa, int expected, int value) {
        if (readDword(gpa) != expected) {
            return false;
        }
        writeDword(gpa, value);
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
        region.backing().put((int) offset, image);
    }

    @Override
    public WriteWatch watch(long gpa, long length, WriteListener listener) {
        return () -> { };
    }

    @Override
    public boolean isWatched(long gpa) {
        return false;
    }
}
