package org.polyvisor.device;

import java.util.List;
import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.part.SavedState;

/** One device instance in one VM. */
@ConsumerType
public interface Device extends AutoCloseable {

    /**
     * Returns the device's instance name in the VM, e.g. {@code com1}.
     *
     * @return the name
     */
    String name();

    /** Puts the device into its power-on state (system reset). */
    void reset();

    /**
     * Saves the device's hardware state.
     *
     * @return a versioned neutral value
     */
    SavedState saveState();

    /**
     * Restores a state saved by this or a compatible implementation.
     *
     * @param state the state
     * @throws IllegalArgumentException if its type or version is not accepted
     */
    void restoreState(SavedState state);

    /**
     * Describes what the device occupies, for {@code vm:info}: e.g. {@code io 0x3f8-0x3ff},
     * {@code irq 4}.
     *
     * @return the resources in a stable order
     */
    List<String> resources();

    /**
     * Returns counters for {@code vm:stats}.
     *
     * @return counter names to values
     */
    default Map<String, Long> stats() {
        return Map.of();
    }

    /** Unmaps the device's windows and releases its resources. */
    @Override
    void close();
}
