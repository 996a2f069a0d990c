package org.polyvisor.dev.virtio.blk.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;
import org.polyvisor.virtio.VirtioPciDevice;
import org.polyvisor.virtio.testing.TestVm;
import org.polyvisor.virtio.testing.VirtioDriver;

/** virtio-blk as a guest's driver uses it, on real image files. */
class VirtioBlkTest {

    static final long BAR = 0xE000_0000L;
    static final long REQ = 0x20_0000;   // header
    static final long DATA = 0x21_0000;  // data buffers
    static final long STATUS = 0x2F_0000;
    static final int SECTORS = 64;

    @TempDir
    Path dir;
    final TestVm vm = new TestVm();
    VirtioDriver drv;
    VirtioDriver.Queue q;

    @AfterEach
    void close() {
        vm.close();
        assertEquals(0, vm.memory.droppedWrites());
    }

    Path image(int sectors) throws IOException {
        Path p = dir.resolve("disk.img");
        byte[] b = new byte[sectors * 512];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i / 512 + i);
        }
        Files.write(p, b);
        return p;
    }

    Device start(Map<String, String> options) {
        Device d = vm.add(new VirtioBlkModel(), "disk", options);
        drv = new VirtioDriver(vm, 1, BAR);
        long f = drv.deviceFeatures();
        assertTrue(drv.negotiate(f));
        q = drv.queue(0, 256, 0x10_0000);
        drv.driverOk();
        return d;
    }

    /** Submits header + data + status; returns {status, used length}. */
    int[] request(int type, long sector, int dataLen, boolean deviceWrites) {
        ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(0, type).putLong(8, sector);
        vm.memory.write(REQ, h.array(), 0, 16);
        vm.memory.writeByte(STATUS, 0xEE);
        if (dataLen > 0) {
            q.add(new long[] {REQ, DATA, STATUS}, new int[] {16, dataLen, 1}, new boolean[] {false, deviceWrites, true});
        } else {
            q.add(new long[] {REQ, STATUS}, new int[] {16, 1}, new boolean[] {false, true});
        }
        q.kick();
        int[] used = q.waitUsed(5000);
        assertNotNull(used, "request completed");
        return new int[] {vm.memory.readByte(STATUS), used[1]};
    }

    @Test
    void readsWritesFlushesAndIdentifies() throws IOException {
        Path img = image(SECTORS);
        Device d = start(Map.of("image", img.toString(), "serial", "polyvisor-disk"));
        assertEquals(SECTORS, drv.config(0, 8), "capacity");
        assertEquals(512, drv.config(20, 4), "blk_size");
        assertEquals(0, drv.deviceFeatures() & VirtioBlkDevice.F_RO);
        int[] r = request(VirtioBlkDevice.T_IN, 3, 1024, true);
        assertEquals(0, r[0]);
        assertEquals(1025, r[1], "used length: data and status");
        byte[] got = new byte[1024];
        vm.memory.read(DATA, got, 0, 1024);
        byte[] want = new byte[1024];
        System.arraycopy(Files.readAllBytes(img), 3 * 512, want, 0, 1024);
        assertArrayEquals(want, got);

        byte[] payload = new byte[512];
        java.util.Arrays.fill(payload, (byte) 0x5A);
        vm.memory.write(DATA, payload, 0, 512);
        r = request(VirtioBlkDevice.T_OUT, SECTORS - 1, 512, false);
        assertEquals(0, r[0]);
        assertEquals(1, r[1]);
        assertEquals(0x5A, Files.readAllBytes(img)[(SECTORS - 1) * 512 + 7]);
        assertEquals(SECTORS * 512L, Files.size(img), "the image did not grow");

        assertEquals(0, request(VirtioBlkDevice.T_FLUSH, 0, 0, false)[0]);
        r = request(VirtioBlkDevice.T_GET_ID, 0, 20, true);
        assertEquals(0, r[0]);
        byte[] id = new byte[14];
        vm.memory.read(DATA, id, 0, 14);
        assertEquals("polyvisor-disk", new String(id, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(4L, d.stats().get("requests"));
        assertEquals(1, drv.readIsr() & 1, "queue interrupt pending");
    }

    @Test
    void readOnlyImagesRefuseWrites() throws IOException {
        Path img = image(SECTORS);
        byte[] before = Files.readAllBytes(img);
        start(Map.of("image", img.toString(), "readonly", "on"));
        assertEquals(VirtioBlkDevice.F_RO, drv.deviceFeatures() & VirtioBlkDevice.F_RO);
        assertEquals(VirtioBlkDevice.S_IOERR, request(VirtioBlkDevice.T_OUT, 0, 512, false)[0]);
        assertArrayEquals(before, Files.readAllBytes(img));
        assertEquals(0, request(VirtioBlkDevice.T_IN, 0, 512, true)[0]);
    }

    @Test
    void badRequestsAreAnsweredInTheStatusByte() throws IOException {
        Path img = image(SECTORS);
        byte[] before = Files.readAllBytes(img);
        Device d = start(Map.of("image", img.toString()));
        assertEquals(VirtioBlkDevice.S_IOERR, request(VirtioBlkDevice.T_IN, SECTORS, 512, true)[0], "past the end");
        assertEquals(VirtioBlkDevice.S_IOERR, request(VirtioBlkDevice.T_OUT, SECTORS - 1, 1024, false)[0], "crosses the end");
        assertEquals(VirtioBlkDevice.S_IOERR, request(VirtioBlkDevice.T_OUT, -1L, 512, false)[0], "huge sector");
        assertEquals(VirtioBlkDevice.S_IOERR, request(VirtioBlkDevice.T_OUT, Long.MAX_VALUE / 256, 512, false)[0]);
        assertEquals(VirtioBlkDevice.S_IOERR, request(VirtioBlkDevice.T_IN, 0, 100, true)[0], "not whole sectors");
        assertEquals(VirtioBlkDevice.S_UNSUPP, request(77, 0, 0, false)[0]);
        int[] zero = request(VirtioBlkDevice.T_IN, SECTORS, 0, true);
        assertEquals(0, zero[0], "a zero-length read at the end is fine");
        assertArrayEquals(before, Files.readAllBytes(img));
        assertEquals(5L, d.stats().get("io-errors"));
        assertEquals(0, drv.status() & VirtioDriver.NEEDS_RESET);
    }

    @Test
    void aRequestWithoutHeaderOrStatusNeedsReset() throws IOException {
        start(Map.of("image", image(SECTORS).toString()));
        q.add(new long[] {REQ}, new int[] {8}, new boolean[] {false});
        q.kick();
        long end = System.nanoTime() + 5_000_000_000L;
        while ((drv.status() & VirtioDriver.NEEDS_RESET) == 0 && System.nanoTime() < end) {
            Thread.onSpinWait();
        }
        assertEquals(VirtioDriver.NEEDS_RESET, drv.status() & VirtioDriver.NEEDS_RESET);
    }

    @Test
    void imagesAreOpenedSafelyWithClearErrors() throws IOException {
        String who = "virtio-blk 'disk'";
        assertTrue(fail(Map.of()).contains("image=<path"));
        assertTrue(fail(Map.of("image", dir.resolve("nope.img").toString())).contains("not found"));
        assertTrue(fail(Map.of("image", dir.toString())).contains("not a regular file"));
        Path empty = Files.createFile(dir.resolve("empty.img"));
        assertTrue(fail(Map.of("image", empty.toString())).contains("is empty"));
        Path odd = Files.write(dir.resolve("odd.img"), new byte[1000]);
        assertTrue(fail(Map.of("image", odd.toString())).contains("not a whole number of 512-byte sectors"));
        Path img = image(4);
        Path link = Files.createSymbolicLink(dir.resolve("link.img"), img);
        assertTrue(fail(Map.of("image", link.toString())).contains("symbolic link"));
        assertTrue(fail(Map.of("image", img.toString(), "color", "red")).startsWith(who + ": unknown option 'color'"));
        assertTrue(fail(Map.of("image", img.toString(), "readonly", "maybe")).contains("not on or off"));
    }

    @Test
    void unwritableImagesNeedReadonly() throws IOException {
        assumeFalse("root".equals(System.getProperty("user.name")), "root ignores file permissions");
        Path img = image(4);
        Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("r--r--r--"));
        assertTrue(fail(Map.of("image", img.toString())).contains("add readonly=on"));
        vm.add(new VirtioBlkModel(), "disk", Map.of("image", img.toString(), "readonly", "on"));
    }

    @Test
    void anImageInUseIsRefused() throws IOException {
        Path img = image(4);
        vm.add(new VirtioBlkModel(), "disk", Map.of("image", img.toString()));
        try (TestVm other = new TestVm()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> other.add(new VirtioBlkModel(), "disk", Map.of("image", img.toString())));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
        }
    }

    @Test
    void stateSurvivesAnUpdateOfTheBundle() throws IOException {
        Path img = image(SECTORS);
        Device first = start(Map.of("image", img.toString()));
        assertEquals(0, request(VirtioBlkDevice.T_IN, 1, 512, true)[0]);
        SavedState s = first.saveState();
        first.close();
        vm.forget(first);
        Device second = vm.add(new VirtioBlkModel(), "disk", Map.of("image", img.toString()));
        second.restoreState(s);
        assertEquals(0, request(VirtioBlkDevice.T_IN, 2, 512, true)[0]);
        assertEquals(VirtioDriver.DRIVER_OK, drv.status() & VirtioDriver.DRIVER_OK);
        assertFalse(second.resources().isEmpty());
        Path small = dir.resolve("small.img");
        Files.write(small, new byte[512]);
        second.close();
        vm.forget(second);
        Device third = vm.add(new VirtioBlkModel(), "disk", Map.of("image", small.toString()));
        assertThrows(IllegalArgumentException.class, () -> third.restoreState(s), "another disk's state");
        assertEquals(VirtioPciDevice.F_VERSION_1, drv.deviceFeatures() & VirtioPciDevice.F_VERSION_1);
    }

    private String fail(Map<String, String> options) {
        return assertThrows(IllegalArgumentException.class, () -> vm.add(new VirtioBlkModel(), "disk", options))
                .getMessage();
    }
}
