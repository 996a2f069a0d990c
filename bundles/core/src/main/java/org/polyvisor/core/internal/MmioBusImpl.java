package org.polyvisor.core.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.LongAdder;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.memory.GuestMemory;

/** Guest-physical windows that are not memory, found by a floor lookup on their base. */
final class MmioBusImpl implements MmioBus {

    private record Window(MmioDevice device, RegistrationImpl registration) {
    }

    private final ConcurrentSkipListMap<Long, Window> windows = new ConcurrentSkipListMap<>();
    private final GuestMemory memory;
    private final LongAdder exits;
    private final LongAdder unclaimed;

    MmioBusImpl(GuestMemory memory, Counters exitCounters, Counters busCounters) {
        this.memory = memory;
        this.exits = exitCounters.counter("mmio");
        this.unclaimed = busCounters.counter("mmio-unclaimed");
    }

    @Override
    public synchronized Registration map(long base, long length, String owner, MmioDevice device) {
        if (base < 0 || length <= 0 || base + length < base) {
            throw new IllegalArgumentException(String.format("%s: invalid MMIO window 0x%x+0x%x", owner, base, length));
        }
        Map.Entry<Long, Window> below = windows.floorEntry(base + length - 1);
        if (below != null && below.getValue().registration().base() + below.getValue().registration().length() > base) {
            throw new IllegalArgumentException(String.format("%s: MMIO window 0x%x+0x%x overlaps %s",
                    owner, base, length, below.getValue().registration()));
        }
        for (long p = base & ~0xFFFL; p < base + length; p += 0x1000) {
            if (memory.isMemory(p)) {
                throw new IllegalArgumentException(String.format("%s: MMIO window 0x%x+0x%x overlaps guest memory at 0x%x",
                        owner, base, length, p));
            }
        }
        RegistrationImpl reg = new RegistrationImpl(base, length, owner, () -> windows.remove(base));
        windows.put(base, new Window(device, reg));
        return reg;
    }

    private Window find(long gpa) {
        Map.Entry<Long, Window> e = windows.floorEntry(gpa);
        if (e == null) {
            return null;
        }
        RegistrationImpl r = e.getValue().registration();
        return gpa - r.base() < r.length() ? e.getValue() : null;
    }

    @Override
    public boolean isMapped(long gpa) {
        return find(gpa) != null;
    }

    @Override
    public long read(long gpa, int size) {
        exits.increment();
        Window w = find(gpa);
        if (w == null) {
            unclaimed.increment();
            return size == 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return w.device().read(gpa - w.registration().base(), size);
    }

    @Override
    public void write(long gpa, int size, long value) {
        exits.increment();
        Window w = find(gpa);
        if (w == null) {
            unclaimed.increment();
            return;
        }
        w.device().write(gpa - w.registration().base(), size, value);
    }

    @Override
    public List<Registration> windows() {
        List<Registration> out = new ArrayList<>();
        windows.values().forEach(w -> out.add(w.registration()));
        return out;
    }
}
