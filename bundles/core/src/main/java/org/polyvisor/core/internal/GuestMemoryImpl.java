package org.polyvisor.core.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;

/**
 * Guest-physical memory of one VM: off-heap, page-aligned regions found through a page map that
 * covers the 32-bit physical address space (one short per 4 KiB page), so an access costs an array
 * load and a buffer access.
 */
final class GuestMemoryImpl implements GuestMemory {

    private static final int PAGE_SHIFT = 12;
    private static final long ADDRESS_LIMIT = 1L << 32; // 4 GiB: the 32-bit physical space
    private static final int PAGES = (int) (ADDRESS_LIMIT >>> PAGE_SHIFT);
    /** Largest single backing buffer (ByteBuffer capacities are ints). */
    static final long MAX_CHUNK = 1L << 30; // 1 GiB
    private static final VarHandle INT_VIEW =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    /** Pages of the legacy window 0xC0000-0xFFFFF. */
    private static final int LEGACY_FIRST_PAGE = (int) (LEGACY_WINDOW_START >>> PAGE_SHIFT);
    private static final int LEGACY_PAGES = (int) ((LEGACY_WINDOW_END - LEGACY_WINDOW_START) >>> PAGE_SHIFT);

    private final List<MemoryRegion> regions;
    /** The listed regions, then the hidden shadow RAM under the legacy window (if any). */
    private final MemoryRegion[] byIndex;
    /** Region index + 1 per page that reads come from, 0 where nothing is mapped. */
    private final short[] pageMap = new short[PAGES];
    /** Region index + 1 per page that writes go to, 0 where they are dropped (ROM, nothing). */
    private final short[] writeMap = new short[PAGES];
    /** Per legacy-window page: index of its shadow RAM and of the ROM behind it (-1: none); null without firmware. */
    private final int[] legacyRam;
    private final int[] legacyRom;
    /** Number of watches per page (the filter every write reads). */
    private final byte[] watchCount = new byte[PAGES];
    /**
     * The watches of each page, in the order they were added: a directory of 1024 blocks of 1024
     * pages, blocks made on first use, each page's array replaced (never changed) under the lock. A
     * watched write calls exactly the listeners of its page, however many watches the VM has.
     */
    @SuppressWarnings("unchecked")
    private final AtomicReferenceArray<Watch[]>[] watchesByPage = new AtomicReferenceArray[PAGES >>> 10];
    private final List<Watch> watches = new CopyOnWriteArrayList<>();
    private final long ramSize;
    /** {@link #legacyDecodeChanges}: bumped under the window's lock after the maps change. */
    private volatile long decodeChanges;

    private GuestMemoryImpl(List<MemoryRegion> regions, long ramSize) {
        this(regions, List.of(), ramSize);
    }

    /**
     * @param regions the regions, as listed by {@link #regions()} and decoded at power-on
     * @param shadow  shadow RAM under the legacy window where no listed RAM region lies, decoded
     *                only through {@link #setLegacyDecode}; empty: the window is not switchable
     * @param ramSize the configured RAM
     */
    private GuestMemoryImpl(List<MemoryRegion> regions, List<MemoryRegion> shadow, long ramSize) {
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(MemoryRegion::guestBase));
        this.regions = List.copyOf(sorted);
        List<MemoryRegion> all = new ArrayList<>(sorted);
        all.addAll(shadow);
        this.byIndex = all.toArray(new MemoryRegion[0]);
        this.ramSize = ramSize;
        for (int i = 0; i < sorted.size(); i++) {
            MemoryRegion r = byIndex[i];
            boolean writable = r.kind() == MemoryRegion.Kind.RAM;
            if (r.end() > ADDRESS_LIMIT) {
                throw new IllegalArgumentException("region " + r.name() + " ends above 4 GiB");
            }
            for (long p = r.guestBase() >>> PAGE_SHIFT; p < r.end() >>> PAGE_SHIFT; p++) {
                if (pageMap[(int) p] != 0) {
                    throw new IllegalArgumentException(String.format("region %s overlaps %s at 0x%x",
                            r.name(), byIndex[pageMap[(int) p] - 1].name(), p << PAGE_SHIFT));
                }
                pageMap[(int) p] = (short) (i + 1);
                writeMap[(int) p] = writable ? (short) (i + 1) : 0;
            }
        }
        if (shadow.isEmpty()) {
            legacyRam = null;
            legacyRom = null;
            return;
        }
        legacyRam = new int[LEGACY_PAGES];
        legacyRom = new int[LEGACY_PAGES];
        for (int k = 0; k < LEGACY_PAGES; k++) {
            long gpa = (long) (LEGACY_FIRST_PAGE + k) << PAGE_SHIFT;
            legacyRam[k] = -1;
            legacyRom[k] = -1;
            for (int i = 0; i < byIndex.length; i++) {
                if (byIndex[i].contains(gpa)) {
                    if (byIndex[i].kind() == MemoryRegion.Kind.RAM) {
                        legacyRam[k] = i;
                    } else {
                        legacyRom[k] = i;
                    }
                }
            }
            if (legacyRam[k] < 0) {
                throw new IllegalArgumentException(String.format("no shadow RAM under the legacy window at 0x%x", gpa));
            }
        }
    }

    /**
     * Lays out a PC: RAM below 640 KiB, the VGA hole, RAM as upper memory up to the firmware
     * alias, the firmware's last 64..128 KiB aliased below 1 MiB, RAM from 1 MiB, and the whole
     * firmware ending at 4 GiB (the reset vector).
     *
     * @param ramBytes configured RAM size
     * @param firmware the firmware image, or null
     * @return the memory
     */
    static GuestMemoryImpl pc(long ramBytes, byte[] firmware) {
        List<MemoryRegion> regions = new ArrayList<>();
        long lowEnd = Math.min(ramBytes, 0xA_0000L); // 640 KiB conventional memory
        regions.add(new MemoryRegion(0, lowEnd, MemoryRegion.Kind.RAM, "ram-low", allocate(lowEnd)));
        ByteBuffer rom = null;
        long romSize = 0;
        long aliasSize = 0;
        if (firmware != null) {
            romSize = (firmware.length + 0xFFFL) & ~0xFFFL;
            rom = allocate(romSize);
            // The image ends at the top of its region, so its last bytes hold the reset vector.
            rom.put((int) (romSize - firmware.length), firmware);
            aliasSize = Math.min(romSize, 0x2_0000L); // at most 128 KiB below 1 MiB (0xE0000-0xFFFFF)
        }
        long upperStart = 0xC_0000L;
        long upperEnd = 0x10_0000L - aliasSize;
        if (ramBytes > 0xC_0000L && upperEnd > upperStart) {
            long len = Math.min(upperEnd, ramBytes) - upperStart;
            if (len > 0) {
                regions.add(new MemoryRegion(upperStart, len, MemoryRegion.Kind.RAM, "ram-upper", allocate(len)));
            }
        }
        List<MemoryRegion> shadow = new ArrayList<>();
        if (rom != null) {
            ByteBuffer alias = rom.slice((int) (romSize - aliasSize), (int) aliasSize).order(ByteOrder.LITTLE_ENDIAN);
            regions.add(new MemoryRegion(0x10_0000L - aliasSize, aliasSize, MemoryRegion.Kind.ROM,
                    "firmware-low", alias));
            regions.add(new MemoryRegion(ADDRESS_LIMIT - romSize, romSize, MemoryRegion.Kind.ROM, "firmware", rom));
            // The DRAM under the window where upper-memory RAM does not already lie: what the
            // chipset's PAM registers switch the firmware alias to (the guest copies itself there).
            long ramTop = regions.stream().filter(r -> r.guestBase() == upperStart).mapToLong(MemoryRegion::end)
                    .findFirst().orElse(upperStart);
            shadow.add(new MemoryRegion(ramTop, LEGACY_WINDOW_END - ramTop, MemoryRegion.Kind.RAM, "shadow-ram",
                    allocate(LEGACY_WINDOW_END - ramTop)));
        }
        long base = 0x10_0000L;
        int chunk = 0;
        while (base < ramBytes) {
            long len = Math.min(ramBytes - base, MAX_CHUNK);
            regions.add(new MemoryRegion(base, len, MemoryRegion.Kind.RAM, chunk == 0 ? "ram" : "ram-" + chunk,
                    allocate(len)));
            base += len;
            chunk++;
        }
        return new GuestMemoryImpl(regions, shadow, ramBytes);
    }

    /**
     * Allocates page-aligned, zeroed, little-endian off-heap memory.
     *
     * @param size bytes, a multiple of 4 KiB, at most 1 GiB
     * @return the buffer
     */
    static ByteBuffer allocate(long size) {
        if (size > MAX_CHUNK) {
            throw new IllegalArgumentException("chunk too large: " + size);
        }
        ByteBuffer raw = ByteBuffer.allocateDirect((int) size + MemoryRegion.PAGE_SIZE);
        return raw.alignedSlice(MemoryRegion.PAGE_SIZE).slice(0, (int) size).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public List<MemoryRegion> regions() {
        return regions;
    }

    @Override
    public long ramSize() {
        return ramSize;
    }

    private int index(long gpa) {
        if (gpa < 0 || gpa >= ADDRESS_LIMIT) {
            return -1;
        }
        return pageMap[(int) (gpa >>> PAGE_SHIFT)] - 1;
    }

    @Override
    public boolean isMemory(long gpa) {
        return index(gpa) >= 0 || writeIndex(gpa) >= 0;
    }

    @Override
    public boolean isWritable(long gpa) {
        return writeIndex(gpa) >= 0;
    }

    /** The region writes at an address go to, or -1 when they are dropped. */
    private int writeIndex(long gpa) {
        if (gpa < 0 || gpa >= ADDRESS_LIMIT) {
            return -1;
        }
        return writeMap[(int) (gpa >>> PAGE_SHIFT)] - 1;
    }

    @Override
    public int readByte(long gpa) {
        int i = index(gpa);
        if (i < 0) {
            return 0xFF; // open bus
        }
        MemoryRegion r = byIndex[i];
        return r.backing().get((int) (gpa - r.guestBase())) & 0xFF;
    }

    @Override
    public int readWord(long gpa) {
        int i = index(gpa);
        if (i >= 0) {
            MemoryRegion r = byIndex[i];
            long off = gpa - r.guestBase();
            if (off + 2 <= r.size()) {
                return r.backing().getShort((int) off) & 0xFFFF;
            }
        }
        return readByte(gpa) | readByte(gpa + 1) << 8;
    }

    @Override
    public int readDword(long gpa) {
        int i = index(gpa);
        if (i >= 0) {
            MemoryRegion r = byIndex[i];
            long off = gpa - r.guestBase();
            if (off + 4 <= r.size()) {
                return r.backing().getInt((int) off);
            }
        }
        return readWord(gpa) | readWord(gpa + 2) << 16;
    }

    @Override
    public long readQword(long gpa) {
        int i = index(gpa);
        if (i >= 0) {
            MemoryRegion r = byIndex[i];
            long off = gpa - r.guestBase();
            if (off + 8 <= r.size()) {
                return r.backing().getLong((int) off);
            }
        }
        return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32;
    }

    @Override
    public void writeByte(long gpa, int value) {
        int i = writeIndex(gpa);
        if (i < 0) {
            return; // open bus or ROM: dropped
        }
        MemoryRegion r = byIndex[i];
        r.backing().put((int) (gpa - r.guestBase()), (byte) value);
        if (watchCount[(int) (gpa >>> PAGE_SHIFT)] != 0) {
            notifyWrite(gpa, 1);
        }
    }

    @Override
    public void writeWord(long gpa, int value) {
        int i = writeIndex(gpa);
        if (i >= 0) {
            MemoryRegion r = byIndex[i];
            long off = gpa - r.guestBase();
            if (off + 2 <= r.size() && ((gpa ^ (gpa + 1)) >>> PAGE_SHIFT) == 0) {
                r.backing().putShort((int) off, (short) value);
                if (watchCount[(int) (gpa >>> PAGE_SHIFT)] != 0) {
                    notifyWrite(gpa, 2);
                }
                return;
            }
        }
        writeByte(gpa, value);
        writeByte(gpa + 1, value >>> 8);
    }

    @Override
    public void writeDword(long gpa, int value) {
        int i = writeIndex(gpa);
        if (i >= 0) {
            MemoryRegion r = byIndex[i];
            long off = gpa - r.guestBase();
            if (off + 4 <= r.size() && ((gpa ^ (gpa + 3)) >>> PAGE_SHIFT) == 0) {
                r.backing().putInt((int) off, value);
                if (watchCount[(int) (gpa >>> PAGE_SHIFT)] != 0) {
                    notifyWrite(gpa, 4);
                }
                return;
            }
        }
        writeWord(gpa, value);
        writeWord(gpa + 2, value >>> 16);
    }

    @Override
    public void writeQword(long gpa, long value) {
        int i = writeIndex(gpa);
        if (i >= 0) {
            MemoryRegion r = byIndex[i];
            long off = gpa - r.guestBase();
            if (off + 8 <= r.size() && ((gpa ^ (gpa + 7)) >>> PAGE_SHIFT) == 0) {
                r.backing().putLong((int) off, value);
                if (watchCount[(int) (gpa >>> PAGE_SHIFT)] != 0) {
                    notifyWrite(gpa, 8);
                }
                return;
            }
        }
        writeDword(gpa, (int) value);
        writeDword(gpa + 4, (int) (value >>> 32));
    }

    @Override
    public boolean compareAndSwapInt(long gpa, int expected, int value) {
        int i = writeIndex(gpa);
        if (i < 0 || i != index(gpa) || (gpa & 3) != 0) {
            throw new IllegalArgumentException(String.format("compare-and-swap at 0x%x: not aligned RAM", gpa));
        }
        MemoryRegion r = byIndex[i];
        boolean swapped = INT_VIEW.compareAndSet(r.backing(), (int) (gpa - r.guestBase()), expected, value);
        if (swapped && watchCount[(int) (gpa >>> PAGE_SHIFT)] != 0) {
            notifyWrite(gpa, 4);
        }
        return swapped;
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) {
        int done = 0;
        while (done < length) {
            long a = gpa + done;
            int i = index(a);
            int pageLeft = (int) (MemoryRegion.PAGE_SIZE - (a & (MemoryRegion.PAGE_SIZE - 1)));
            int n = Math.min(pageLeft, length - done);
            if (i < 0) {
                java.util.Arrays.fill(dst, offset + done, offset + done + n, (byte) 0xFF);
            } else {
                MemoryRegion r = byIndex[i];
                r.backing().get((int) (a - r.guestBase()), dst, offset + done, n);
            }
            done += n;
        }
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) {
        int done = 0;
        while (done < length) {
            long a = gpa + done;
            int i = writeIndex(a);
            int pageLeft = (int) (MemoryRegion.PAGE_SIZE - (a & (MemoryRegion.PAGE_SIZE - 1)));
            int n = Math.min(pageLeft, length - done);
            if (i >= 0) {
                MemoryRegion r = byIndex[i];
                r.backing().put((int) (a - r.guestBase()), src, offset + done, n);
                if (watchCount[(int) (a >>> PAGE_SHIFT)] != 0) {
                    notifyWrite(a, n);
                }
            }
            done += n;
        }
    }

    @Override
    public void loadRom(MemoryRegion region, long offset, byte[] image) {
        if (!regions.contains(region) || region.kind() != MemoryRegion.Kind.ROM) {
            throw new IllegalArgumentException("not a ROM region of this VM: " + region.name());
        }
        if (offset < 0 || offset + image.length > region.size()) {
            throw new IllegalArgumentException("image of " + image.length + " bytes does not fit ROM " + region.name());
        }
        region.backing().put((int) offset, image);
    }

    @Override
    public long legacyDecodeChanges() {
        return decodeChanges;
    }

    @Override
    public MemoryRegion decodedRegion(long gpa, boolean write) {
        if (gpa < 0 || gpa >= ADDRESS_LIMIT) {
            return null;
        }
        int i = (write ? writeMap : pageMap)[(int) (gpa >>> PAGE_SHIFT)];
        return i == 0 ? null : byIndex[i - 1];
    }

    @Override
    public boolean setLegacyDecode(long gpa, long length, boolean readRam, boolean writeRam) {
        if ((gpa & (MemoryRegion.PAGE_SIZE - 1)) != 0 || (length & (MemoryRegion.PAGE_SIZE - 1)) != 0 || length <= 0
                || gpa < LEGACY_WINDOW_START || gpa + length > LEGACY_WINDOW_END) {
            throw new IllegalArgumentException(String.format(
                    "legacy decode 0x%x+0x%x: not whole pages inside 0x%x-0x%x", gpa, length,
                    LEGACY_WINDOW_START, LEGACY_WINDOW_END - 1));
        }
        if (legacyRam == null) {
            return false;
        }
        synchronized (legacyRam) {
            boolean changed = false;
            for (long a = gpa; a < gpa + length; a += MemoryRegion.PAGE_SIZE) {
                int page = (int) (a >>> PAGE_SHIFT);
                int k = page - LEGACY_FIRST_PAGE;
                short read = (short) ((readRam ? legacyRam[k] : legacyRom[k]) + 1);
                short write = (short) (writeRam ? legacyRam[k] + 1 : 0);
                boolean contentChanged = pageMap[page] != read;
                changed |= contentChanged || writeMap[page] != write;
                pageMap[page] = read;
                writeMap[page] = write;
                if (contentChanged && watchCount[page] != 0) {
                    notifyWrite(a, MemoryRegion.PAGE_SIZE); // what code caches hold from here is stale
                }
            }
            if (changed) {
                decodeChanges++; // after the maps: whoever sees the new count sees the new decoding
            }
        }
        return true;
    }

    @Override
    public WriteWatch watch(long gpa, long length, WriteListener listener) {
        long first = gpa >>> PAGE_SHIFT;
        long last = (gpa + Math.max(length, 1) - 1) >>> PAGE_SHIFT;
        if (first < 0 || last >= PAGES) {
            throw new IllegalArgumentException(String.format("watch 0x%x+0x%x outside the physical space", gpa, length));
        }
        Watch w = new Watch(first, last, listener);
        synchronized (watchCount) {
            for (long p = first; p <= last; p++) {
                if (watchCount[(int) p] == Byte.MAX_VALUE) {
                    throw new IllegalStateException(String.format("too many watches on page 0x%x", p << PAGE_SHIFT));
                }
            }
            for (long p = first; p <= last; p++) {
                watchCount[(int) p]++;
                AtomicReferenceArray<Watch[]> block = watchesByPage[(int) (p >>> 10)];
                if (block == null) {
                    block = new AtomicReferenceArray<>(1024);
                    watchesByPage[(int) (p >>> 10)] = block;
                }
                Watch[] old = block.get((int) p & 1023);
                Watch[] now = old == null ? new Watch[1] : Arrays.copyOf(old, old.length + 1);
                now[now.length - 1] = w;
                block.set((int) p & 1023, now);
            }
            watches.add(w);
        }
        return w;
    }

    @Override
    public boolean isWatched(long gpa) {
        return gpa >= 0 && gpa < ADDRESS_LIMIT && watchCount[(int) (gpa >>> PAGE_SHIFT)] != 0;
    }

    private void notifyWrite(long gpa, int length) {
        int page = (int) (gpa >>> PAGE_SHIFT);
        AtomicReferenceArray<Watch[]> block = watchesByPage[page >>> 10];
        Watch[] onPage = block == null ? null : block.get(page & 1023);
        if (onPage != null) {
            for (Watch w : onPage) {
                w.listener.written(gpa, length);
            }
        }
    }

    /** Drops every watch (the VM is being torn down). */
    void close() {
        for (Watch w : watches) {
            w.close();
        }
    }

    private final class Watch implements WriteWatch {
        final long first;
        final long last;
        final WriteListener listener;
        private boolean closed;

        Watch(long first, long last, WriteListener listener) {
            this.first = first;
            this.last = last;
            this.listener = listener;
        }

        @Override
        public void close() {
            synchronized (watchCount) {
                if (closed) {
                    return;
                }
                closed = true;
                for (long p = first; p <= last; p++) {
                    watchCount[(int) p]--;
                    AtomicReferenceArray<Watch[]> block = watchesByPage[(int) (p >>> 10)];
                    Watch[] old = block.get((int) p & 1023);
                    Watch[] now = new Watch[old.length - 1];
                    int n = 0;
                    for (Watch o : old) {
                        if (o != this) {
                            now[n++] = o;
                        }
                    }
                    block.set((int) p & 1023, n == 0 ? null : now);
                }
                watches.remove(this);
            }
        }
    }
}
