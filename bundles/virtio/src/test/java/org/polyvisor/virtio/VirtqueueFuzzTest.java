package org.polyvisor.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.polyvisor.testing.FakeGuestMemory;

/**
 * Random descriptor tables, indirect tables and available rings against the walker: it must only
 * ever return chains whose buffers lie in RAM (writable ones not in ROM), bounded in length, or
 * report a {@link VirtioException}; never throw anything else, never loop, never write outside RAM.
 *
 * <p>Iterations: system property {@code virtio.fuzz.iterations} (Maven property of the same name;
 * default 50000, about 5 s). Seed: {@code virtio.fuzz.seed} (default: fixed, so a failure
 * reproduces; the message prints the iteration).
 */
class VirtqueueFuzzTest {

    static final long RAM = 0x4_0000; // 256 KiB keeps hits and misses both likely
    static final long ROM = 0xFFFF_0000L;

    @Test
    void randomTablesNeverEscape() {
        int iterations = Integer.getInteger("virtio.fuzz.iterations", 50_000);
        long seed = Long.getLong("virtio.fuzz.seed", 0x5EED_F00DL);
        Random r = new Random(seed);
        FakeGuestMemory mem = FakeGuestMemory.builder().ram(0, RAM).rom(ROM, 0x1_0000, "rom").build();
        long chains = 0;
        long errors = 0;
        long segments = 0;
        long start = System.nanoTime();
        for (int it = 0; it < iterations; it++) {
            int size = 1 << r.nextInt(9); // 1..256
            long desc = 0x1000;
            long avail = 0x1000 + 16L * 256;
            long used = 0x3000;
            boolean indirect = r.nextBoolean();
            // descriptor table (and a region of candidate indirect tables at 0x8000)
            for (int i = 0; i < size; i++) {
                writeRandomDescriptor(r, mem, desc + 16L * i, size);
            }
            int tables = 1 + r.nextInt(64);
            for (int i = 0; i < tables; i++) {
                writeRandomDescriptor(r, mem, 0x8000 + 16L * i, tables);
            }
            int lastAvail = r.nextInt(0x1_0000);
            int ahead = r.nextInt(10) == 0 ? r.nextInt(0x1_0000) : r.nextInt(size + 1);
            mem.writeWord(avail, r.nextInt(2));
            mem.writeWord(avail + 2, (lastAvail + ahead) & 0xFFFF);
            for (int i = 0; i < size; i++) {
                mem.writeWord(avail + 4 + 2L * i, r.nextInt(8) == 0 ? r.nextInt(0x1_0000) : r.nextInt(size));
            }
            Virtqueue q;
            try {
                q = new Virtqueue(mem, size, desc, avail, used, indirect, lastAvail, r.nextInt(0x1_0000));
            } catch (VirtioException e) {
                throw new AssertionError("valid rings refused at iteration " + it, e);
            }
            try {
                for (int n = 0; n <= size; n++) {
                    DescriptorChain c = q.pop();
                    if (c == null) {
                        break;
                    }
                    chains++;
                    segments += c.segments();
                    check(mem, c, it);
                    q.push(c, r.nextLong());
                }
            } catch (VirtioException e) {
                errors++;
            } catch (RuntimeException e) {
                throw new AssertionError("host exception at iteration " + it + " (seed " + seed + ")", e);
            }
        }
        assertEquals(0, mem.droppedWrites(), "no write outside RAM");
        long ms = (System.nanoTime() - start) / 1_000_000;
        System.out.printf("virtio fuzz: %d iterations, %d chains (%d buffers), %d protocol errors, %d ms%n",
                iterations, chains, segments, errors, ms);
        assertTrue(iterations < 1000 || (chains > 0 && errors > 0), "the fuzzer reaches both outcomes");
    }

    private static void writeRandomDescriptor(Random r, FakeGuestMemory mem, long at, int tableSize) {
        long addr = switch (r.nextInt(6)) {
            case 0 -> r.nextLong();
            case 1 -> ROM + r.nextInt(0x1_0000);
            case 2 -> RAM - r.nextInt(64);
            default -> r.nextInt((int) RAM);
        };
        int len = switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> r.nextInt();
            case 2 -> 16 * (1 + r.nextInt(8));
            default -> r.nextInt(4096);
        };
        if (r.nextInt(8) == 0) {
            addr = 0x8000 + 16L * r.nextInt(64); // point at the candidate indirect tables
        }
        int flags = r.nextInt(4) == 0 ? r.nextInt(0x1_0000) : r.nextInt(8);
        int next = r.nextInt(10) == 0 ? r.nextInt(0x1_0000) : r.nextInt(tableSize + 1);
        mem.writeQword(at, addr);
        mem.writeDword(at + 8, len);
        mem.writeWord(at + 12, flags);
        mem.writeWord(at + 14, next);
    }

    private static void check(FakeGuestMemory mem, DescriptorChain c, int it) {
        long total = 0;
        for (int i = 0; i < c.segments(); i++) {
            boolean writable = i >= c.readableSegments();
            long a = c.address(i);
            long n = c.length(i);
            total += n;
            if (n == 0 || !GuestRanges.inside(mem, a, n, writable)) {
                throw new AssertionError("iteration " + it + ": buffer " + Long.toHexString(a) + "+" + n
                        + " escaped the checks");
            }
        }
        if (c.segments() > Virtqueue.MAX_SIZE || total > 0xFFFF_FFFFL) {
            throw new AssertionError("iteration " + it + ": unbounded chain");
        }
    }
}
