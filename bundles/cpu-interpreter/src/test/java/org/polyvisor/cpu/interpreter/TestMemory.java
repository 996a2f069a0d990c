package org.polyvisor.cpu.interpreter;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;

/** A simple guest memory for tests: RAM at 0, optional ROM regions, write watches per page. */
public final class TestMemory implements GuestMemory {

    private static final java.lang.invoke.VarHandle INT_VIEW =
            java.lang.invoke.MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final List<MemoryRegion> regions = new ArrayList<>();
    private final Map<Long, List<WriteListener>> watches = new java.util.concurrent.ConcurrentHashMap<>(); // MMUs watch pages from several vCPU threads
    private final long ramSize;

    public TestMemory(int ramBytes) {
        this.ramSize = ramBytes;
        regions.add(new MemoryRegion(0, ramBytes, MemoryRegion.Kind.RAM, "ram",
                ByteBuffer.allocateDirect(ramBytes).order(ByteOrder.LITTLE_ENDIAN)));
    }

    /** Maps a ROM image at several addresses sharing one backing buffer. */
    public void addRom(byte[] image, long... bases) {
        ByteBuffer backing = ByteBuffer.allocateDirect(image.length).order(ByteOrder.LITTLE_ENDIAN);
        backing.put(image).flip();
        for (long base : bases) {
            regions.add(new MemoryRegion(base, image.length, MemoryRegion.Kind.ROM, "rom", backing));
        }
        regions.sort((a, b) -> Long.compare(a.guestBase(), b.guestBase()));
    }

    private MemoryRegion find(long gpa) {
        // ROM mapped over RAM (the BIOS alias below 1 MiB) wins, as on a PC.
        for (MemoryRegion r : regions) {
            if (r.kind() == MemoryRegion.Kind.ROM && r.contains(gpa)) {
                return r;
            }
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
        return Collections.unmodifiableList(regions);
    }

    @Override
    public long ramSize() {
        return ramSize;
    }

    @Override
    public boolean isMemory(long gpa) {
        return find(gpa) != null;
    }

    @Override
    public int readByte(long gpa) {
        MemoryRegion r = find(gpa);
        return r == null ? 0xFF : r.backing().get((int) (gpa - r.guestBase())) & 0xFF;
    }

    @Override
    public int readWord(long gpa) {
        return readByte(gpa) | readByte(gpa + 1) << 8;
    }

    @Override
    public int readDword(long gpa) {
        MemoryRegion r = find(gpa);
        if (r != null && gpa + 4 <= r.end()) {
            return r.backing().getInt((int) (gpa - r.guestBase()));
        }
        return readWord(gpa) | readWord(gpa + 2) << 16;
    }

    @Override
    public long readQword(long gpa) {
        return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32;
    }

    @Override
    public void writeByte(long gpa, int value) {
        MemoryRegion r = find(gpa);
        if (r != null && r.kind() == MemoryRegion.Kind.RAM) {
            r.backing().put((int) (gpa - r.guestBase()), (byte) value);
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
        MemoryRegion r = find(gpa);
        if (r != null && r.kind() == MemoryRegion.Kind.RAM && gpa + 4 <= r.end() && (gpa & 0xFFF) <= 0xFFC) {
            r.backing().putInt((int) (gpa - r.guestBase()), value);
            notify(gpa, 4);
            return;
        }
        writeWord(gpa, value);
        writeWord(gpa + 2, value >>> 16);
    }

    @Override
    public void writeQword(long gpa, long value) {
        writeDword(gpa, (int) value);
        writeDword(gpa + 4, (int) (value >>> 32));
    }

    /** A hardware compare-and-swap: atomic against plain stores of other threads too, as engines need for LOCK. */
    @Override
    public boolean compareAndSwapInt(long gpa, int expected, int value) {
        MemoryRegion r = find(gpa);
        if (r == null || r.kind() != MemoryRegion.Kind.RAM || (gpa & 3) != 0) {
            throw new IllegalArgumentException(String.format("compare-and-swap at 0x%x: not aligned RAM", gpa));
        }
        boolean swapped = INT_VIEW.compareAndSet(r.backing(), (int) (gpa - r.guestBase()), expected, value);
        return swapped && notified(gpa, 4);
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

    /** Writes bytes given as ints (test convenience). */
    public void load(long gpa, int... bytes) {
        for (int i = 0; i < bytes.length; i++) {
            writeByte(gpa + i, bytes[i]);
        }
    }

    @Override
    public void loadRom(MemoryRegion region, long offset, byte[] image) {
        for (int i = 0; i < image.length; i++) {
            region.backing().put((int) offset + i, image[i]);
        }
    }

    /** {@link #notify(long, int)}, then true. */
    private boolean notified(long gpa, int length) {
        notify(gpa, length);
        return true;
    }

    private void notify(long gpa, int length) {
        if (watches.isEmpty()) {
            return;
        }
        List<WriteListener> l = watches.get(gpa >>> 12);
        if (l != null) {
            for (WriteListener w : l) {
                w.written(gpa, length);
            }
        }
    }

    @Override
    public synchronized WriteWatch watch(long gpa, long length, WriteListener listener) {
        List<Long> pages = new ArrayList<>();
        for (long p = gpa >>> 12; p <= (gpa + length - 1) >>> 12; p++) {
            watches.computeIfAbsent(p, k -> new CopyOnWriteArrayList<>()).add(listener);
            pages.add(p);
        }
        return () -> {
            for (long p : pages) {
                List<WriteListener> l = watches.get(p);
                if (l != null) {
                    l.remove(listener);
                }
            }
        };
    }

    @Override
    public boolean isWatched(long gpa) {
        List<WriteListener> l = watches.get(gpa >>> 12);
        return l != null && !l.isEmpty();
    }
}
