package org.polyvisor.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;

/**
 * Guest-physical memory for tests, with the semantics {@link GuestMemory} documents: little-endian
 * accessors, reads outside every region return all ones, writes there and to ROM are dropped, ROM
 * is written only by {@link #loadRom}, and a write watch is told of every access that changed RAM
 * in its pages (dropped writes are not reported).
 *
 * <p>Regions are page aligned and backed by direct buffers. Regions up to 64 MiB are allocated
 * directly; larger ones map a sparse temporary file (deleted at once), so a layout of several GiB
 * costs only the pages a test touches. Build a layout with {@link #flat}, {@link #pc} or a
 * {@link #builder()}.
 */
public final class FakeGuestMemory implements GuestMemory {

    private static final long DIRECT_LIMIT = 64L << 20; // larger regions map a sparse file
    private static final long CHUNK = 1L << 30; // 1 GiB: large RAM is split, as the core does
    private static final int PAGE_SHIFT = 12;
    private static final VarHandle INT_VIEW =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    /** A watch on whole pages; compared by identity, so closing one never closes its twin. */
    private final class Watch implements WriteWatch {
        final long firstPage;
        final long lastPage;
        final WriteListener listener;

        Watch(long firstPage, long lastPage, WriteListener listener) {
            this.firstPage = firstPage;
            this.lastPage = lastPage;
            this.listener = listener;
        }

        @Override
        public void close() {
            watches.remove(this);
        }
    }

    private final List<MemoryRegion> regions;
    private final long ramSize;
    private final List<Watch> watches = new CopyOnWriteArrayList<>();
    private final Map<Long, String> legacyDecode = new TreeMap<>();
    private final AtomicLong droppedWrites = new AtomicLong();

    private FakeGuestMemory(List<MemoryRegion> regions, long ramSize) {
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(MemoryRegion::guestBase));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i - 1).end() > sorted.get(i).guestBase()) {
                throw new IllegalArgumentException("regions overlap: " + sorted.get(i - 1).name() + " and "
                        + sorted.get(i).name());
            }
        }
        this.regions = List.copyOf(sorted);
        this.ramSize = ramSize;
    }

    /**
     * RAM from address 0 and nothing else.
     *
     * @param ramSize bytes of RAM, a multiple of 4 KiB
     * @return the memory
     */
    public static FakeGuestMemory flat(long ramSize) {
        return builder().ram(0, ramSize).build();
    }

    /**
     * Memory laid out as the core lays out a PC: 640 KiB of conventional RAM, a hole to 1 MiB, RAM
     * from 1 MiB up to 3.5 GiB in 1 GiB regions, the rest above 4 GiB, and a 64 KiB BIOS ROM
     * ("firmware") just below 4 GiB. {@link #ramSize()} reports {@code ramSize} as configured.
     *
     * @param ramSize configured RAM in bytes, at least 1 MiB and a multiple of 4 KiB
     * @return the memory
     */
    public static FakeGuestMemory pc(long ramSize) {
        if (ramSize < 0x10_0000) {
            throw new IllegalArgumentException("a PC layout needs at least 1 MiB of RAM: " + ramSize);
        }
        Builder b = builder().ram(0, 0xA_0000, "ram-low"); // 640 KiB conventional memory
        long below = Math.min(ramSize, 0xE000_0000L); // 3.5 GiB: the PCI hole starts there
        b.ram(0x10_0000, below - 0x10_0000, "ram");
        if (ramSize > below) {
            b.ram(0x1_0000_0000L, ramSize - below, "ram-high");
        }
        return b.rom(0xFFFF_0000L, 0x1_0000, "firmware").ramSize(ramSize).build();
    }

    /**
     * Starts an explicit layout.
     *
     * @return a builder with no regions
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Collects regions; RAM larger than 1 GiB is split into 1 GiB regions of the same name. */
    public static final class Builder {
        private final List<MemoryRegion> regions = new ArrayList<>();
        private long ram;
        private long ramSizeOverride = -1;

        private Builder() {
        }

        /**
         * Adds RAM named "ram".
         *
         * @param base page-aligned guest-physical base
         * @param size bytes, a multiple of 4 KiB
         * @return this builder
         */
        public Builder ram(long base, long size) {
            return ram(base, size, "ram");
        }

        /**
         * Adds named RAM.
         *
         * @param base page-aligned guest-physical base
         * @param size bytes, a multiple of 4 KiB
         * @param name region name
         * @return this builder
         */
        public Builder ram(long base, long size, String name) {
            for (long off = 0; off < size; off += CHUNK) {
                long n = Math.min(CHUNK, size - off);
                regions.add(new MemoryRegion(base + off, n, MemoryRegion.Kind.RAM, name, allocate(n)));
            }
            ram += size;
            return this;
        }

        /**
         * Adds a ROM region (zero-filled until {@link FakeGuestMemory#loadRom}).
         *
         * @param base page-aligned guest-physical base
         * @param size bytes, a multiple of 4 KiB, at most 1 GiB
         * @param name region name
         * @return this builder
         */
        public Builder rom(long base, long size, String name) {
            regions.add(new MemoryRegion(base, size, MemoryRegion.Kind.ROM, name, allocate(size)));
            return this;
        }

        /**
         * Makes {@link FakeGuestMemory#ramSize()} report a configured size rather than the sum of
         * the RAM regions (a PC's RAM size counts the hole below 1 MiB).
         *
         * @param bytes the size to report
         * @return this builder
         */
        public Builder ramSize(long bytes) {
            this.ramSizeOverride = bytes;
            return this;
        }

        /**
         * Builds the memory.
         *
         * @return the memory
         * @throws IllegalArgumentException if regions overlap
         */
        public FakeGuestMemory build() {
            return new FakeGuestMemory(regions, ramSizeOverride >= 0 ? ramSizeOverride : ram);
        }
    }

    private static ByteBuffer allocate(long size) {
        if (size <= DIRECT_LIMIT) {
            // Page aligned, as the core's RAM is: a hardware-assisted engine maps it into the guest.
            return ByteBuffer.allocateDirect((int) size + 4096).alignedSlice(4096).slice(0, (int) size)
                    .order(ByteOrder.LITTLE_ENDIAN);
        }
        try {
            Path f = Files.createTempFile("fake-guest-memory", ".bin");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                // The mapping outlives the channel and the file; unwritten pages cost nothing.
                return ch.map(FileChannel.MapMode.READ_WRITE, 0, size).order(ByteOrder.LITTLE_ENDIAN);
            } finally {
                Files.delete(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map " + size + " bytes of fake guest memory", e);
        }
    }

    private MemoryRegion find(long gpa) {
        for (MemoryRegion r : regions) {
            if (r.contains(gpa)) {
                return r;
            }
        }
        return null;
    }

    /**
     * A copy with the same layout and contents (RAM and ROM) and no watches, e.g. the second of two
     * memories a differential test runs the same accesses on.
     *
     * @return the copy
     */
    public FakeGuestMemory copy() {
        List<MemoryRegion> copied = new ArrayList<>();
        for (MemoryRegion r : regions) {
            ByteBuffer b = allocate(r.size());
            b.put(0, r.backing(), 0, (int) r.size());
            copied.add(new MemoryRegion(r.guestBase(), r.size(), r.kind(), r.name(), b));
        }
        FakeGuestMemory m = new FakeGuestMemory(copied, ramSize);
        synchronized (legacyDecode) {
            m.legacyDecode.putAll(legacyDecode);
        }
        return m;
    }

    /**
     * Returns the first region with a name.
     *
     * @param name region name
     * @return the region
     * @throws IllegalArgumentException if there is none
     */
    public MemoryRegion region(String name) {
        for (MemoryRegion r : regions) {
            if (r.name().equals(name)) {
                return r;
            }
        }
        throw new IllegalArgumentException("no region named " + name);
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
        return readWord(gpa) | readWord(gpa + 2) << 16;
    }

    @Override
    public long readQword(long gpa) {
        return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32;
    }

    /** Stores one byte if RAM is there; tells no watch (callers report whole accesses). */
    private boolean store(long gpa, int value) {
        MemoryRegion r = find(gpa);
        if (r == null || r.kind() != MemoryRegion.Kind.RAM) {
            droppedWrites.incrementAndGet(); // open bus or ROM: dropped
            return false;
        }
        r.backing().put((int) (gpa - r.guestBase()), (byte) value);
        return true;
    }

    /**
     * Reads a NUL-terminated string of 8-bit characters (a command line, a boot loader's name).
     *
     * @param gpa where it starts
     * @return the characters before the NUL
     */
    public String cString(long gpa) {
        StringBuilder sb = new StringBuilder();
        for (int c; (c = readByte(gpa++)) != 0; ) {
            sb.append((char) c);
        }
        return sb.toString();
    }

    /**
     * Counts the bytes written where no RAM is (open bus or ROM) and dropped, so a test can show
     * that a device never wrote outside RAM.
     *
     * @return bytes dropped so far
     */
    public long droppedWrites() {
        return droppedWrites.get();
    }

    private void store(long gpa, long value, int size) {
        boolean any = false;
        for (int i = 0; i < size; i++) {
            any |= store(gpa + i, (int) (value >>> (8 * i)));
        }
        if (any) {
            notifyWrite(gpa, size);
        }
    }

    @Override
    public void writeByte(long gpa, int value) {
        store(gpa, value, 1);
    }

    @Override
    public void writeWord(long gpa, int value) {
        store(gpa, value, 2);
    }

    @Override
    public void writeDword(long gpa, int value) {
        store(gpa, value, 4);
    }

    @Override
    public void writeQword(long gpa, long value) {
        store(gpa, value, 8);
    }

    @Override
    public boolean compareAndSwapInt(long gpa, int expected, int value) {
        MemoryRegion r = find(gpa);
        if (r == null || r.kind() != MemoryRegion.Kind.RAM || (gpa & 3) != 0) {
            throw new IllegalArgumentException(String.format("compare-and-swap at 0x%x: not aligned RAM", gpa));
        }
        boolean swapped = INT_VIEW.compareAndSet(r.backing(), (int) (gpa - r.guestBase()), expected, value);
        if (swapped) {
            notifyWrite(gpa, 4);
        }
        return swapped;
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) {
        for (int i = 0; i < length; i++) {
            dst[offset + i] = (byte) readByte(gpa + i);
        }
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) {
        boolean any = false;
        for (int i = 0; i < length; i++) {
            any |= store(gpa + i, src[offset + i]);
        }
        if (any) {
            notifyWrite(gpa, length);
        }
    }

    @Override
    public void loadRom(MemoryRegion region, long offset, byte[] image) {
        if (!regions.contains(region) || region.kind() != MemoryRegion.Kind.ROM) {
            throw new IllegalArgumentException("not a ROM region of this memory: " + region.name());
        }
        if (offset < 0 || offset + image.length > region.size()) {
            throw new IllegalArgumentException("image of " + image.length + " bytes does not fit ROM " + region.name());
        }
        region.backing().put((int) offset, image, 0, image.length);
    }

    @Override
    public WriteWatch watch(long gpa, long length, WriteListener listener) {
        Watch w = new Watch(gpa >>> PAGE_SHIFT, (gpa + Math.max(length, 1) - 1) >>> PAGE_SHIFT, listener);
        watches.add(w);
        return w;
    }

    @Override
    public boolean isWatched(long gpa) {
        long page = gpa >>> PAGE_SHIFT;
        for (Watch w : watches) {
            if (page >= w.firstPage && page <= w.lastPage) {
                return true;
            }
        }
        return false;
    }

    /**
     * Records the decoding asked for (this fake keeps its layout: it records, it does not remap).
     *
     * @return true
     */
    @Override
    public boolean setLegacyDecode(long gpa, long length, boolean readRam, boolean writeRam) {
        if ((gpa & 0xFFF) != 0 || (length & 0xFFF) != 0 || length <= 0
                || gpa < LEGACY_WINDOW_START || gpa + length > LEGACY_WINDOW_END) {
            throw new IllegalArgumentException(String.format("legacy decode 0x%x+0x%x: not whole pages inside the window",
                    gpa, length));
        }
        synchronized (legacyDecode) {
            for (long a = gpa; a < gpa + length; a += 0x1000) {
                legacyDecode.put(a, (readRam ? "R" : "-") + (writeRam ? "W" : "-"));
            }
        }
        return true;
    }

    /**
     * The decoding last set for a page of the legacy window.
     *
     * @param gpa an address in the page
     * @return {@code "RW"}, {@code "R-"}, {@code "-W"} or {@code "--"} (reads/writes to RAM), or
     *         {@code null} if never set
     */
    public String legacyDecode(long gpa) {
        synchronized (legacyDecode) {
            return legacyDecode.get(gpa & ~0xFFFL);
        }
    }

    /**
     * Counts the open write watches.
     *
     * @return watches not yet closed
     */
    public int watchCount() {
        return watches.size();
    }

    private void notifyWrite(long gpa, int length) {
        if (watches.isEmpty()) {
            return;
        }
        long first = gpa >>> PAGE_SHIFT;
        long last = (gpa + length - 1) >>> PAGE_SHIFT;
        for (Watch w : watches) {
            if (first <= w.lastPage && last >= w.firstPage) {
                w.listener.written(gpa, length);
            }
        }
    }
}
