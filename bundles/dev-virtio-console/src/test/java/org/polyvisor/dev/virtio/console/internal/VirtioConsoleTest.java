package org.polyvisor.dev.virtio.console.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;
import org.polyvisor.virtio.testing.TestVm;
import org.polyvisor.virtio.testing.VirtioDriver;

/** virtio-console output, input and emergency write. */
class VirtioConsoleTest {

    static final long BAR = 0xE000_0000L;

    static final class Backend implements CharBackend {
        final ArrayDeque<Integer> typed = new ArrayDeque<>();
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        Runnable listener;

        void type(String s) {
            Runnable l;
            synchronized (this) {
                for (char c : s.toCharArray()) {
                    typed.add((int) c);
                }
                l = listener;
            }
            if (l != null) {
                l.run();
            }
        }

        synchronized String output() {
            return out.toString(StandardCharsets.ISO_8859_1);
        }

        @Override
        public synchronized void write(int b) {
            out.write(b);
        }

        @Override
        public synchronized int read() {
            Integer b = typed.poll();
            return b == null ? -1 : b;
        }

        @Override
        public synchronized void onInput(Runnable listener) {
            this.listener = listener;
        }
    }

    final TestVm vm = new TestVm();
    final Backend backend = new Backend();

    @AfterEach
    void close() {
        vm.close();
        assertEquals(0, vm.memory.droppedWrites());
    }

    @Test
    void outputInputAndEmergencyWrite() {
        vm.console(backend);
        Device d = vm.add(new VirtioConsoleModel(), "hvc0", Map.of());
        VirtioDriver drv = new VirtioDriver(vm, 1, BAR);
        assertEquals(0x1043, drv.cfgRead(2, 2));
        assertTrue(drv.negotiate(drv.deviceFeatures()));
        vm.mmio.write(BAR + drv.device + VirtioConsoleDevice.EMERG_WR, 4, '!');
        assertEquals("!", backend.output());
        VirtioDriver.Queue rx = drv.queue(0, 64, 0x10_0000);
        VirtioDriver.Queue tx = drv.queue(1, 64, 0x20_0000);
        drv.driverOk();
        byte[] msg = "hello, console\n".getBytes(StandardCharsets.US_ASCII);
        vm.memory.write(0x30_0000, msg, 0, msg.length);
        tx.add(new long[] {0x30_0000}, new int[] {msg.length}, new boolean[] {false});
        tx.kick();
        assertNotNull(tx.waitUsed(5000));
        assertEquals("!hello, console\n", backend.output());

        backend.type("ab"); // typed before any buffer: waits
        rx.add(new long[] {0x40_0000}, new int[] {64}, new boolean[] {true});
        rx.kick();
        int[] used = rx.waitUsed(5000);
        assertNotNull(used);
        assertEquals(2, used[1]);
        assertEquals('a', vm.memory.readByte(0x40_0000));
        assertEquals('b', vm.memory.readByte(0x40_0001));
        backend.type("c");
        rx.add(new long[] {0x40_1000}, new int[] {64}, new boolean[] {true});
        rx.kick();
        used = rx.waitUsed(5000);
        assertNotNull(used);
        assertEquals('c', vm.memory.readByte(0x40_1000));
        assertEquals(16L, d.stats().get("tx-bytes"));
        SavedState s = d.saveState();
        assertEquals(-1, s.getInt("input-lookahead"));
    }

    @Test
    void withoutTheConsoleOutputIsCountedAndDropped() {
        Device d = vm.add(new VirtioConsoleModel(), "hvc0", Map.of());
        VirtioDriver drv = new VirtioDriver(vm, 1, BAR);
        assertTrue(drv.negotiate(drv.deviceFeatures()));
        vm.mmio.write(BAR + drv.device + VirtioConsoleDevice.EMERG_WR, 4, 'x');
        assertEquals(1L, d.stats().get("tx-discarded"));
        assertTrue(d.resources().toString().contains("output dropped"));
    }
}
