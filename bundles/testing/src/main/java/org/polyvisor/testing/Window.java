package org.polyvisor.testing;

import java.util.function.Consumer;
import org.polyvisor.io.Registration;

/**
 * A mapped bus window, the registration both fake buses hand out.
 *
 * @param <D> the device type (port or MMIO)
 */
final class Window<D> implements Registration {

    private final long base;
    private final long length;
    private final String owner;
    private final D device;
    private final Consumer<Window<D>> unmap;

    Window(long base, long length, String owner, D device, Consumer<Window<D>> unmap) {
        this.base = base;
        this.length = length;
        this.owner = owner;
        this.device = device;
        this.unmap = unmap;
    }

    @Override
    public long base() {
        return base;
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public String owner() {
        return owner;
    }

    /** The first address past the window. */
    long end() {
        return base + length;
    }

    D device() {
        return device;
    }

    /** Tells whether an address falls in the window. */
    boolean contains(long address) {
        return address >= base && address - base < length;
    }

    /** Unmaps the window; idempotent. */
    @Override
    public void close() {
        unmap.accept(this);
    }

    @Override
    public String toString() {
        return String.format("%s [0x%x+0x%x]", owner, base, length);
    }
}
