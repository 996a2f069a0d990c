package org.polyvisor.cpu;

import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Executes guest instructions for one vCPU. Made by a {@link CpuStrategy}.
 *
 * <p>Threading: {@link #run(long)}, {@link #exportState()} and {@link #importState(CpuState)} are
 * called on the vCPU's own thread only, never concurrently; {@link #requestExit()} may be called
 * from any thread at any time.
 */
@ConsumerType
public interface CpuEngine extends AutoCloseable {

    /**
     * Runs the guest until an {@link Exit}, for at most {@code budget} instructions. Returns only
     * at an instruction boundary (a fault in mid-instruction is delivered to the guest first).
     *
     * @param budget maximum number of instructions to retire, at least 1
     * @return why the run ended
     */
    Exit run(long budget);

    /**
     * Returns the architectural state at the current instruction boundary.
     *
     * @return the state
     */
    CpuState exportState();

    /**
     * Replaces the architectural state; the next {@link #run(long)} continues from it.
     *
     * @param state a state exported by any engine
     * @throws IllegalArgumentException if the state cannot be represented by this engine (e.g.
     *                                  long mode in a 32-bit engine), naming what
     */
    void importState(CpuState state);

    /**
     * Asks a running {@link #run(long)} to return {@link Exit.Requested} at the next instruction
     * boundary (or, if not running, makes the next run return immediately). Thread-safe.
     */
    void requestExit();

    /**
     * Tells whether {@link #run(long)} looks at the interrupt source at instruction boundaries
     * itself (software engines), so that a newly pending interrupt needs no forced exit; a
     * hardware engine answers false and is made to exit instead.
     *
     * @return true if the engine polls for interrupts while running
     */
    default boolean pollsInterrupts() {
        return true;
    }

    /**
     * Tells the engine that guest memory changed behind its back (DMA, a loader, a debugger), so
     * cached decodes or translations of that range must go.
     *
     * @param gpa    first guest-physical address
     * @param length bytes
     */
    default void invalidate(long gpa, long length) {
    }

    /**
     * Returns the number of instructions retired since the engine was created.
     *
     * @return the count
     */
    long instructionsRetired();

    /**
     * Returns engine-specific counters for {@code vm:stats} (translations, cache hits, ...).
     *
     * @return counter names to values
     */
    default Map<String, Long> stats() {
        return Map.of();
    }

    /** Releases the engine's resources; the engine is not used again. */
    @Override
    void close();
}
