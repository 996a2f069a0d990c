package org.polyvisor.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.memory.GuestMemory;

/**
 * Guest-physical windows that are not memory, as the platform's bus keeps them: windows may not
 * overlap each other nor (when the bus knows the guest memory) a page of RAM or ROM, a device sees
 * offsets into its own window, and an address nothing decodes reads all ones and drops writes.
 */
public final class FakeMmioBus implements MmioBus {

    private final TreeMap<Long, Window<MmioDevice>> windows = new TreeMap<>();
    private final GuestMemory memory;

    /** A bus that checks windows only against each other. */
    public FakeMmioBus() {
        this(null);
    }

    /**
     * A bus that also refuses windows over guest memory, as the platform's does.
     *
     * @param memory the guest memory, or null not to check
     */
    public FakeMmioBus(GuestMemory memory) {
        this.memory = memory;
    }

    @Override
    public synchronized Registration map(long base, long length, String owner, MmioDevice device) {
        if (base < 0 || length <= 0 || base + length < base) {
            throw new IllegalArgumentException(String.format("%s: invalid MMIO window 0x%x+0x%x", owner, base, length));
        }
        Map.Entry<Long, Window<MmioDevice>> below = windows.floorEntry(base + length - 1);
        if (below != null && below.getValue().end() > base) {
            throw new IllegalArgumentException(String.format("%s: MMIO window 0x%x+0x%x overlaps %s",
                    owner, base, length, below.getValue()));
        }
        if (memory != null) {
            for (long p = base & ~0xFFFL; p < base + length; p += 0x1000) {
                if (memory.isMemory(p)) {
                    throw new IllegalArgumentException(String.format(
                            "%s: MMIO window 0x%x+0x%x overlaps guest memory at 0x%x", owner, base, length, p));
                }
            }
        }
        Window<MmioDevice> w = new Window<>(base, length, owner, device, this::unmap);
        windows.put(base, w);
        return w;
    }

    private synchronized void unmap(Window<MmioDevice> w) {
        windows.remove(w.base(), w);
    }

    private synchronized Window<MmioDevice> find(long gpa) {
        Map.Entry<Long, Window<MmioDevice>> e = windows.floorEntry(gpa);
        return e != null && e.getValue().contains(gpa) ? e.getValue() : null;
    }

    @Override
    public boolean isMapped(long gpa) {
        return find(gpa) != null;
    }

    @Override
    public long read(long gpa, int size) {
        Window<MmioDevice> w = find(gpa);
        if (w == null) {
            return size == 8 ? -1L : (1L << (8 * size)) - 1;
        }
        return w.device().read(gpa - w.base(), size);
    }

    @Override
    public void write(long gpa, int size, long value) {
        Window<MmioDevice> w = find(gpa);
        if (w != null) {
            w.device().write(gpa - w.base(), size, value);
        }
    }

    /** Returns the mapped windows in ascending address order. */
    @Override
    public synchronized List<Registration> windows() {
        return new ArrayList<>(windows.values());
    }
}
