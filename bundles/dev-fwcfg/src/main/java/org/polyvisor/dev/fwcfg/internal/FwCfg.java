package org.polyvisor.dev.fwcfg.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.part.SavedState;

/**
 * QEMU's firmware configuration device, x86 flavour (QEMU docs/specs/fw_cfg.rst): a 16-bit
 * selector at 0x510, a byte-wide data port at 0x511 reading the selected item from its start,
 * and the DMA interface at 0x514 (a big-endian register: the address's high half at 0x514, the
 * low half at 0x518, which starts the transfer, each byte-swapped by the guest before its OUT;
 * reading it gives the signature "QEMU CFG" in memory order).
 *
 * <p>Items: signature "QEMU" (0x0000), ID with the DMA bit (0x0001), UUID (0x0002, zeros), RAM
 * size (0x0003), no-graphic (0x0004), CPU count (0x0005, and 0x000f max CPUs), the file directory
 * (0x0019: big-endian count, then size, select and 56-byte name per file, sorted by name) and the
 * files from 0x0020 on: {@code etc/e820} (the guest's RAM from the memory regions, 20-byte
 * little-endian entries {address, length, type}) and the files configured by option.
 *
 * <p>Threat model: the guest controls the selector, how much it reads, and DMA descriptors. Unknown
 * selectors read as zeros; reads past an item's end give zeros; DMA descriptors are read from and
 * written to guest memory through the memory API only, every byte of a transfer must be guest RAM
 * or ROM (otherwise the descriptor gets the error bit and nothing is written), and writes to items
 * are refused (error bit), so nothing the guest does reaches host memory or changes an item.
 */
final class FwCfg implements Device {

    /** Saved-state type and version. */
    static final String STATE_TYPE = "fw-cfg";
    static final int STATE_VERSION = 1;

    static final int SIGNATURE = 0x0000;
    static final int ID = 0x0001;
    static final int UUID = 0x0002;
    static final int RAM_SIZE = 0x0003;
    static final int NOGRAPHIC = 0x0004;
    static final int NB_CPUS = 0x0005;
    static final int MAX_CPUS = 0x000F;
    static final int FILE_DIR = 0x0019;
    static final int FILE_FIRST = 0x0020;
    /** ID bits: traditional interface, DMA interface. */
    static final int ID_TRADITIONAL = 0x1;
    static final int ID_DMA = 0x2;
    /** Name field length of a directory entry. */
    static final int FILE_NAME_MAX = 56;
    /** "QEMU CFG" as the DMA register reads. */
    static final long DMA_SIGNATURE = 0x5145_4D55_2043_4647L;
    /** DMA control bits. */
    static final int DMA_ERROR = 0x01;
    static final int DMA_READ = 0x02;
    static final int DMA_SKIP = 0x04;
    static final int DMA_SELECT = 0x08;
    static final int DMA_WRITE = 0x10;
    /** e820 types. */
    static final int E820_RAM = 1;
    static final int E820_RESERVED = 2;
    /** The PC's legacy window (VGA memory, option ROMs, BIOS), never reported as RAM. */
    static final long LEGACY_START = 0xA_0000L;
    static final long LEGACY_END = 0x10_0000L;

    private final String name;
    private final GuestMemory memory;
    private final Map<Integer, byte[]> items = new TreeMap<>();
    private final Map<String, Integer> fileSelectors = new LinkedHashMap<>();
    private final Registration ports;
    private final Registration dmaPort;
    private int selector;
    private int offset;
    private int dmaHigh;
    private long dataReads;
    private long dmaTransfers;
    private long dmaBytes;
    private long dmaErrors;

    FwCfg(DeviceContext context, int cpus, Map<String, byte[]> extraFiles) {
        this.name = context.instanceName();
        this.memory = context.memory();
        items.put(SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
        items.put(ID, le(ID_TRADITIONAL | ID_DMA, 4));
        items.put(UUID, new byte[16]);
        items.put(RAM_SIZE, le(memory.ramSize(), 8));
        items.put(NOGRAPHIC, le(1, 2));
        items.put(NB_CPUS, le(cpus, 2));
        items.put(MAX_CPUS, le(cpus, 2));
        Map<String, byte[]> files = new TreeMap<>(extraFiles);
        files.put("etc/e820", e820(memory));
        int sel = FILE_FIRST;
        ByteBuffer dir = ByteBuffer.allocate(4 + files.size() * 64).order(ByteOrder.BIG_ENDIAN);
        dir.putInt(files.size());
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            items.put(sel, f.getValue());
            fileSelectors.put(f.getKey(), sel);
            dir.putInt(f.getValue().length).putShort((short) sel).putShort((short) 0);
            byte[] n = new byte[FILE_NAME_MAX];
            byte[] raw = f.getKey().getBytes(StandardCharsets.UTF_8);
            System.arraycopy(raw, 0, n, 0, Math.min(raw.length, FILE_NAME_MAX - 1));
            dir.put(n);
            sel++;
        }
        items.put(FILE_DIR, dir.array());
        this.ports = context.ports().map(0x510, 2, name, new SelectorAndData());
        try {
            this.dmaPort = context.ports().map(0x514, 8, name + "-dma", new DmaPort());
        } catch (RuntimeException e) {
            ports.close();
            throw e;
        }
    }

    private static byte[] le(long v, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }

    /**
     * The e820 map of the guest's memory: RAM regions merged where they touch, minus the legacy
     * window 0xa0000-0xfffff (which firmware describes itself, as QEMU leaves it to SeaBIOS), and
     * ROM regions above 1 MiB as reserved.
     */
    static byte[] e820(GuestMemory memory) {
        List<long[]> ram = new ArrayList<>();
        List<long[]> reserved = new ArrayList<>();
        List<MemoryRegion> regions = new ArrayList<>(memory.regions());
        regions.sort(Comparator.comparingLong(MemoryRegion::guestBase));
        for (MemoryRegion r : regions) {
            long start = r.guestBase();
            long end = r.end();
            if (r.kind() == MemoryRegion.Kind.ROM) {
                if (start >= LEGACY_END) {
                    add(reserved, start, end);
                }
                continue;
            }
            if (start < LEGACY_START) {
                add(ram, start, Math.min(end, LEGACY_START));
            }
            if (end > LEGACY_END) {
                add(ram, Math.max(start, LEGACY_END), end);
            }
        }
        List<long[]> all = new ArrayList<>();
        ram.forEach(e -> all.add(new long[] {e[0], e[1], E820_RAM}));
        reserved.forEach(e -> all.add(new long[] {e[0], e[1], E820_RESERVED}));
        all.sort(Comparator.comparingLong(e -> e[0]));
        ByteBuffer b = ByteBuffer.allocate(all.size() * 20).order(ByteOrder.LITTLE_ENDIAN);
        for (long[] e : all) {
            b.putLong(e[0]).putLong(e[1] - e[0]).putInt((int) e[2]);
        }
        return b.array();
    }

    private static void add(List<long[]> ranges, long start, long end) {
        if (end <= start) {
            return;
        }
        if (!ranges.isEmpty() && ranges.get(ranges.size() - 1)[1] == start) {
            ranges.get(ranges.size() - 1)[1] = end;
        } else {
            ranges.add(new long[] {start, end});
        }
    }

    /** The selector of a file by name, or -1 (for tests and vm:info). */
    int fileSelector(String file) {
        return fileSelectors.getOrDefault(file, -1);
    }

    private void select(int key) {
        selector = key & 0xFFFF;
        offset = 0;
    }

    private int nextByte() {
        byte[] item = items.get(selector);
        dataReads++;
        if (item == null || offset >= item.length) {
            return 0;
        }
        return item[offset++] & 0xFF;
    }

    // ---- DMA ------------------------------------------------------------------------------------

    private boolean inMemory(long gpa, long length) {
        if (gpa < 0 || length < 0 || gpa + length < gpa) {
            return false;
        }
        for (long p = gpa & ~0xFFFL; p < gpa + length; p += 0x1000) {
            if (!memory.isMemory(p)) {
                return false;
            }
        }
        return true;
    }

    /** Runs the descriptor at a guest-physical address (fw_cfg.rst "FWCfgDmaAccess"). */
    private void dma(long descriptor) {
        dmaTransfers++;
        if (!inMemory(descriptor, 16)) {
            dmaErrors++;
            return; // nowhere to report the error
        }
        int control = Integer.reverseBytes(memory.readDword(descriptor));
        long length = Integer.reverseBytes(memory.readDword(descriptor + 4)) & 0xFFFF_FFFFL;
        long address = Long.reverseBytes(memory.readQword(descriptor + 8));
        if ((control & DMA_SELECT) != 0) {
            select(control >>> 16);
        }
        boolean ok = true;
        if ((control & DMA_WRITE) != 0) {
            ok = false; // no item is writable
        } else if ((control & DMA_READ) != 0) {
            ok = inMemory(address, length);
            if (ok) {
                byte[] item = items.get(selector);
                int available = item == null ? 0 : Math.max(0, item.length - offset);
                int n = (int) Math.min(length, available);
                if (n > 0) {
                    memory.write(address, item, offset, n);
                    offset += n;
                }
                byte[] zeros = new byte[4096];
                for (long done = n; done < length; done += zeros.length) {
                    memory.write(address + done, zeros, 0, (int) Math.min(zeros.length, length - done));
                }
                dmaBytes += length;
            }
        } else if ((control & DMA_SKIP) != 0) {
            byte[] item = items.get(selector);
            int size = item == null ? 0 : item.length;
            offset = (int) Math.min(size, offset + length);
        }
        memory.writeDword(descriptor, Integer.reverseBytes(ok ? 0 : DMA_ERROR));
        if (!ok) {
            dmaErrors++;
        }
    }

    // ---- ports ----------------------------------------------------------------------------------

    private final class SelectorAndData implements PortDevice {
        @Override
        public int read(int off, int size) {
            synchronized (FwCfg.this) {
                if (off != 1) {
                    return 0;
                }
                int v = 0;
                for (int i = 0; i < size; i++) {
                    v |= nextByte() << (8 * i);
                }
                return v;
            }
        }

        @Override
        public void write(int off, int size, int value) {
            synchronized (FwCfg.this) {
                if (off == 0) {
                    select(size == 1 ? value & 0xFF : value & 0xFFFF);
                }
                // writes to the data port are ignored (QEMU 2.4+)
            }
        }
    }

    private final class DmaPort implements PortDevice {
        @Override
        public int read(int off, int size) {
            long shifted = DMA_SIGNATURE >>> (8 * (8 - off - size));
            return bigEndianBus((int) (shifted & ((1L << (8 * size)) - 1)), size);
        }

        @Override
        public void write(int off, int size, int value) {
            synchronized (FwCfg.this) {
                // The address is big-endian: a 32-bit OUT to 0x514 is the high half, one to 0x518
                // the low half and the trigger. The register is big-endian on the bus (QEMU maps
                // it DEVICE_BIG_ENDIAN), so guests byte-swap the half before the OUT (SeaBIOS
                // outl(cpu_to_be32(addr)), Linux iowrite32be) and the device swaps it back.
                if (off == 0 && size == 4) {
                    dmaHigh = Integer.reverseBytes(value);
                } else if (off == 4 && size == 4) {
                    long address = (long) dmaHigh << 32 | (Integer.reverseBytes(value) & 0xFFFF_FFFFL);
                    dmaHigh = 0;
                    dma(address);
                }
            }
        }
    }

    /** A value of a big-endian register as a little-endian port access of {@code size} bytes sees it. */
    static int bigEndianBus(int value, int size) {
        return switch (size) {
            case 4 -> Integer.reverseBytes(value);
            case 2 -> Short.reverseBytes((short) value) & 0xFFFF;
            default -> value & 0xFF;
        };
    }

    // ---- Device ---------------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized void reset() {
        selector = 0;
        offset = 0;
        dmaHigh = 0;
    }

    @Override
    public synchronized SavedState saveState() {
        return SavedState.builder(STATE_TYPE, STATE_VERSION)
                .put("selector", selector).put("offset", offset).put("dma-high", dmaHigh).build();
    }

    @Override
    public synchronized void restoreState(SavedState state) {
        state.require(STATE_TYPE, 1, STATE_VERSION);
        selector = state.getInt("selector") & 0xFFFF;
        offset = Math.max(0, state.getInt("offset"));
        dmaHigh = state.getInt("dma-high");
    }

    @Override
    public List<String> resources() {
        return List.of("io 0x510-0x511", "io 0x514-0x51b");
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("data-reads", dataReads);
        m.put("dma-transfers", dmaTransfers);
        m.put("dma-bytes", dmaBytes);
        m.put("dma-errors", dmaErrors);
        m.put("files", (long) fileSelectors.size());
        return m;
    }

    @Override
    public void close() {
        ports.close();
        dmaPort.close();
    }
}
