package org.polyvisor.kvm.internal;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A direct buffer and its native address: the memory ioctl arguments are marshalled in. The
 * buffer is held by its owner for as long as the address may be used, so the memory cannot be
 * freed under a native call.
 */
public final class NativeBuffer {

    private final ByteBuffer buffer;
    private final long address;

    /**
     * Allocates a zeroed buffer.
     *
     * @param size bytes
     */
    public NativeBuffer(int size) {
        this.buffer = ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder());
        this.address = addressOf(buffer);
    }

    /**
     * Returns the native address of a direct buffer's first byte.
     *
     * @param direct a direct buffer
     * @return its address
     */
    public static long addressOf(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        // Safe: JNI's GetDirectBufferAddress only reads the buffer's address field.
        return Pointer.nativeValue(Native.getDirectBufferPointer(direct));
    }

    /**
     * Wraps native memory (an mmap'ed region) as a buffer; the caller keeps it mapped while the
     * buffer is used.
     *
     * @param address start
     * @param size    length
     * @return a native-order view
     */
    public static ByteBuffer wrap(long address, int size) {
        // Safe: creates a view only; no memory is touched until the caller reads it.
        return new Pointer(address).getByteBuffer(0, size).order(ByteOrder.nativeOrder());
    }

    /** @return the buffer, native order, position 0 */
    public ByteBuffer buffer() {
        return buffer;
    }

    /** @return its native address */
    public long address() {
        return address;
    }

    /** Zeroes the first {@code n} bytes. */
    public void clear(int n) {
        for (int i = 0; i < n; i += 8) {
            if (i + 8 <= n) {
                buffer.putLong(i, 0);
            } else {
                for (int j = i; j < n; j++) {
                    buffer.put(j, (byte) 0);
                }
            }
        }
    }
}
