package org.polyvisor.dev.pit8254.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;

/** A port bus keeping windows in a map and dispatching offsets, as the platform's bus does. */
final class FakePortBus implements PortBus {

    /** One mapped window. */
    final class Window implements Registration {
        final int base;
        final int length;
        final String owner;
        final PortDevice device;

        Window(int base, int length, String owner, PortDevice device) {
            this.base = base;
            this.length = length;
            this.owner = owner;
            this.device = device;
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
        public void close() {
            windows.remove(base, this);
        }
    }

    final TreeMap<Integer, Window> windows = new TreeMap<>();

    @Override
    public Registration map(int base, int length, String owner, PortDevice device) {
        Window w = new Window(base, length, owner, device);
        var below = windows.floorEntry(base + length - 1);
        if (below != null && below.getKey() + below.getValue().length > base) {
            throw new IllegalArgumentException("overlaps " + below.getValue().owner);
        }
        windows.put(base, w);
        return w;
    }

    private Window find(int port) {
        var e = windows.floorEntry(port);
        return e != null && port < e.getKey() + e.getValue().length ? e.getValue() : null;
    }

    @Override
    public int read(int port, int size) {
        Window w = find(port);
        return w == null ? (int) ((1L << (8 * size)) - 1) : w.device.read(port - w.base, size);
    }

    @Override
    public void write(int port, int size, int value) {
        Window w = find(port);
        if (w != null) {
            w.device.write(port - w.base, size, value);
        }
    }

    @Override
    public List<Registration> windows() {
        return new ArrayList<>(windows.values());
    }
}
