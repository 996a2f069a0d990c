package org.polyvisor.vm;

import java.time.Duration;
import java.util.OptionalInt;

/**
 * A VM's state with its explanation.
 *
 * @param state      the state
 * @param detail     why it is in that state, e.g. {@code triple fault at 0008:00001234} or
 *                   {@code waiting for cpu strategy 'interpreter'}; empty if nothing to add
 * @param uptime     time spent running since the last start
 * @param exitStatus the guest's exit status after a power-off with one (debug-exit port)
 */
public record VmStatus(VmState state, String detail, Duration uptime, OptionalInt exitStatus) {

    /**
     * Formats the state as the shell shows it, e.g. {@code crashed: triple fault at 0008:00001234}.
     *
     * @return the text
     */
    public String describe() {
        StringBuilder sb = new StringBuilder(state.label());
        if (!detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        if (exitStatus.isPresent()) {
            sb.append(" (exit status ").append(exitStatus.getAsInt()).append(')');
        }
        return sb.toString();
    }
}
