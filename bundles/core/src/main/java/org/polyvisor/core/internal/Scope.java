package org.polyvisor.core.internal;

import java.util.ArrayList;
import java.util.List;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;

/**
 * The buses as one part sees them: every window the part maps is remembered, so the platform can
 * unmap what a departing (or misbehaving) part left behind.
 */
final class Scope {

    private final PortBus ports;
    private final MmioBus mmio;
    private final List<Registration> registrations = new ArrayList<>();

    Scope(PortBus ports, MmioBus mmio) {
        this.ports = ports;
        this.mmio = mmio;
    }

    PortBus ports() {
        return new PortBus() {
            @Override
            public Registration map(int base, int length, String owner, PortDevice device) {
                return remember(ports.map(base, length, owner, device));
            }

            @Override
            public int read(int port, int size) {
                return ports.read(port, size);
            }

            @Override
            public void write(int port, int size, int value) {
                ports.write(port, size, value);
            }

            @Override
            public List<Registration> windows() {
                return ports.windows();
            }
        };
    }

    MmioBus mmio() {
        return new MmioBus() {
            @Override
            public Registration map(long base, long length, String owner, MmioDevice device) {
                return remember(mmio.map(base, length, owner, device));
            }

            @Override
            public boolean isMapped(long gpa) {
                return mmio.isMapped(gpa);
            }

            @Override
            public long read(long gpa, int size) {
                return mmio.read(gpa, size);
            }

            @Override
            public void write(long gpa, int size, long value) {
                mmio.write(gpa, size, value);
            }

            @Override
            public List<Registration> windows() {
                return mmio.windows();
            }
        };
    }

    private final List<AutoCloseable> closers = new ArrayList<>();

    /**
     * Runs something when the part's windows are released (e.g. withdrawing a VM service).
     *
     * @param c what to close
     */
    synchronized void onClose(AutoCloseable c) {
        closers.add(c);
    }

    private synchronized Registration remember(Registration r) {
        registrations.add(r);
        return r;
    }

    /**
     * Describes the mapped windows, e.g. {@code io 0x20-0x21}.
     *
     * @return one line per window
     */
    synchronized List<String> describe() {
        List<String> out = new ArrayList<>();
        for (Registration r : registrations) {
            boolean io = r.base() <= 0xFFFF && ports.windows().contains(r);
            out.add(String.format("%s 0x%x-0x%x", io ? "io" : "mmio", r.base(), r.base() + r.length() - 1));
        }
        return out;
    }

    /** Unmaps every window the part mapped (idempotent per window). */
    synchronized void closeAll() {
        for (Registration r : registrations) {
            r.close();
        }
        registrations.clear();
        for (AutoCloseable c : closers) {
            try {
                c.close();
            } catch (Exception e) {
                // withdrawing must not stop the rest of the release
            }
        }
        closers.clear();
    }
}
