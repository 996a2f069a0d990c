package org.polyvisor.core.internal;

import org.polyvisor.io.Registration;

/** A mapped bus window; closing it runs the bus's unmap action once. */
final class RegistrationImpl implements Registration {

    private final long base;
    private final long length;
    private final String owner;
    private final Runnable unmap;
    private boolean closed;

    RegistrationImpl(long base, long length, String owner, Runnable unmap) {
        this.base = base;
        this.length = length;
        this.owner = owner;
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

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            unmap.run();
        }
    }

    @Override
    public String toString() {
        return String.format("%s 0x%x-0x%x", owner, base, base + length - 1);
    }
}
