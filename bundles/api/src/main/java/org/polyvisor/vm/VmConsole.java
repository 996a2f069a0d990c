package org.polyvisor.vm;

import java.util.function.Consumer;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A VM's console: the serial port the guest talks on (COM1), seen from the host.
 */
@ProviderType
public interface VmConsole {

    /**
     * Types bytes into the guest's console.
     *
     * @param bytes the bytes
     */
    void send(byte[] bytes);

    /**
     * Returns the most recent output (at least the last 64 KiB).
     *
     * @return a copy of the output tail
     */
    byte[] recentOutput();

    /**
     * Returns the total number of bytes the guest has written since the VM was defined.
     *
     * @return the count
     */
    long totalOutput();

    /**
     * Follows the guest's output from now on.
     *
     * @param listener called (on a vCPU thread; must not block) with each chunk of output
     * @return a handle that detaches when closed
     */
    AutoCloseable attach(Consumer<byte[]> listener);
}
