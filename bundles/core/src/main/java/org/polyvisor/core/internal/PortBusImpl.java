package org.polyvisor.core.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;

/**
 * The 64 KiB port space: one slot per port, so dispatch is an array load. Each access counts as a
 * port-I/O exit (what a hardware engine would take there).
 */
final class PortBusImpl implements PortBus {

    private static final int PORTS = 0x1_0000; // 64 KiB of port space

    private record Slot(PortDevice device, int base, RegistrationImpl registration) {
    }

    private final Slot[] slots = new Slot[PORTS];
    private final List<RegistrationImpl> windows = new ArrayList<>();
    private final LongAdder exits;
    private final LongAdder unclaimed;

    PortBusImpl(Counters exitCounters, Counters busCounters) {
        this.exits = exitCounters.counter("port-io");
        this.unclaimed = busCounters.counter("port-io-unclaimed");
    }

    @Override
    public synchronized Registration map(int base, int length, String owner, PortDevice device) {
        if (base < 0 || length <= 0 || base + length > PORTS) {
            throw new IllegalArgumentException(String.format("%s: port window 0x%x+%d is outside the port space",
                    owner, base, length));
        }
        for (int p = base; p < base + length; p++) {
            if (slots[p] != null) {
                throw new IllegalArgumentException(String.format("%s: port 0x%x is already used by %s",
                        owner, p, slots[p].registration().owner()));
            }
        }
        RegistrationImpl[] holder = new RegistrationImpl[1];
        RegistrationImpl reg = new RegistrationImpl(base, length, owner, () -> unmap(holder[0]));
        holder[0] = reg;
        Slot slot = new Slot(device, base, reg);
        for (int p = base; p < base + length; p++) {
            slots[p] = slot;
        }
        windows.add(reg);
        return reg;
    }

    private synchronized void unmap(RegistrationImpl reg) {
        for (long p = reg.base(); p < reg.base() + reg.length(); p++) {
            if (slots[(int) p] != null && slots[(int) p].registration() == reg) {
                slots[(int) p] = null;
            }
        }
        windows.remove(reg);
    }

    @Override
    public int read(int port, int size) {
        exits.increment();
        Slot s = slots[port & 0xFFFF];
        if (s == null) {
            unclaimed.increment();
            return (int) ((1L << (size * 8)) - 1); // nothing decodes the port: all ones
        }
        return s.device().read((port & 0xFFFF) - s.base(), size);
    }

    @Override
    public void write(int port, int size, int value) {
        exits.increment();
        Slot s = slots[port & 0xFFFF];
        if (s == null) {
            unclaimed.increment();
            return;
        }
        s.device().write((port & 0xFFFF) - s.base(), size, value);
    }

    @Override
    public synchronized List<Registration> windows() {
        List<Registration> out = new ArrayList<>(windows);
        out.sort(Comparator.comparingLong(Registration::base));
        return out;
    }
}
