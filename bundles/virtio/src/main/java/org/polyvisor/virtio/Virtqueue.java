package org.polyvisor.virtio;

import java.lang.invoke.VarHandle;
import org.polyvisor.memory.GuestMemory;

/**
 * A split virtqueue (virtio 1.1, section 2.6) as the device sees it: descriptor table, available
 * (driver) ring and used (device) ring in guest memory.
 *
 * <p>The walker is bounded and checks everything the guest controls: a head or {@code next} index
 * outside the table, a chain longer than the queue (which is how a loop shows), an indirect table
 * that is empty, not a whole number of descriptors, nested, combined with NEXT, or not negotiated,
 * a device-readable buffer after a device-writable one (2.6.4.2), a chain longer than 4 GiB, a
 * buffer or ring outside guest RAM (or a writable buffer in ROM), and an available index that moved
 * by more than the queue size. Each is a {@link VirtioException}; QEMU's {@code virtqueue_pop} treats
 * the same cases as fatal ({@code virtio_error}), and so do we (the device needs a reset).
 * Zero-length buffers are accepted and dropped.
 *
 * <p>Threads: one consumer (the device's worker) pops and pushes; {@link #stop()} may be called from
 * any thread and makes {@link #pop()} return nothing from then on.
 */
public final class Virtqueue {

    /** Largest queue size of a split virtqueue (2.6: "Queue Size ... maximum 32768"). */
    public static final int MAX_SIZE = 32768;
    /** Descriptor flag: the chain continues at {@code next}. */
    static final int DESC_F_NEXT = 1;
    /** Descriptor flag: the buffer is device-writable. */
    static final int DESC_F_WRITE = 2;
    /** Descriptor flag: the buffer is a table of descriptors (2.6.5.3). */
    static final int DESC_F_INDIRECT = 4;
    /** Available ring flag: the driver does not want an interrupt (2.6.7). */
    static final int AVAIL_F_NO_INTERRUPT = 1;
    /** Bytes per descriptor. */
    static final int DESC_SIZE = 16;

    private final GuestMemory memory;
    private final int size;
    private final long desc;
    private final long avail;
    private final long used;
    private final boolean indirect;
    private int lastAvail;
    private int usedIdx;
    private volatile boolean stopped;

    // scratch for the walker, reused between chains
    private long[] addrs = new long[16];
    private int[] lens = new int[16];
    private int count;
    private int readable;
    private boolean sawWritable;
    private long total;

    /**
     * Creates a queue over rings in guest memory, checking their placement.
     *
     * @param memory    guest memory
     * @param size      queue size, a power of two 1..32768
     * @param desc      descriptor table address (16-byte aligned)
     * @param avail     available ring address (2-byte aligned)
     * @param used      used ring address (4-byte aligned)
     * @param indirect  whether VIRTIO_F_INDIRECT_DESC was negotiated
     * @param lastAvail the next available ring index to take (0 for a new queue)
     * @param usedIdx   the used ring index (0 for a new queue)
     * @throws VirtioException if the size or a ring is invalid
     */
    public Virtqueue(GuestMemory memory, int size, long desc, long avail, long used, boolean indirect,
                     int lastAvail, int usedIdx) throws VirtioException {
        if (size < 1 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new VirtioException("queue size " + size + " is not a power of two in 1..32768");
        }
        if ((desc & 15) != 0 || (avail & 1) != 0 || (used & 3) != 0) {
            throw new VirtioException(String.format("misaligned rings: desc 0x%x (16), avail 0x%x (2), used 0x%x (4)",
                    desc, avail, used));
        }
        check(memory, "descriptor table", desc, (long) DESC_SIZE * size, false);
        check(memory, "available ring", avail, 6 + 2L * size, false);
        check(memory, "used ring", used, 6 + 8L * size, true);
        this.memory = memory;
        this.size = size;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        this.indirect = indirect;
        this.lastAvail = lastAvail & 0xFFFF;
        this.usedIdx = usedIdx & 0xFFFF;
    }

    private static void check(GuestMemory memory, String what, long gpa, long length, boolean writable)
            throws VirtioException {
        if (!GuestRanges.inside(memory, gpa, length, writable)) {
            throw new VirtioException(String.format("%s at 0x%x+0x%x is outside guest RAM", what, gpa, length));
        }
    }

    /**
     * Returns the queue size.
     *
     * @return the number of descriptors
     */
    public int size() {
        return size;
    }

    /**
     * Returns the index of the next available ring entry to take.
     *
     * @return 0..65535
     */
    public synchronized int lastAvailIndex() {
        return lastAvail;
    }

    /**
     * Returns the used ring's index as last published.
     *
     * @return 0..65535
     */
    public synchronized int usedIndex() {
        return usedIdx;
    }

    /** Stops taking requests: {@link #pop()} returns null from now on. Pushing still works. */
    public void stop() {
        stopped = true;
    }

    /** Takes requests again after {@link #stop()}. */
    public void resume() {
        stopped = false;
    }

    /**
     * Tells whether the driver has made buffers available that were not taken yet.
     *
     * @return true if {@link #pop()} would return a chain (or fail)
     */
    public synchronized boolean hasAvailable() {
        return !stopped && memory.readWord(avail + 2) != lastAvail;
    }

    /**
     * Takes the next available descriptor chain.
     *
     * @return the chain, or null if none is available or the queue is stopped
     * @throws VirtioException if the guest's ring or chain is invalid
     */
    public synchronized DescriptorChain pop() throws VirtioException {
        if (stopped) {
            return null;
        }
        int availIdx = memory.readWord(avail + 2);
        VarHandle.acquireFence(); // ring entries are read after the index that published them
        int pending = (availIdx - lastAvail) & 0xFFFF;
        if (pending == 0) {
            return null;
        }
        if (pending > size) {
            throw new VirtioException("available index moved from " + lastAvail + " to " + availIdx
                    + ", more than the queue size " + size);
        }
        int head = memory.readWord(avail + 4 + 2L * (lastAvail & (size - 1)));
        DescriptorChain chain = walk(head);
        lastAvail = (lastAvail + 1) & 0xFFFF;
        return chain;
    }

    private DescriptorChain walk(int head) throws VirtioException {
        count = 0;
        readable = 0;
        sawWritable = false;
        total = 0;
        if (head >= size) {
            throw new VirtioException("head descriptor " + head + " is outside the queue (size " + size + ")");
        }
        int i = head;
        for (int steps = 1; ; steps++) {
            if (steps > size) {
                throw new VirtioException("descriptor chain from " + head + " is longer than the queue size "
                        + size + " (a loop?)");
            }
            long d = desc + (long) DESC_SIZE * i;
            long addr = memory.readQword(d);
            int len = memory.readDword(d + 8);
            int flags = memory.readWord(d + 12);
            int next = memory.readWord(d + 14);
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    throw new VirtioException("indirect descriptor " + i + " but VIRTIO_F_INDIRECT_DESC was not negotiated");
                }
                if (steps != 1 || (flags & DESC_F_NEXT) != 0) {
                    throw new VirtioException("indirect descriptor " + i + " is not alone in its chain");
                }
                walkIndirect(addr, Integer.toUnsignedLong(len));
                break;
            }
            add(addr, len, (flags & DESC_F_WRITE) != 0);
            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
            if (next >= size) {
                throw new VirtioException("descriptor " + i + " continues at " + next + ", outside the queue (size "
                        + size + ")");
            }
            i = next;
        }
        return new DescriptorChain(head, addrs, lens, count, readable);
    }

    private void walkIndirect(long table, long len) throws VirtioException {
        if (len == 0 || len % DESC_SIZE != 0) {
            throw new VirtioException(String.format("indirect table at 0x%x has length %d, not a whole number of descriptors",
                    table, len));
        }
        long n = len / DESC_SIZE;
        if (n > MAX_SIZE) {
            throw new VirtioException("indirect table of " + n + " descriptors is larger than " + MAX_SIZE);
        }
        check(memory, "indirect table", table, len, false);
        int i = 0;
        for (int steps = 1; ; steps++) {
            if (steps > n) {
                throw new VirtioException(String.format("indirect chain in table 0x%x is longer than its %d entries (a loop?)",
                        table, n));
            }
            long d = table + (long) DESC_SIZE * i;
            long addr = memory.readQword(d);
            int dlen = memory.readDword(d + 8);
            int flags = memory.readWord(d + 12);
            int next = memory.readWord(d + 14);
            if ((flags & DESC_F_INDIRECT) != 0) {
                throw new VirtioException(String.format("nested indirect descriptor in table 0x%x", table));
            }
            add(addr, dlen, (flags & DESC_F_WRITE) != 0);
            if ((flags & DESC_F_NEXT) == 0) {
                return;
            }
            if (next >= n) {
                throw new VirtioException(String.format("indirect descriptor %d in table 0x%x continues at %d, outside its %d entries",
                        i, table, next, n));
            }
            i = next;
        }
    }

    private void add(long addr, int len, boolean writable) throws VirtioException {
        long ulen = Integer.toUnsignedLong(len);
        if (writable) {
            sawWritable = true;
        } else if (sawWritable) {
            throw new VirtioException("device-readable buffer after a device-writable one (virtio 1.1, 2.6.4.2)");
        }
        total += ulen;
        if (total > 0xFFFF_FFFFL) {
            throw new VirtioException("descriptor chain is longer than 4 GiB");
        }
        if (ulen == 0) {
            return;
        }
        if (!GuestRanges.inside(memory, addr, ulen, writable)) {
            throw new VirtioException(String.format("%s buffer 0x%x+0x%x is outside guest RAM",
                    writable ? "device-writable" : "device-readable", addr, ulen));
        }
        if (count == addrs.length) {
            addrs = java.util.Arrays.copyOf(addrs, count * 2);
            lens = java.util.Arrays.copyOf(lens, count * 2);
        }
        addrs[count] = addr;
        lens[count] = len;
        count++;
        if (!writable) {
            readable++;
        }
    }

    /**
     * Returns a chain to the driver through the used ring.
     *
     * @param chain   the chain taken by {@link #pop()}
     * @param written bytes the device wrote into its writable buffers
     */
    public synchronized void push(DescriptorChain chain, long written) {
        long len = Math.min(Math.max(written, 0), chain.writableLength());
        long elem = used + 4 + 8L * (usedIdx & (size - 1));
        memory.writeDword(elem, chain.head());
        memory.writeDword(elem + 4, (int) len);
        VarHandle.releaseFence(); // the element is visible before the index that publishes it
        usedIdx = (usedIdx + 1) & 0xFFFF;
        memory.writeWord(used + 2, usedIdx);
    }

    /**
     * Tells whether the driver wants an interrupt for used buffers now
     * (VIRTQ_AVAIL_F_NO_INTERRUPT clear; event index suppression is not offered).
     *
     * @return true to interrupt
     */
    public boolean interruptWanted() {
        return (memory.readWord(avail) & AVAIL_F_NO_INTERRUPT) == 0;
    }
}
