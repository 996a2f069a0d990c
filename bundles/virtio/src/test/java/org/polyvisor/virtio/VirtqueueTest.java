package org.polyvisor.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.testing.FakeGuestMemory;

/** The split-ring walker against the cases virtio 1.1 section 2.6 and the issue name. */
class VirtqueueTest {

    static final long RAM = 0x10_0000; // 1 MiB
    static final long DESC = 0x1000;
    static final long AVAIL = 0x2000;
    static final long USED = 0x3000;
    static final int SIZE = 8;
    static final int NEXT = 1;
    static final int WRITE = 2;
    static final int INDIRECT = 4;

    final FakeGuestMemory mem = FakeGuestMemory.builder().ram(0, RAM).rom(0xFFFF_0000L, 0x1_0000, "rom").build();
    int availIdx;

    Virtqueue queue(boolean indirect) throws VirtioException {
        return new Virtqueue(mem, SIZE, DESC, AVAIL, USED, indirect, 0, 0);
    }

    void desc(long table, int i, long addr, int len, int flags, int next) {
        long d = table + 16L * i;
        mem.writeQword(d, addr);
        mem.writeDword(d + 8, len);
        mem.writeWord(d + 12, flags);
        mem.writeWord(d + 14, next);
    }

    void publish(int head) {
        mem.writeWord(AVAIL + 4 + 2L * (availIdx % SIZE), head);
        availIdx = (availIdx + 1) & 0xFFFF;
        mem.writeWord(AVAIL + 2, availIdx);
    }

    @Test
    void popsAChainReadableThenWritableAndPushesIt() throws Exception {
        Virtqueue q = queue(false);
        assertNull(q.pop(), "nothing available");
        desc(DESC, 3, 0x8000, 16, NEXT, 5);
        desc(DESC, 5, 0x9000, 0, NEXT, 6); // zero-length: accepted, dropped
        desc(DESC, 6, 0xA000, 512, NEXT | WRITE, 0);
        desc(DESC, 0, 0xB000, 1, WRITE, 0);
        publish(3);
        assertTrue(q.hasAvailable());
        DescriptorChain c = q.pop();
        assertEquals(3, c.head());
        assertEquals(3, c.segments());
        assertEquals(1, c.readableSegments());
        assertEquals(16, c.readableLength());
        assertEquals(513, c.writableLength());
        assertNull(q.pop());
        q.push(c, 10_000); // clamped to what the chain can hold
        assertEquals(1, mem.readWord(USED + 2));
        assertEquals(3, mem.readDword(USED + 4));
        assertEquals(513, mem.readDword(USED + 8));
    }

    @Test
    void readerAndWriterCrossBuffers() throws Exception {
        Virtqueue q = queue(false);
        mem.write(0x8000, new byte[] {1, 2, 3}, 0, 3);
        mem.write(0x8800, new byte[] {4, 5}, 0, 2);
        desc(DESC, 0, 0x8000, 3, NEXT, 1);
        desc(DESC, 1, 0x8800, 2, NEXT, 2);
        desc(DESC, 2, 0x9000, 2, NEXT | WRITE, 3);
        desc(DESC, 3, 0x9800, 4, WRITE, 0);
        publish(0);
        DescriptorChain c = q.pop();
        DescriptorChain.Reader r = c.reader(mem);
        byte[] b = new byte[8];
        assertEquals(5, r.read(b, 0, 8));
        assertEquals(4, b[3]);
        DescriptorChain.Writer w = c.writer(mem);
        assertEquals(6, w.write(new byte[] {9, 8, 7, 6, 5, 4, 3}, 0, 7));
        assertEquals(7, mem.readByte(0x9800));
        assertEquals(0, w.remaining());
        assertEquals(0, mem.droppedWrites());
    }

    @Test
    void indirectTables() throws Exception {
        Virtqueue q = queue(true);
        long table = 0x5000;
        desc(table, 0, 0x8000, 16, NEXT, 2);
        desc(table, 2, 0x9000, 1, WRITE, 0);
        desc(DESC, 1, table, 48, INDIRECT, 0);
        publish(1);
        DescriptorChain c = q.pop();
        assertEquals(1, c.head());
        assertEquals(2, c.segments());
        assertEquals(0x9000, c.address(1));
    }

    private String failure(Virtqueue q) {
        return assertThrows(VirtioException.class, q::pop).getMessage();
    }

    @Test
    void badChainsAreProtocolErrorsNotHostErrors() throws Exception {
        Virtqueue q = queue(false);
        publish(SIZE); // head outside the table
        assertTrue(failure(q).contains("outside the queue"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 1, 0);
        desc(DESC, 0, 0x8000, 1, NEXT, 9);
        publish(0);
        assertTrue(failure(q).contains("continues at 9"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 2, 0);
        desc(DESC, 0, 0x8000, 1, NEXT, 1);
        desc(DESC, 1, 0x8000, 1, NEXT, 0); // 0 -> 1 -> 0 ...
        publish(0);
        assertTrue(failure(q).contains("longer than the queue size"));
    }

    @Test
    void loopOfOneIsCaught() throws Exception {
        Virtqueue q = queue(false);
        desc(DESC, 4, 0x8000, 1, NEXT, 4);
        publish(4);
        assertTrue(failure(q).contains("a loop"));
    }

    @Test
    void buffersMustBeInRamAndWritableOnesNotInRom() throws Exception {
        Virtqueue q = queue(false);
        desc(DESC, 0, RAM - 8, 16, 0, 0); // crosses the end of RAM
        publish(0);
        assertTrue(failure(q).contains("outside guest RAM"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, false, 1, 0);
        desc(DESC, 0, 0xFFFF_0000L, 16, 0, 0); // readable from ROM is fine
        publish(0);
        assertEquals(1, q.pop().segments());

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, false, 2, 0);
        desc(DESC, 0, 0xFFFF_0000L, 16, WRITE, 0); // writable into ROM is not
        publish(0);
        assertTrue(failure(q).contains("device-writable buffer"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, false, 3, 0);
        desc(DESC, 0, 0xFFFF_FFFF_FFFF_FFF0L, 0x20, 0, 0); // wraps around 2^64
        publish(0);
        assertTrue(failure(q).contains("outside guest RAM"));
    }

    @Test
    void orderSizeAndIndirectRules() throws Exception {
        Virtqueue q = queue(false);
        desc(DESC, 0, 0x8000, 1, NEXT | WRITE, 1);
        desc(DESC, 1, 0x9000, 1, 0, 0);
        publish(0);
        assertTrue(failure(q).contains("device-readable buffer after"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 1, 0);
        long big = 0x4_0000; // 4097 descriptors of all of RAM each: more than 4 GiB in total
        for (int i = 0; i < 4097; i++) {
            desc(big, i, 0, (int) RAM, NEXT, i + 1);
        }
        desc(DESC, 0, big, 4097 * 16, INDIRECT, 0);
        publish(0);
        assertTrue(failure(q).contains("4 GiB"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, false, 2, 0);
        desc(DESC, 0, 0x5000, 32, INDIRECT, 0);
        publish(0);
        assertTrue(failure(q).contains("not negotiated"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 3, 0);
        desc(DESC, 0, 0x5000, 32, INDIRECT | NEXT, 1);
        publish(0);
        assertTrue(failure(q).contains("not alone"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 4, 0);
        desc(DESC, 0, 0x5000, 0, INDIRECT, 0);
        publish(0);
        assertTrue(failure(q).contains("not a whole number"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 5, 0);
        desc(DESC, 0, 0x5000, 17, INDIRECT, 0);
        publish(0);
        assertTrue(failure(q).contains("not a whole number"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 6, 0);
        desc(0x5000, 0, 0x6000, 16, INDIRECT, 0);
        desc(DESC, 0, 0x5000, 16, INDIRECT, 0);
        publish(0);
        assertTrue(failure(q).contains("nested"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 7, 0);
        desc(0x5000, 0, 0x6000, 16, NEXT, 0); // loop inside the table
        desc(DESC, 0, 0x5000, 16, INDIRECT, 0);
        publish(0);
        assertTrue(failure(q).contains("longer than its 1 entries"));

        q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, true, 0, 0);
        availIdx = 0;
        desc(DESC, 0, RAM - 16, 32, INDIRECT, 0);
        publish(0);
        assertTrue(failure(q).contains("indirect table"));
    }

    @Test
    void availableIndexRunningAheadIsAnError() throws Exception {
        Virtqueue q = queue(false);
        mem.writeWord(AVAIL + 2, SIZE + 1);
        assertTrue(failure(q).contains("more than the queue size"));
    }

    @Test
    void indicesWrapAt65536() throws Exception {
        Virtqueue q = new Virtqueue(mem, SIZE, DESC, AVAIL, USED, false, 0xFFFF, 0xFFFF);
        availIdx = 0xFFFF;
        desc(DESC, 2, 0x8000, 4, WRITE, 0);
        publish(2);
        assertEquals(0, mem.readWord(AVAIL + 2));
        DescriptorChain c = q.pop();
        assertEquals(0, q.lastAvailIndex());
        q.push(c, 4);
        assertEquals(0, q.usedIndex());
        assertEquals(2, mem.readDword(USED + 4 + 8L * 7));
    }

    @Test
    void ringPlacementIsChecked() {
        assertThrows(VirtioException.class, () -> new Virtqueue(mem, 3, DESC, AVAIL, USED, false, 0, 0));
        assertThrows(VirtioException.class, () -> new Virtqueue(mem, 0, DESC, AVAIL, USED, false, 0, 0));
        assertThrows(VirtioException.class, () -> new Virtqueue(mem, 65536, DESC, AVAIL, USED, false, 0, 0));
        assertThrows(VirtioException.class, () -> new Virtqueue(mem, SIZE, DESC + 8, AVAIL, USED, false, 0, 0));
        assertThrows(VirtioException.class, () -> new Virtqueue(mem, SIZE, DESC, AVAIL, RAM - 8, false, 0, 0));
        assertThrows(VirtioException.class, () -> new Virtqueue(mem, SIZE, DESC, AVAIL, 0xFFFF_0000L, false, 0, 0),
                "used ring in ROM");
    }

    @Test
    void stoppedQueuesGiveNothing() throws Exception {
        Virtqueue q = queue(false);
        desc(DESC, 0, 0x8000, 4, 0, 0);
        publish(0);
        q.stop();
        assertNull(q.pop());
        assertFalse(q.hasAvailable());
        q.resume();
        assertEquals(0, q.pop().head());
    }
}
