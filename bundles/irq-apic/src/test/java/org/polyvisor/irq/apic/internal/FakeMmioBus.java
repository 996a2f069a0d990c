package org.polyvisor.irq.apic.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.Registration;

/** An MMIO bus dispatching offsets into windows, as the platform's bus does. */
final class FakeMmioBus implements MmioBus {

    record Window(long base, long length, String owner, MmioDevice device, TreeMap<Long, Window> map)
            implements Registration {
        @Override
        public void close() {
            map.remove(base, this);
        }
    }

    final TreeMap<Long, Window> windows = new TreeMap<>();

    @Override
    public Registration map(long base, long length, String owner, MmioDevice device) {
        var below = windows.floorEntry(base + length - 1);
        if (below != null && below.getKey() + below.getValue().length() > base) {
            throw new IllegalArgumentException("overlaps " + below.getValue().owner());
        }
        Window w = new Window(base, length, owner, device, windows);
        windows.put(base, w);
        return w;
    }

    private Window find(long gpa) {
        var e = windows.floorEntry(gpa);
        return e != null && gpa - e.getKey() < e.getValue().length() ? e.getValue() : null;
    }

    @Override
    public boolean isMapped(long gpa) {
        return find(gpa) != null;
    }

    @Override
    public long read(long gpa, int size) {
        Window w = find(gpa);
        return w == null ? (1L << (8 * size)) - 1 : w.device().read(gpa - w.base(), size);
    }

    @Override
    public void write(long gpa, int size, long value) {
        Window w = find(gpa);
        if (w != null) {
            w.device().write(gpa - w.base(), size, value);
        }
    }

    @Override
    public List<Registration> windows() {
        return new ArrayList<>(windows.values());
    }
}
