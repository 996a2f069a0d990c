package org.polyvisor.virtio.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.memory.GuestMemory;

/** An MMIO bus refusing windows over memory or other windows, as the platform's does. */
public final class FakeMmioBus implements MmioBus {

    private record Window(long base, long length, String owner, MmioDevice device) {
    }

    private final TreeMap<Long, Window> windows = new TreeMap<>();
    private final GuestMemory memory;

    /**
     * Creates the bus.
     *
     * @param memory the memory windows may not overlap
     */
    public FakeMmioBus(GuestMemory memory) {
        this.memory = memory;
    }

    @Override
    public synchronized Registration map(long base, long length, String owner, MmioDevice device) {
        Map.Entry<Long, Window> below = windows.floorEntry(base + length - 1);
        if (below != null && below.getValue().base() + below.getValue().length() > base) {
            throw new IllegalArgumentException(owner + ": overlaps " + below.getValue().owner());
        }
        for (long p = base; p < base + length; p += 0x1000) {
            if (memory.isMemory(p)) {
                throw new IllegalArgumentException(owner + ": overlaps guest memory");
            }
        }
        Window w = new Window(base, length, owner, device);
        windows.put(base, w);
        return new Registration() {
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
                synchronized (FakeMmioBus.this) {
                    windows.remove(base, w);
                }
            }
        };
    }

    private synchronized Window find(long gpa) {
        Map.Entry<Long, Window> e = windows.floorEntry(gpa);
        return e != null && gpa - e.getKey() < e.getValue().length() ? e.getValue() : null;
    }

    @Override
    public boolean isMapped(long gpa) {
        return find(gpa) != null;
    }

    @Override
    public long read(long gpa, int size) {
        Window w = find(gpa);
        return w == null ? (size == 8 ? -1L : (1L << (8 * size)) - 1) : w.device().read(gpa - w.base(), size);
    }

    @Override
    public void write(long gpa, int size, long value) {
        Window w = find(gpa);
        if (w != null) {
            w.device().write(gpa - w.base(), size, value);
        }
    }

    @Override
    public synchronized List<Registration> windows() {
        return new ArrayList<>();
    }
}
