package org.polyvisor.boot.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;

/** A PC memory layout for loader tests: RAM below 640 KiB, at 0xC0000-0xFFFFF and from 1 MiB, bytewise accessors. */
final class FakeMemory implements GuestMemory {

    private final List<MemoryRegion> regions = new ArrayList<>();
    private final long ram;

    FakeMemory(long ramBytes) {
        ram = ramBytes;
        regions.add(region(0, 0xA_0000, "ram-low"));
        regions.add(region(0xC_0000, 0x4_0000, "ram-upper")); // as the core lays out RAM without firmware
        regions.add(region(0x10_0000, ramBytes - 0x10_0000, "ram"));
    }

    private static MemoryRegion region(long base, long size, String name) {
        ByteBuffer b = ByteBuffer.allocateDirect((int) size).order(ByteOrder.LITTLE_ENDIAN);
        return new MemoryRegion(base, size, MemoryRegion.Kind.RAM, name, b);
    }

    private MemoryRegion at(long gpa) {
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
        return ram;
    }

    @Override
    public boolean isMemory(long gpa) {
        return at(gpa) != null;
    }

    @Override
    public int readByte(long gpa) {
        MemoryRegion r = at(gpa);
        return r == null ? 0xFF : r.backing().get((int) (gpa - r.guestBase())) & 0xFF;
    }

    @Override
    public int readWord(long gpa) {
        return readByte(gpa) | readByte(gpa + 1) << 8;
    }

    @Override
    public int readDword(long gpa) {
        return readWord(gpa) | readWord(gpa + 2) << 16;
    }

    @Override
    public long readQword(long gpa) {
        return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32;
    }

    @Override
    public void writeByte(long gpa, int value) {
        MemoryRegion r = at(gpa);
        if (r != null) {
            r.backing().put((int) (gpa - r.guestBase()), (byte) value);
        }
    }

    @Override
    public void writeWord(long gpa, int value) {
        writeByte(gpa, value);
        writeByte(gpa + 1, value >>> 8);
    }

    @Override
    public void writeDword(long gpa, int value) {
        writeWord(gpa, value);
        writeWord(gpa + 2, value >>> 16);
    }

    @Override
    public void writeQword(long gpa, long value) {
        writeDword(gpa, (int) value);
        writeDword(gpa + 4, (int) (value >>> 32));
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
        throw new UnsupportedOperationException();
    }

    @Override
    public WriteWatch watch(long gpa, long length, WriteListener listener) {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean isWatched(long gpa) {
        return false;
    }

    String string(long gpa) {
        StringBuilder sb = new StringBuilder();
        for (int c; (c = readByte(gpa++)) != 0; ) {
            sb.append((char) c);
        }
        return sb.toString();
    }
}
