package org.polyvisor.dev.fwcfg.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeDeviceContext;

/** fw_cfg as SeaBIOS reads it (QEMU docs/specs/fw_cfg.rst). */
class FwCfgTest {

    private FakeDeviceContext ctx = new FakeDeviceContext(Map.of("cpus", "2"));
    private FwCfg fw = (FwCfg) new FwCfgModel().create(ctx);

    private byte[] item(int key, int length) {
        ctx.ports().write(0x510, 2, key);
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) ctx.inb(0x511);
        }
        return b;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Finds a file in the directory: {size, select}. */
    private int[] file(String name) {
        ByteBuffer count = ByteBuffer.wrap(item(0x19, 4));
        int n = count.getInt();
        ByteBuffer dir = ByteBuffer.wrap(item(0x19, 4 + 64 * n));
        dir.getInt();
        for (int i = 0; i < n; i++) {
            int size = dir.getInt();
            int select = dir.getShort() & 0xFFFF;
            dir.getShort();
            byte[] raw = new byte[56];
            dir.get(raw);
            String s = new String(raw, StandardCharsets.UTF_8).replace("\0", "");
            if (s.equals(name)) {
                return new int[] {size, select};
            }
        }
        throw new AssertionError("no file " + name);
    }

    @Test
    void cpuCountDefaultsToTheVmsVcpus() {
        ctx = FakeDeviceContext.builder().vcpus(3).build();
        new FwCfgModel().create(ctx);
        assertEquals(3, le(item(0x05, 2)).getShort(), "FW_CFG_NB_CPUS");
        assertEquals(3, le(item(0x0F, 2)).getShort(), "FW_CFG_MAX_CPUS");
    }

    private long[][] e820() {
        int[] f = file("etc/e820");
        ByteBuffer b = le(item(f[1], f[0]));
        long[][] out = new long[f[0] / 20][];
        for (int i = 0; i < out.length; i++) {
            out[i] = new long[] {b.getLong(), b.getLong(), b.getInt()};
        }
        return out;
    }

    @Test
    void signatureIdRamSizeAndCpus() {
        assertEquals("QEMU", new String(item(0, 4), StandardCharsets.US_ASCII));
        assertEquals(3, le(item(1, 4)).getInt(), "traditional + DMA");
        assertEquals(16L << 20, le(item(3, 8)).getLong());
        assertEquals(2, le(item(5, 2)).getShort());
        assertArrayEquals(new byte[4], item(0x7777, 4), "unknown selectors read zeros");
        byte[] sig = item(0, 6);
        assertEquals(0, sig[4], "past the end: zeros");
    }

    @Test
    void e820OfA16MiBGuest() {
        long[][] e = e820();
        assertEquals(3, e.length);
        assertArrayEquals(new long[] {0, 0xA_0000, 1}, e[0]);
        assertArrayEquals(new long[] {0x10_0000, (16L << 20) - 0x10_0000, 1}, e[1]);
        assertArrayEquals(new long[] {0xFFFF_0000L, 0x1_0000, 2}, e[2], "the BIOS ROM reserved");
    }

    @Test
    void e820WithRamAbove4GiB() {
        ctx = FakeDeviceContext.builder().ramSize(6L << 30).build();
        fw = (FwCfg) new FwCfgModel().create(ctx);
        long[][] e = e820();
        assertEquals(4, e.length);
        assertArrayEquals(new long[] {0x10_0000, 0xE000_0000L - 0x10_0000, 1}, e[1], "merged 1 GiB chunks");
        assertArrayEquals(new long[] {0x1_0000_0000L, (6L << 30) - 0xE000_0000L, 1}, e[3]);
        assertEquals(6L << 30, le(item(3, 8)).getLong());
    }

    private void descriptor(long at, int control, int length, long address) {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.BIG_ENDIAN);
        b.putInt(control).putInt(length).putLong(address);
        ctx.memory().write(at, b.array(), 0, 16);
    }

    private void kickDma(long descriptor) {
        // as a guest does it: outl(cpu_to_be32(half)) (SeaBIOS qemu_cfg_dma_transfer)
        ctx.ports().write(0x514, 4, Integer.reverseBytes((int) (descriptor >>> 32)));
        ctx.ports().write(0x518, 4, Integer.reverseBytes((int) descriptor));
    }

    @Test
    void dmaReadsAFileWithSelectAndZeroFillsPastItsEnd() {
        // a big-endian register: the bytes of an IN, in memory order, spell the signature
        assertEquals(0x554D_4551, ctx.ports().read(0x514, 4), "'QEMU'");
        assertEquals(0x4746_4320, ctx.ports().read(0x518, 4), "' CFG'");
        assertEquals('Q', ctx.ports().read(0x514, 1));
        assertEquals(0x4D45, ctx.ports().read(0x515, 2), "'EM'");
        int[] f = file("etc/e820");
        ctx.memory().write(0x3000, new byte[200], 0, 200);
        byte[] canary = new byte[8];
        java.util.Arrays.fill(canary, (byte) 0x55);
        ctx.memory().write(0x3000 + f[0], canary, 0, 8);
        descriptor(0x1000, f[1] << 16 | 0x08 | 0x02, f[0] + 8, 0x3000);
        kickDma(0x1000);
        assertEquals(0, ctx.memory().readDword(0x1000), "control cleared: done, no error");
        byte[] got = new byte[f[0]];
        ctx.memory().read(0x3000, got, 0, got.length);
        ctx.ports().write(0x510, 2, f[1]);
        assertArrayEquals(item(f[1], f[0]), got);
        assertEquals(0, ctx.memory().readQword(0x3000 + f[0]), "zeros past the item");
    }

    @Test
    void dmaSkipThenRead() {
        descriptor(0x1000, 0x08 | 0x04, 2, 0); // select signature, skip 2
        kickDma(0x1000);
        descriptor(0x1000, 0x02, 2, 0x2000);
        kickDma(0x1000);
        assertEquals('M', ctx.memory().readByte(0x2000));
        assertEquals('U', ctx.memory().readByte(0x2001));
    }

    @Test
    void badDmaGetsTheErrorBitAndTouchesNothing() {
        descriptor(0x1000, 0x08 | 0x10, 4, 0x2000); // write: refused
        kickDma(0x1000);
        assertEquals(Integer.reverseBytes(1), ctx.memory().readDword(0x1000));
        descriptor(0x1000, 0x08 | 0x02, 0x10_0000, 0xFFFF_0000L); // runs off the fake's memory
        kickDma(0x1000);
        assertEquals(Integer.reverseBytes(1), ctx.memory().readDword(0x1000));
        kickDma(0xFEE0_0000L); // descriptor outside memory: counted, no exception
        assertEquals(3L, fw.stats().get("dma-errors"));
    }

    @Test
    void hostFilesAppearInTheDirectory(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("payload.bin");
        Files.write(p, "hello fw_cfg".getBytes(StandardCharsets.US_ASCII));
        fw.close();
        fw = (FwCfg) new FwCfgModel().create(ctx.withOptions(Map.of("file", "opt/org.polyvisor/payload:" + p)));
        int[] f = file("opt/org.polyvisor/payload");
        assertEquals(12, f[0]);
        assertEquals("hello fw_cfg", new String(item(f[1], 12), StandardCharsets.US_ASCII));
        assertTrue(fw.fileSelector("etc/e820") >= 0x20);
        assertThrows(IllegalArgumentException.class, () -> new FwCfgModel().create(
                new FakeDeviceContext(Map.of("file", "x:" + dir.resolve("missing")))));
        assertThrows(IllegalArgumentException.class, () -> new FwCfgModel().create(
                new FakeDeviceContext(Map.of("cpus", "0"))));
    }

    @Test
    void stateKeepsTheReadPosition() {
        item(0, 2);
        SavedState s = fw.saveState();
        fw.close();
        FwCfg next = (FwCfg) new FwCfgModel().create(ctx);
        next.restoreState(s);
        assertEquals('M', ctx.inb(0x511));
    }

    @Test
    void randomGuestAccessNeverThrows() {
        Random r = new Random(9);
        for (int i = 0; i < 20_000; i++) {
            switch (r.nextInt(4)) {
                case 0 -> ctx.ports().write(0x510, 1 + r.nextInt(2), r.nextInt());
                case 1 -> ctx.inb(0x511);
                case 2 -> {
                    ctx.memory().write(0x1000, new byte[] {(byte) r.nextInt(), (byte) r.nextInt(), (byte) r.nextInt(),
                        (byte) r.nextInt(), 0, 0, (byte) r.nextInt(), (byte) r.nextInt()}, 0, 8);
                    kickDma(r.nextBoolean() ? 0x1000 : r.nextLong() & 0xF_FFFF_FFFFL);
                }
                default -> ctx.ports().write(0x514 + 4 * r.nextInt(2), 4, r.nextInt());
            }
        }
    }
}
