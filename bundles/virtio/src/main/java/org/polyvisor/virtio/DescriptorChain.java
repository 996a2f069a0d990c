package org.polyvisor.virtio;

import java.util.Arrays;
import org.polyvisor.memory.GuestMemory;

/**
 * One request taken from a virtqueue: the buffers of a descriptor chain, device-readable ones
 * first, then device-writable ones, every one already checked to lie in guest memory. Zero-length
 * descriptors are dropped (they carry nothing). Immutable.
 */
public final class DescriptorChain {

    private final int head;
    private final long[] addresses;
    private final int[] lengths;
    private final int readableCount;
    private final long readableLength;
    private final long writableLength;

    DescriptorChain(int head, long[] addresses, int[] lengths, int count, int readableCount) {
        this.head = head;
        this.addresses = Arrays.copyOf(addresses, count);
        this.lengths = Arrays.copyOf(lengths, count);
        this.readableCount = readableCount;
        long r = 0;
        long w = 0;
        for (int i = 0; i < count; i++) {
            if (i < readableCount) {
                r += Integer.toUnsignedLong(lengths[i]);
            } else {
                w += Integer.toUnsignedLong(lengths[i]);
            }
        }
        this.readableLength = r;
        this.writableLength = w;
    }

    /**
     * Returns the index of the chain's first descriptor, which identifies it in the used ring.
     *
     * @return the head index
     */
    public int head() {
        return head;
    }

    /**
     * Returns the number of buffers.
     *
     * @return readable plus writable buffers
     */
    public int segments() {
        return addresses.length;
    }

    /**
     * Returns the number of device-readable buffers (they come first).
     *
     * @return the count
     */
    public int readableSegments() {
        return readableCount;
    }

    /**
     * Returns a buffer's guest-physical address.
     *
     * @param i buffer index
     * @return the address
     */
    public long address(int i) {
        return addresses[i];
    }

    /**
     * Returns a buffer's length.
     *
     * @param i buffer index
     * @return the length, 1..2^32-1 bytes
     */
    public long length(int i) {
        return Integer.toUnsignedLong(lengths[i]);
    }

    /**
     * Returns the total length of the device-readable buffers.
     *
     * @return bytes the driver gave
     */
    public long readableLength() {
        return readableLength;
    }

    /**
     * Returns the total length of the device-writable buffers.
     *
     * @return bytes the device may write
     */
    public long writableLength() {
        return writableLength;
    }

    /**
     * Returns a reader over the device-readable buffers.
     *
     * @param memory guest memory
     * @return a new reader at the first readable byte
     */
    public Reader reader(GuestMemory memory) {
        return new Reader(memory);
    }

    /**
     * Returns a writer over the device-writable buffers.
     *
     * @param memory guest memory
     * @return a new writer at the first writable byte
     */
    public Writer writer(GuestMemory memory) {
        return new Writer(memory);
    }

    /** Reads the device-readable buffers in order, as one byte stream. */
    public final class Reader {
        private final GuestMemory memory;
        private int segment;
        private long offset;
        private long consumed;

        Reader(GuestMemory memory) {
            this.memory = memory;
        }

        /**
         * Returns the bytes not read yet.
         *
         * @return remaining readable bytes
         */
        public long remaining() {
            return readableLength - consumed;
        }

        /**
         * Reads up to {@code length} bytes.
         *
         * @param dst    destination
         * @param off    first index in {@code dst}
         * @param length bytes wanted
         * @return bytes read (less only at the end of the readable buffers)
         */
        public int read(byte[] dst, int off, int length) {
            int done = 0;
            while (done < length && segment < readableCount) {
                long left = length(segment) - offset;
                int n = (int) Math.min(left, length - done);
                memory.read(addresses[segment] + offset, dst, off + done, n);
                done += n;
                offset += n;
                if (offset == length(segment)) {
                    segment++;
                    offset = 0;
                }
            }
            consumed += done;
            return done;
        }

        /**
         * Skips bytes.
         *
         * @param n bytes to skip
         * @return bytes skipped
         */
        public long skip(long n) {
            long done = 0;
            while (done < n && segment < readableCount) {
                long left = length(segment) - offset;
                long k = Math.min(left, n - done);
                done += k;
                offset += k;
                if (offset == length(segment)) {
                    segment++;
                    offset = 0;
                }
            }
            consumed += done;
            return done;
        }
    }

    /** Writes the device-writable buffers in order, as one byte stream. */
    public final class Writer {
        private final GuestMemory memory;
        private int segment = readableCount;
        private long offset;
        private long written;

        Writer(GuestMemory memory) {
            this.memory = memory;
        }

        /**
         * Returns the room left.
         *
         * @return writable bytes not written yet
         */
        public long remaining() {
            return writableLength - written;
        }

        /**
         * Returns how many bytes were written, the length to report in the used ring.
         *
         * @return bytes written
         */
        public long written() {
            return written;
        }

        /**
         * Writes up to {@code length} bytes.
         *
         * @param src    source
         * @param off    first index in {@code src}
         * @param length bytes to write
         * @return bytes written (less only when the writable buffers are full)
         */
        public int write(byte[] src, int off, int length) {
            int done = 0;
            while (done < length && segment < addresses.length) {
                long left = length(segment) - offset;
                int n = (int) Math.min(left, length - done);
                memory.write(addresses[segment] + offset, src, off + done, n);
                done += n;
                offset += n;
                if (offset == length(segment)) {
                    segment++;
                    offset = 0;
                }
            }
            written += done;
            return done;
        }

        /**
         * Writes one byte.
         *
         * @param b the byte
         * @return true if there was room
         */
        public boolean writeByte(int b) {
            return write(new byte[] {(byte) b}, 0, 1) == 1;
        }

        /**
         * Skips bytes without writing them (they count as written).
         *
         * @param n bytes
         * @return bytes skipped
         */
        public long skip(long n) {
            long done = 0;
            while (done < n && segment < addresses.length) {
                long left = length(segment) - offset;
                long k = Math.min(left, n - done);
                done += k;
                offset += k;
                if (offset == length(segment)) {
                    segment++;
                    offset = 0;
                }
            }
            written += done;
            return done;
        }
    }
}
