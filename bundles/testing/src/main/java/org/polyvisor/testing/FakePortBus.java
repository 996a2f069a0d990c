package org.polyvisor.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;

/**
 * The 64 KiB port space as the platform's bus keeps it: windows may not overlap or leave the space,
 * a device sees offsets into its own window, and a port nothing decodes reads all ones and drops
 * writes. Closing a registration unmaps its window.
 */
public final class FakePortBus implements PortBus {

    private static final int PORTS = 0x1_0000; // 64 KiB of port space

    private final TreeMap<Integer, Window<PortDevice>> windows = new TreeMap<>();

    @Override
    public synchronized Registration map(int base, int length, String owner, PortDevice device) {
        if (base < 0 || length <= 0 || base + length > PORTS) {
            throw new IllegalArgumentException(String.format("%s: port window 0x%x+%d is outside the port space",
                    owner, base, length));
        }
        Map.Entry<Integer, Window<PortDevice>> below = windows.floorEntry(base + length - 1);
        if (below != null && below.getValue().end() > base) {
            throw new IllegalArgumentException(String.format("%s: port window 0x%x+%d overlaps %s",
                    owner, base, length, below.getValue()));
        }
        Window<PortDevice> w = new Window<>(base, length, owner, device, this::unmap);
        windows.put(base, w);
        return w;
    }

    private synchronized void unmap(Window<PortDevice> w) {
        windows.remove((int) w.base(), w);
    }

    private synchronized Window<PortDevice> find(int port) {
        Map.Entry<Integer, Window<PortDevice>> e = windows.floorEntry(port);
        return e != null && e.getValue().contains(port) ? e.getValue() : null;
    }

    @Override
    public int read(int port, int size) {
        Window<PortDevice> w = find(port & 0xFFFF);
        return w == null ? (int) ((1L << (8 * size)) - 1) : w.device().read((int) ((port & 0xFFFF) - w.base()), size);
    }

    @Override
    public void write(int port, int size, int value) {
        Window<PortDevice> w = find(port & 0xFFFF);
        if (w != null) {
            w.device().write((int) ((port & 0xFFFF) - w.base()), size, value);
        }
    }

    /** Returns the mapped windows in ascending port order. */
    @Override
    public synchronized List<Registration> windows() {
        return new ArrayList<>(windows.values());
    }

    /**
     * Writes one byte, as the guest's {@code OUT imm8, AL} does.
     *
     * @param port  the port
     * @param value the byte
     */
    public void outb(int port, int value) {
        write(port, 1, value);
    }

    /**
     * Reads one byte, as the guest's {@code IN AL, imm8} does.
     *
     * @param port the port
     * @return the byte, 0xFF where nothing decodes the port
     */
    public int inb(int port) {
        return read(port, 1);
    }
}
