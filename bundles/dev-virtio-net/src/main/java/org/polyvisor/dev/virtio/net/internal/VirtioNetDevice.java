package org.polyvisor.dev.virtio.net.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.virtio.DescriptorChain;
import org.polyvisor.virtio.VirtioException;
import org.polyvisor.virtio.VirtioPciDevice;
import org.polyvisor.virtio.Virtqueue;

/**
 * A virtio network device (virtio 1.1, section 5.1) with one receive and one transmit queue, no
 * offloads, connected to a {@link VirtualSwitch} port. Both directions run on the device's worker.
 *
 * <p>Every buffer starts with the 12-byte {@code virtio_net_hdr} of a VERSION_1 device (5.1.6).
 * Transmit: the header is skipped (no offloads were offered, so it asks for nothing) and the rest
 * is the frame; frames shorter than an Ethernet header or longer than the switch's maximum are
 * dropped and counted, the chain is still returned. Receive: a frame waits in this port's queue
 * until the driver has made a buffer available; a frame that does not fit the buffer is dropped
 * (without VIRTIO_NET_F_MRG_RXBUF the driver must give buffers of at least 1526 bytes, 5.1.6.3.1)
 * and the buffer returned empty.
 */
final class VirtioNetDevice extends VirtioPciDevice {

    /** Virtio device ID of a network card. */
    static final int VIRTIO_ID_NET = 1;
    /** PCI class 02/00: Ethernet controller. */
    static final int PCI_CLASS_ETHERNET = 0x02_00_00;
    /** Queue indices. */
    static final int RX = 0;
    static final int TX = 1;
    static final int QUEUE_SIZE = 256;
    /** Feature: the mac field is valid. */
    static final long F_MAC = 1L << 5;
    /** Feature: the status field is valid. */
    static final long F_STATUS = 1L << 16;
    /** Config status: link up. */
    static final int S_LINK_UP = 1;
    /** Header size with VERSION_1 (num_buffers always present). */
    static final int HEADER = 12;

    private final long mac;
    private final VirtualSwitch.Port port;
    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong rxTooBig = new AtomicLong();
    private final AtomicLong txBad = new AtomicLong();

    VirtioNetDevice(DeviceContext context, String switchName, long mac, int slot) {
        super(context, VirtioNetModel.NAME, VIRTIO_ID_NET, PCI_CLASS_ETHERNET, new int[] {QUEUE_SIZE, QUEUE_SIZE},
                F_MAC | F_STATUS, slot);
        this.mac = mac;
        this.port = VirtualSwitch.connect(switchName, context.vmName() + "/" + context.instanceName(), mac,
                () -> schedule(RX));
        try {
            start();
        } catch (RuntimeException e) {
            port.close();
            throw e;
        }
    }

    @Override
    protected byte[] deviceConfig() {
        byte[] c = new byte[8];
        for (int i = 0; i < 6; i++) {
            c[i] = (byte) (mac >>> (8 * (5 - i)));
        }
        c[6] = S_LINK_UP;
        return c;
    }

    @Override
    protected void processQueue(int queue, Virtqueue ring) throws VirtioException {
        if (queue == TX) {
            transmit(ring);
        } else {
            receive(ring);
        }
    }

    private void transmit(Virtqueue ring) throws VirtioException {
        for (DescriptorChain c; (c = ring.pop()) != null; ) {
            long len = c.readableLength() - HEADER;
            if (len < VirtualSwitch.MIN_FRAME || len > VirtualSwitch.MAX_FRAME) {
                txBad.incrementAndGet();
            } else {
                DescriptorChain.Reader r = c.reader(memory());
                r.skip(HEADER);
                byte[] frame = new byte[(int) len];
                r.read(frame, 0, frame.length);
                port.send(frame);
            }
            complete(ring, c, 0);
        }
    }

    private void receive(Virtqueue ring) throws VirtioException {
        while (port.hasFrame() && ring.hasAvailable()) {
            DescriptorChain c = ring.pop();
            if (c == null) {
                return;
            }
            byte[] frame = port.poll();
            if (frame == null) { // cannot happen with one consumer; return the buffer unused
                complete(ring, c, 0);
                return;
            }
            if (c.writableLength() < HEADER + frame.length) {
                rxTooBig.incrementAndGet();
                complete(ring, c, 0);
                continue;
            }
            byte[] hdr = new byte[HEADER];
            hdr[10] = 1; // num_buffers = 1; flags, gso_type (NONE) and the rest 0
            DescriptorChain.Writer w = c.writer(memory());
            w.write(hdr, 0, HEADER);
            w.write(frame, 0, frame.length);
            rxFrames.incrementAndGet();
            complete(ring, c, w.written());
        }
    }

    @Override
    protected void driverReady() {
        schedule(RX);
    }

    @Override
    protected void deviceReset() {
        port.clear();
    }

    @Override
    protected void closeDevice() {
        port.close();
    }

    @Override
    protected Map<String, Long> deviceStats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("tx-frames", port.txFrames.get());
        m.put("tx-dropped", port.txDropped.get() + txBad.get());
        m.put("rx-frames", rxFrames.get());
        m.put("rx-queue-drops", port.rxDropped.get());
        m.put("rx-too-big", rxTooBig.get());
        return m;
    }

    @Override
    protected List<String> deviceResources() {
        return List.of("mac " + VirtioNetModel.format(mac), "switch " + port.switchName());
    }
}
