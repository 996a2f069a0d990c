package org.polyvisor.dev.virtio.console.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.virtio.DescriptorChain;
import org.polyvisor.virtio.VirtioException;
import org.polyvisor.virtio.VirtioPciDevice;
import org.polyvisor.virtio.Virtqueue;

/**
 * A virtio console (virtio 1.1, section 5.3) with a single port (no VIRTIO_CONSOLE_F_MULTIPORT):
 * receiveq0 carries typed input to the guest, transmitq0 the guest's output; VIRTIO_CONSOLE_F_EMERG_WRITE
 * lets the guest write a character through the configuration space before the queues exist.
 */
final class VirtioConsoleDevice extends VirtioPciDevice {

    /** Virtio device ID of a console. */
    static final int VIRTIO_ID_CONSOLE = 3;
    /** PCI class 07/80: other communication controller (QEMU's virtio-serial-pci). */
    static final int PCI_CLASS_COMM_OTHER = 0x07_80_00;
    static final int RX = 0;
    static final int TX = 1;
    static final int QUEUE_SIZE = 64;
    /** Feature: console size fields valid. */
    static final long F_SIZE = 1L;
    /** Feature: emergency write register. */
    static final long F_EMERG_WRITE = 1L << 2;
    /** Offset of emerg_wr in the configuration (after cols, rows, max_nr_ports). */
    static final int EMERG_WR = 8;

    private final Optional<CharBackend> backend;
    /** One input byte read ahead, so no byte is taken before there is a buffer for it; -1 if none. Worker only. */
    private int lookahead = -1;
    private final AtomicLong txBytes = new AtomicLong();
    private final AtomicLong rxBytes = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();

    VirtioConsoleDevice(DeviceContext context, int slot) {
        super(context, VirtioConsoleModel.NAME, VIRTIO_ID_CONSOLE, PCI_CLASS_COMM_OTHER,
                new int[] {QUEUE_SIZE, QUEUE_SIZE}, F_SIZE | F_EMERG_WRITE, slot);
        this.backend = context.console();
        start();
        backend.ifPresent(b -> b.onInput(() -> schedule(RX)));
    }

    @Override
    protected byte[] deviceConfig() {
        byte[] c = new byte[12];
        c[0] = 80;  // cols
        c[2] = 25;  // rows
        c[4] = 1;   // max_nr_ports
        return c;
    }

    @Override
    protected void writeDeviceConfig(int offset, int size, long value) {
        if (offset == EMERG_WR) {
            out((int) value & 0xFF);
        }
    }

    private void out(int b) {
        txBytes.incrementAndGet();
        if (backend.isPresent()) {
            backend.get().write(b);
        } else {
            dropped.incrementAndGet();
        }
    }

    @Override
    protected void processQueue(int queue, Virtqueue ring) throws VirtioException {
        if (queue == TX) {
            byte[] buf = new byte[4096];
            for (DescriptorChain c; (c = ring.pop()) != null; ) {
                DescriptorChain.Reader r = c.reader(memory());
                for (int n; (n = r.read(buf, 0, buf.length)) > 0; ) {
                    for (int i = 0; i < n; i++) {
                        out(buf[i] & 0xFF);
                    }
                }
                complete(ring, c, 0);
            }
            return;
        }
        if (backend.isEmpty()) {
            return;
        }
        CharBackend in = backend.get();
        while (true) {
            if (lookahead < 0) {
                lookahead = in.read();
            }
            if (lookahead < 0 || !ring.hasAvailable()) {
                return;
            }
            DescriptorChain c = ring.pop();
            if (c == null) {
                return;
            }
            int room = (int) Math.min(c.writableLength(), 4096);
            byte[] data = new byte[Math.max(room, 0)];
            int n = 0;
            while (n < room && lookahead >= 0) {
                data[n++] = (byte) lookahead;
                lookahead = in.read();
            }
            DescriptorChain.Writer w = c.writer(memory());
            w.write(data, 0, n);
            rxBytes.addAndGet(n);
            complete(ring, c, w.written());
        }
    }

    @Override
    protected void driverReady() {
        schedule(RX);
    }

    @Override
    protected void saveDevice(org.polyvisor.part.SavedState.Builder b) {
        b.put("input-lookahead", lookahead); // a typed byte already taken from the console
    }

    @Override
    protected void restoreDevice(org.polyvisor.part.SavedState s) {
        lookahead = Math.max(-1, Math.min(255, s.getInt("input-lookahead", -1)));
    }

    @Override
    protected void closeDevice() {
        backend.ifPresent(b -> b.onInput(null));
    }

    @Override
    protected Map<String, Long> deviceStats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("tx-bytes", txBytes.get());
        m.put("rx-bytes", rxBytes.get());
        m.put("tx-discarded", dropped.get());
        return m;
    }

    @Override
    protected List<String> deviceResources() {
        return List.of(backend.isPresent() ? "console" : "console (not the VM console: output dropped)");
    }
}
