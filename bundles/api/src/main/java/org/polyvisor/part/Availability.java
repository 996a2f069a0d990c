package org.polyvisor.part;

import java.util.Objects;

/**
 * Whether a part can run on this host, and if not, why.
 *
 * <p>The reason is shown to users verbatim (by {@code vm:strategies} and when a VM is refused),
 * so it names the missing capability, e.g. {@code "vt-x: host CPU has no VMX"}.
 *
 * @param available true if the part can be used on this host
 * @param reason    a human-readable explanation; never null, empty only when available
 */
public record Availability(boolean available, String reason) {

    private static final Availability AVAILABLE = new Availability(true, "");

    /** Validates the reason. */
    public Availability {
        Objects.requireNonNull(reason, "reason");
        if (!available && reason.isBlank()) {
            throw new IllegalArgumentException("an unavailable part must say why");
        }
    }

    /**
     * Returns the availability of a part that can run here.
     *
     * @return the shared "available" value
     */
    public static Availability yes() {
        return AVAILABLE;
    }

    /**
     * Returns the availability of a part that can run here, with a note (e.g. which backend).
     *
     * @param note what the user may want to know, e.g. {@code "KVM with EPT"}
     * @return an available value carrying the note
     */
    public static Availability yes(String note) {
        return new Availability(true, note);
    }

    /**
     * Returns the availability of a part that cannot run here.
     *
     * @param reason why not, naming the missing capability
     * @return an unavailable value
     */
    public static Availability no(String reason) {
        return new Availability(false, reason);
    }
}
