package org.polyvisor.io;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The memory-mapped I/O space of one VM: guest-physical windows that are not memory.
 *
 * <p>Accesses that hit neither memory nor a window read as all ones and are dropped on write,
 * and are counted.
 */
@ProviderType
public interface MmioBus {

    /**
     * Maps a window to a device.
     *
     * @param base   first guest-physical address
     * @param length window length in bytes
     * @param owner  name of the owning device
     * @param device the device, which sees offsets from {@code base}
     * @return the registration
     * @throws IllegalArgumentException if the window overlaps another window or guest memory
     */
    Registration map(long base, long length, String owner, MmioDevice device);

    /**
     * Tells whether a window covers an address.
     *
     * @param gpa guest-physical address
     * @return true if a device decodes it
     */
    boolean isMapped(long gpa);

    /**
     * Reads on behalf of a vCPU.
     *
     * @param gpa  guest-physical address
     * @param size 1, 2, 4 or 8
     * @return the value read
     */
    long read(long gpa, int size);

    /**
     * Writes on behalf of a vCPU.
     *
     * @param gpa   guest-physical address
     * @param size  1, 2, 4 or 8
     * @param value the value
     */
    void write(long gpa, int size, long value);

    /**
     * Lists the mapped windows in ascending order.
     *
     * @return the registrations
     */
    List<Registration> windows();
}
