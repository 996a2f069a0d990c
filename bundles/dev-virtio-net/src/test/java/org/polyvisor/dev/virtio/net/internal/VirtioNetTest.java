package org.polyvisor.dev.virtio.net.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.virtio.testing.TestVm;
import org.polyvisor.virtio.testing.VirtioDriver;

/** Two (and three) VMs of one runtime exchanging frames through virtio-net and the switch. */
class VirtioNetTest {

    static final long BAR = 0xE000_0000L;
    static final long RXBUF = 0x30_0000;
    static final long TXBUF = 0x40_0000;
    final String sw = "sw" + System.nanoTime();

    /** One guest: its VM, device, driver and queues. */
    final class Guest implements AutoCloseable {
        final TestVm vm = new TestVm();
        final Device dev;
        final VirtioDriver drv;
        final VirtioDriver.Queue rx;
        final VirtioDriver.Queue tx;
        final long mac;

        Guest(String mac, int rxBuffers) {
            dev = vm.add(new VirtioNetModel(), "net0", Map.of("switch", sw, "mac", mac));
            this.mac = VirtioNetModel.parseMac("t", mac);
            drv = new VirtioDriver(vm, 1, BAR);
            assertTrue(drv.negotiate(drv.deviceFeatures()));
            rx = drv.queue(0, 256, 0x10_0000);
            tx = drv.queue(1, 256, 0x20_0000);
            drv.driverOk();
            for (int i = 0; i < rxBuffers; i++) {
                rx.add(new long[] {RXBUF + 0x1000L * i}, new int[] {1526}, new boolean[] {true});
            }
            rx.kick();
        }

        void send(long dst, String payload) {
            byte[] p = payload.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            byte[] buf = new byte[12 + 14 + p.length];
            put(buf, 12, dst);
            put(buf, 18, mac);
            buf[24] = (byte) 0x88;
            buf[25] = (byte) 0xB5; // local experimental EtherType
            System.arraycopy(p, 0, buf, 26, p.length);
            vm.memory.write(TXBUF, buf, 0, buf.length);
            tx.add(new long[] {TXBUF}, new int[] {buf.length}, new boolean[] {false});
            tx.kick();
            assertNotNull(tx.waitUsed(5000));
        }

        /** Returns the next received frame's payload, or null. */
        String receive(long timeoutMs) {
            int[] used = rx.waitUsed(timeoutMs);
            if (used == null) {
                return null;
            }
            byte[] b = new byte[used[1]];
            vm.memory.read(RXBUF + 0x1000L * used[0], b, 0, b.length);
            assertEquals(1, b[10], "num_buffers");
            return new String(b, 26, b.length - 26, java.nio.charset.StandardCharsets.US_ASCII);
        }

        @Override
        public void close() {
            vm.close();
            assertEquals(0, vm.memory.droppedWrites());
        }
    }

    static void put(byte[] b, int at, long mac) {
        for (int i = 0; i < 6; i++) {
            b[at + i] = (byte) (mac >>> (8 * (5 - i)));
        }
    }

    @AfterEach
    void switchIsGone() {
        assertFalse(VirtualSwitch.exists(sw), "the switch goes with its last port");
    }

    @Test
    void twoVmsExchangeFrames() {
        try (Guest a = new Guest("52:54:00:00:00:0a", 8); Guest b = new Guest("52:54:00:00:00:0b", 8)) {
            assertEquals(0x0a, a.drv.config(5, 1), "mac in the config space");
            assertEquals(1, a.drv.config(6, 2), "link up");
            a.send(b.mac, "hello b");
            assertEquals("hello b", b.receive(5000));
            b.send(a.mac, "hello a");
            assertEquals("hello a", a.receive(5000));
            assertEquals(1L, a.dev.stats().get("rx-frames"));
            assertEquals(1, b.drv.readIsr() & 1, "receive interrupt");
        }
    }

    @Test
    void unicastGoesOnlyToItsPortsQueueAndBroadcastFloods() {
        try (Guest a = new Guest("52:54:00:00:00:0a", 8); Guest b = new Guest("52:54:00:00:00:0b", 8);
             Guest c = new Guest("52:54:00:00:00:0c", 8)) {
            a.send(c.mac, "to c");
            assertEquals("to c", c.receive(5000));
            assertNull(b.receive(200), "VMDq: b's queue never saw c's frame");
            a.send(0xFFFF_FFFF_FFFFL, "everyone");
            assertEquals("everyone", b.receive(5000));
            assertEquals("everyone", c.receive(5000));
            assertNull(a.receive(200), "no frame back to its sender");
        }
    }

    @Test
    void framesWaitForBuffersAndAFullQueueDrops() {
        try (Guest a = new Guest("52:54:00:00:00:0a", 0); Guest b = new Guest("52:54:00:00:00:0b", 0)) {
            for (int i = 0; i < VirtualSwitch.QUEUE_FRAMES + 5; i++) {
                a.send(b.mac, "f" + i);
            }
            assertEquals(5L, b.dev.stats().get("rx-queue-drops"));
            b.rx.add(new long[] {RXBUF}, new int[] {1526}, new boolean[] {true});
            b.rx.kick();
            assertEquals("f0", b.receive(5000), "the oldest waiting frame first");
            b.rx.add(new long[] {RXBUF + 0x1000}, new int[] {20}, new boolean[] {true}); // too small
            b.rx.kick();
            int[] used = b.rx.waitUsed(5000);
            assertNotNull(used);
            assertEquals(0, used[1], "too-small buffer returned empty");
            assertEquals(1L, b.dev.stats().get("rx-too-big"));
        }
    }

    @Test
    void runtFramesAreDroppedNotForwarded() {
        try (Guest a = new Guest("52:54:00:00:00:0a", 8); Guest b = new Guest("52:54:00:00:00:0b", 8)) {
            a.vm.memory.write(TXBUF, new byte[20], 0, 20);
            a.tx.add(new long[] {TXBUF}, new int[] {20}, new boolean[] {false}); // header + 8 bytes
            a.tx.kick();
            assertNotNull(a.tx.waitUsed(5000));
            assertEquals(1L, a.dev.stats().get("tx-dropped"));
            assertNull(b.receive(200));
        }
    }

    @Test
    void optionsAreChecked() {
        try (TestVm vm = new TestVm()) {
            assertThrows(IllegalArgumentException.class, () -> vm.add(new VirtioNetModel(), "n", Map.of("mac", "01:00:5e:00:00:01")));
            assertThrows(IllegalArgumentException.class, () -> vm.add(new VirtioNetModel(), "n", Map.of("mac", "zz")));
            assertThrows(IllegalArgumentException.class, () -> vm.add(new VirtioNetModel(), "n", Map.of("switch", "a b")));
            assertEquals("52:54:00:00:00:0a", VirtioNetModel.format(0x5254_0000_000AL));
            assertEquals(0x5254_00L, VirtioNetModel.defaultMac("vm", "net0") >>> 24);
        }
    }
}
