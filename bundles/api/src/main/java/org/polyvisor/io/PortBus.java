package org.polyvisor.io;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The 64 KiB x86 I/O port space of one VM.
 *
 * <p>Unclaimed ports read as all ones and ignore writes, as on a PC with nothing decoding them;
 * the bus counts such accesses so a missing device model shows up in the statistics.
 */
@ProviderType
public interface PortBus {

    /**
     * Maps a window of ports to a device.
     *
     * @param base   first port
     * @param length number of ports
     * @param owner  name of the owning device, for listings and errors
     * @param device the device, which sees offsets from {@code base}
     * @return the registration
     * @throws IllegalArgumentException if the window overlaps another one (naming its owner) or
     *                                  leaves the port space
     */
    Registration map(int base, int length, String owner, PortDevice device);

    /**
     * Performs an IN on behalf of a vCPU.
     *
     * @param port port number
     * @param size 1, 2 or 4
     * @return the value read
     */
    int read(int port, int size);

    /**
     * Performs an OUT on behalf of a vCPU.
     *
     * @param port  port number
     * @param size  1, 2 or 4
     * @param value the value written
     */
    void write(int port, int size, int value);

    /**
     * Lists the mapped windows in ascending order.
     *
     * @return the registrations
     */
    List<Registration> windows();
}
