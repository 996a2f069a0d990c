package org.polyvisor.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;
import org.polyvisor.part.SavedState;
import org.polyvisor.pci.PciBuses;
import org.polyvisor.virtio.testing.TestVm;
import org.polyvisor.virtio.testing.VirtioDriver;

/** The modern virtio-pci transport, driven through the real host bridge as a guest driver does. */
class VirtioPciTransportTest {

    /** A device that copies each request's readable bytes, reversed, into its writable buffers. */
    static final class EchoDevice extends VirtioPciDevice {
        EchoDevice(DeviceContext ctx) {
            super(ctx, "virtio-echo", 0x1F, 0xFF_00_00, new int[] {16, 4}, 1L << 3, PciBuses.ANY_DEVICE);
            start();
        }

        @Override
        protected void processQueue(int queue, Virtqueue ring) throws VirtioException {
            for (DescriptorChain c; (c = ring.pop()) != null; ) {
                byte[] in = new byte[(int) Math.min(c.readableLength(), 4096)];
                c.reader(memory()).read(in, 0, in.length);
                for (int i = 0; i < in.length / 2; i++) {
                    byte t = in[i];
                    in[i] = in[in.length - 1 - i];
                    in[in.length - 1 - i] = t;
                }
                DescriptorChain.Writer w = c.writer(memory());
                w.write(in, 0, in.length);
                complete(ring, c, w.written());
            }
        }

        @Override
        protected byte[] deviceConfig() {
            return new byte[] {0x11, 0x22, 0x33, 0x44};
        }
    }

    static final class EchoModel implements DeviceModel {
        @Override
        public String name() {
            return "virtio-echo";
        }

        @Override
        public String description() {
            return "test";
        }

        @Override
        public Availability availability() {
            return Availability.yes();
        }

        @Override
        public Device create(DeviceContext context) {
            return new EchoDevice(context);
        }
    }

    static final long BAR = 0xE000_0000L;
    final TestVm vm = new TestVm();

    @AfterEach
    void close() {
        vm.close();
        assertEquals(0, vm.memory.droppedWrites());
    }

    private VirtioDriver ready() {
        vm.add(new EchoModel(), "echo", Map.of());
        VirtioDriver d = new VirtioDriver(vm, 1, BAR);
        assertTrue(d.negotiate(VirtioPciDevice.F_VERSION_1 | VirtioPciDevice.F_INDIRECT_DESC));
        return d;
    }

    @Test
    void identityAndCapabilitiesFollowVirtioPciModern() {
        vm.add(new EchoModel(), "echo", Map.of());
        VirtioDriver d = new VirtioDriver(vm, 1, BAR);
        assertEquals(0x1AF4, d.cfgRead(0, 2));
        assertEquals(0x1040 + 0x1F, d.cfgRead(2, 2));
        assertEquals(1, d.cfgRead(8, 1), "revision 1: modern only");
        assertEquals(0x0000, d.common, "common config in BAR 0");
        assertEquals(0x1000, d.isr);
        assertEquals(0x2000, d.device);
        assertEquals(0x3000, d.notify);
        assertEquals(4, d.notifyMultiplier);
        assertTrue(d.pciCfgCap >= 0x40);
        assertEquals(1, d.cfgRead(0x3D, 1), "INTA");
        assertEquals(10, d.cfgRead(0x3C, 1), "slot 1 INTA -> PIRQA -> GSI 10");
        assertEquals(2, d.common(0x12, 2), "num_queues");
        assertEquals(0xFFFF, d.common(0x10, 2), "no MSI-X vector");
        long f = d.deviceFeatures();
        assertEquals(VirtioPciDevice.F_VERSION_1 | VirtioPciDevice.F_INDIRECT_DESC | 1L << 3, f);
        assertEquals(0x44332211L, d.config(0, 4));
    }

    @Test
    void featureNegotiationRefusesUnofferedOrLegacy() {
        vm.add(new EchoModel(), "echo", Map.of());
        VirtioDriver d = new VirtioDriver(vm, 1, BAR);
        assertFalse(d.negotiate(VirtioPciDevice.F_VERSION_1 | 1L << 5), "feature not offered");
        assertFalse(d.negotiate(1L << 3), "no VERSION_1: a legacy driver");
        assertTrue(d.negotiate(VirtioPciDevice.F_VERSION_1));
    }

    @Test
    void processesRequestsAndInterruptsThroughIntx() {
        VirtioDriver d = ready();
        VirtioDriver.Queue q = d.queue(0, 16, 0x10_0000);
        d.driverOk();
        vm.memory.write(0x20_0000, new byte[] {1, 2, 3, 4}, 0, 4);
        q.add(new long[] {0x20_0000, 0x20_1000}, new int[] {4, 4}, new boolean[] {false, true});
        q.kick();
        int[] used = q.waitUsed(5000);
        assertNotNull(used);
        assertEquals(0, used[0]);
        assertEquals(4, used[1]);
        byte[] out = new byte[4];
        vm.memory.read(0x20_1000, out, 0, 4);
        assertArrayEquals(new byte[] {4, 3, 2, 1}, out);
        waitFor(() -> vm.line(10).high);
        assertEquals(1, d.readIsr(), "queue interrupt");
        assertFalse(vm.line(10).high, "reading ISR deasserts INTx");
        assertEquals(0, d.readIsr());
    }

    @Test
    void interruptDisableBitMasksIntx() {
        VirtioDriver d = ready();
        VirtioDriver.Queue q = d.queue(0, 16, 0x10_0000);
        d.driverOk();
        d.cfgWrite(0x04, 2, 0x6 | 0x400);
        q.add(new long[] {0x20_1000}, new int[] {4}, new boolean[] {true});
        q.kick();
        assertNotNull(q.waitUsed(5000));
        sleep(50);
        assertFalse(vm.line(10).high);
        assertEquals(0x08, d.cfgRead(0x06, 2) & 0x08, "status shows the pending interrupt");
        d.cfgWrite(0x04, 2, 0x6);
        assertTrue(vm.line(10).high);
    }

    @Test
    void aBrokenChainNeedsAResetAndAResetRecovers() {
        VirtioDriver d = ready();
        VirtioDriver.Queue q = d.queue(0, 16, 0x10_0000);
        d.driverOk();
        q.descriptor(0, 0x20_0000, 4, 1, 0); // loops on itself
        q.publish(0);
        q.kick();
        waitFor(() -> (d.status() & VirtioDriver.NEEDS_RESET) != 0);
        assertEquals(2, d.readIsr() & 2, "configuration change interrupt");
        assertTrue(vm.line(10).raises >= 1);
        d.common(0x14, 1, 0);
        assertEquals(0, d.status());
        assertTrue(d.negotiate(VirtioPciDevice.F_VERSION_1));
        VirtioDriver.Queue q2 = d.queue(0, 16, 0x18_0000);
        d.driverOk();
        q2.add(new long[] {0x20_1000}, new int[] {4}, new boolean[] {true});
        q2.kick();
        assertNotNull(q2.waitUsed(5000));
    }

    @Test
    void badQueueConfigurationNeedsReset() {
        VirtioDriver d = ready();
        d.common(0x16, 2, 0);
        d.common(0x18, 2, 12); // not a power of two
        d.common(0x1C, 2, 1);
        assertEquals(VirtioDriver.NEEDS_RESET, d.status() & VirtioDriver.NEEDS_RESET);
        d.common(0x14, 1, 0);
        assertTrue(d.negotiate(VirtioPciDevice.F_VERSION_1));
        d.common(0x16, 2, 1);
        d.common(0x18, 2, 64); // larger than queue 1's maximum of 4
        d.common(0x1C, 2, 1);
        assertEquals(VirtioDriver.NEEDS_RESET, d.status() & VirtioDriver.NEEDS_RESET);
        d.common(0x14, 1, 0);
        d.common(0x16, 2, 7); // a queue that does not exist reads size 0
        assertEquals(0, d.common(0x18, 2));
    }

    @Test
    void pciCfgWindowReachesBar0() {
        VirtioDriver d = ready();
        int cap = d.pciCfgCap;
        d.cfgWrite(cap + 4, 1, 0);        // bar 0
        d.cfgWrite(cap + 8, 4, 0x12);     // num_queues
        d.cfgWrite(cap + 12, 4, 2);       // 2 bytes
        assertEquals(0x12, d.cfgRead(cap + 8, 4));
        assertEquals(2, d.cfgRead(cap + 16, 4));
    }

    @Test
    void aBarOverRamIsNotMappedAndDoesNotThrow() {
        vm.add(new EchoModel(), "echo", Map.of());
        VirtioDriver d = new VirtioDriver(vm, 1, 0x10_0000); // inside RAM
        assertEquals(0xFF, vm.mmio.read(0x10_0000 + 0x14, 1) & 0xFF, "nothing decodes there");
        assertEquals(0x0010_0000, d.cfgRead(0x10, 4));
    }

    @Test
    void stateMovesToANewInstanceMidStream() {
        Device other = vm.add(new EchoModel(), "other", Map.of()); // takes slot 1
        Device first = vm.add(new EchoModel(), "echo", Map.of()); // slot 2
        VirtioDriver d = new VirtioDriver(vm, 2, BAR);
        assertTrue(d.negotiate(VirtioPciDevice.F_VERSION_1));
        VirtioDriver.Queue q = d.queue(0, 16, 0x10_0000);
        d.driverOk();
        q.add(new long[] {0x20_1000}, new int[] {4}, new boolean[] {true});
        q.kick();
        assertNotNull(q.waitUsed(5000));
        SavedState s = first.saveState();
        first.close();
        vm.forget(first);
        // requests made while the device is away are served by its successor
        q.add(new long[] {0x20_2000}, new int[] {4}, new boolean[] {true});
        q.kick();
        // rebuilt in another order (as after a bundle refresh): the successor comes first and gets
        // slot 1, and must move back to slot 2, where the guest found it, when its state is restored
        other.close();
        vm.forget(other);
        Device second = vm.add(new EchoModel(), "echo", Map.of());
        second.restoreState(s);
        assertEquals(s.getInt("pci-device"), 2);
        assertTrue(second.resources().get(0).startsWith("pci 00:02.0"), second.resources().toString());
        int[] used = q.waitUsed(5000);
        assertNotNull(used, "pending request served after the swap");
        assertEquals(1, used[0]);
        assertEquals(VirtioDriver.DRIVER_OK, d.status() & VirtioDriver.DRIVER_OK);
        vm.add(new EchoModel(), "other", Map.of());
        assertEquals(0x1040 + 0x1F, new VirtioDriver(vm, 1, BAR + 0x10_0000).cfgRead(2, 2), "other is back at slot 1");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier c) {
        long end = System.nanoTime() + 5_000_000_000L;
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("condition not reached in 5 s");
            }
            sleep(1);
        }
    }
}
