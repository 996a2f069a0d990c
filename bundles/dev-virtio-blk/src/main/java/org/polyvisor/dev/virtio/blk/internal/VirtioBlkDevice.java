package org.polyvisor.dev.virtio.blk.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.part.SavedState;
import org.polyvisor.virtio.DescriptorChain;
import org.polyvisor.virtio.VirtioException;
import org.polyvisor.virtio.VirtioPciDevice;
import org.polyvisor.virtio.Virtqueue;

/**
 * A virtio block device (virtio 1.1, section 5.2) on a {@link DiskImage}. Requests run on the
 * device's worker thread, so a vCPU's notification returns at once.
 *
 * <p>Request handling (5.2.6): a 16-byte device-readable header {type, reserved, sector}, data, and
 * a device-writable status byte, the last byte of the chain. A chain without room for both is a
 * protocol error (QEMU: "virtio-blk missing headers"), so the device needs a reset. Everything else
 * the guest can get wrong is answered in the status byte: data not a whole number of sectors, or
 * beyond the end of the image (of any size, so "huge" requests too) gives VIRTIO_BLK_S_IOERR and
 * touches nothing; a write to a read-only image gives IOERR (5.2.6.2); an unknown type gives
 * VIRTIO_BLK_S_UNSUPP; an I/O error of the host gives IOERR. A zero-length read or write succeeds.
 */
final class VirtioBlkDevice extends VirtioPciDevice {

    /** Virtio device ID of a block device. */
    static final int VIRTIO_ID_BLOCK = 2;
    /** PCI class 01/80: other mass storage controller (QEMU's virtio-blk-pci). */
    static final int PCI_CLASS_STORAGE_OTHER = 0x01_80_00;
    /** Queue size: one request queue. */
    static final int QUEUE_SIZE = 256;

    /** Feature: seg_max is valid. */
    static final long F_SEG_MAX = 1L << 2;
    /** Feature: the device is read-only. */
    static final long F_RO = 1L << 5;
    /** Feature: blk_size is valid. */
    static final long F_BLK_SIZE = 1L << 6;
    /** Feature: the flush command is supported. */
    static final long F_FLUSH = 1L << 9;

    /** Request types. */
    static final int T_IN = 0;
    static final int T_OUT = 1;
    static final int T_FLUSH = 4;
    static final int T_GET_ID = 8;
    /** Status values. */
    static final int S_OK = 0;
    static final int S_IOERR = 1;
    static final int S_UNSUPP = 2;
    /** Header size. */
    static final int HEADER = 16;
    /** Length of the GET_ID string. */
    static final int ID_BYTES = 20;
    /** Largest chunk copied between the image and guest memory at once. */
    static final int CHUNK = 64 * 1024;

    private final DiskImage disk;
    private final byte[] serial;
    private final byte[] chunk = new byte[CHUNK];
    private final AtomicLong reads = new AtomicLong();
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong flushes = new AtomicLong();
    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicLong bytesWritten = new AtomicLong();
    private final AtomicLong ioErrors = new AtomicLong();
    private final AtomicLong unsupported = new AtomicLong();

    VirtioBlkDevice(DeviceContext context, DiskImage disk, String serial, int slot) {
        super(context, VirtioBlkModel.NAME, VIRTIO_ID_BLOCK, PCI_CLASS_STORAGE_OTHER, new int[] {QUEUE_SIZE},
                F_SEG_MAX | F_BLK_SIZE | F_FLUSH | (disk.readOnly() ? F_RO : 0), slot);
        this.disk = disk;
        this.serial = serial.getBytes(StandardCharsets.US_ASCII);
        start();
    }

    @Override
    protected byte[] deviceConfig() {
        ByteBuffer b = ByteBuffer.allocate(24).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, disk.sectors());      // capacity
        b.putInt(8, 0);                    // size_max (F_SIZE_MAX not offered)
        b.putInt(12, QUEUE_SIZE - 2);      // seg_max: data buffers besides header and status
        b.putInt(20, DiskImage.SECTOR);    // blk_size
        return b.array();
    }

    @Override
    protected void processQueue(int queue, Virtqueue ring) throws VirtioException {
        for (DescriptorChain c; (c = ring.pop()) != null; ) {
            long written = handle(c);
            complete(ring, c, written);
        }
    }

    /** Serves one request; returns the bytes written into the chain (data plus status). */
    private long handle(DescriptorChain c) throws VirtioException {
        if (c.readableLength() < HEADER || c.writableLength() < 1) {
            throw new VirtioException("request " + c.head() + " has " + c.readableLength() + " readable and "
                    + c.writableLength() + " writable bytes; a request needs a 16-byte header and a status byte");
        }
        DescriptorChain.Reader in = c.reader(memory());
        byte[] header = new byte[HEADER];
        in.read(header, 0, HEADER);
        ByteBuffer h = ByteBuffer.wrap(header).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int type = h.getInt(0);
        long sector = h.getLong(8);
        long dataIn = c.writableLength() - 1;   // room for data the device writes (before status)
        long dataOut = c.readableLength() - HEADER;
        int status;
        long written = 0;
        switch (type) {
            case T_IN -> {
                reads.incrementAndGet();
                if (!inRange(sector, dataIn)) {
                    status = S_IOERR;
                } else {
                    DescriptorChain.Writer w = c.writer(memory());
                    status = readInto(w, sector, dataIn);
                    written = w.written();
                }
            }
            case T_OUT -> {
                writes.incrementAndGet();
                status = disk.readOnly() || !inRange(sector, dataOut) ? S_IOERR : writeFrom(in, sector, dataOut);
            }
            case T_FLUSH -> {
                flushes.incrementAndGet();
                status = flush();
            }
            case T_GET_ID -> {
                byte[] id = new byte[ID_BYTES];
                System.arraycopy(serial, 0, id, 0, Math.min(serial.length, ID_BYTES));
                written = c.writer(memory()).write(id, 0, (int) Math.min(ID_BYTES, dataIn));
                status = S_OK;
            }
            default -> {
                unsupported.incrementAndGet();
                status = S_UNSUPP;
            }
        }
        if (status == S_IOERR) {
            ioErrors.incrementAndGet();
        }
        // the status byte is the last byte of the last (writable) buffer
        int last = c.segments() - 1;
        memory().writeByte(c.address(last) + c.length(last) - 1, status);
        return written + 1;
    }

    /** Tells whether {@code bytes} at {@code sector} are whole sectors inside the image. */
    private boolean inRange(long sector, long bytes) {
        if (bytes % DiskImage.SECTOR != 0) {
            return false;
        }
        long cap = disk.sectors();
        return sector >= 0 && sector <= cap && bytes / DiskImage.SECTOR <= cap - sector;
    }

    private int readInto(DescriptorChain.Writer w, long sector, long length) {
        long offset = sector * DiskImage.SECTOR;
        long done = 0;
        try {
            while (done < length) {
                int n = (int) Math.min(CHUNK, length - done);
                disk.read(offset + done, ByteBuffer.wrap(chunk, 0, n));
                w.write(chunk, 0, n);
                done += n;
            }
            bytesRead.addAndGet(done);
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    private int writeFrom(DescriptorChain.Reader r, long sector, long length) {
        long offset = sector * DiskImage.SECTOR;
        long done = 0;
        try {
            while (done < length) {
                int n = r.read(chunk, 0, (int) Math.min(CHUNK, length - done));
                disk.write(offset + done, ByteBuffer.wrap(chunk, 0, n));
                done += n;
            }
            bytesWritten.addAndGet(done);
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    private int flush() {
        try {
            disk.flush();
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    @Override
    protected void saveDevice(SavedState.Builder b) {
        b.put("capacity", disk.sectors());
    }

    @Override
    protected void restoreDevice(SavedState s) {
        long cap = s.getLong("capacity");
        if (cap != disk.sectors()) {
            throw new IllegalArgumentException(VirtioBlkModel.NAME + " '" + name() + "': saved state is for a disk of "
                    + cap + " sectors, the image " + disk.path() + " has " + disk.sectors());
        }
    }

    @Override
    protected void closeDevice() {
        disk.close();
    }

    @Override
    protected Map<String, Long> deviceStats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("reads", reads.get());
        m.put("writes", writes.get());
        m.put("flushes", flushes.get());
        m.put("bytes-read", bytesRead.get());
        m.put("bytes-written", bytesWritten.get());
        m.put("io-errors", ioErrors.get());
        m.put("unsupported", unsupported.get());
        return m;
    }

    @Override
    protected List<String> deviceResources() {
        return List.of("image " + disk.path() + " (" + (disk.readOnly() ? "read-only" : "read-write") + ", "
                + disk.sectors() + " sectors)");
    }
}
