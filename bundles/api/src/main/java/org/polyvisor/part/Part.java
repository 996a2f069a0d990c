package org.polyvisor.part;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * What every pluggable part (CPU strategy, MMU strategy, interrupt controller, device model)
 * tells the platform about itself.
 *
 * <p>A part is registered as an OSGi service and is a <em>factory</em>: the platform asks it for a
 * fresh instance per VM (or per vCPU). The service should also carry the service property
 * {@value #NAME_PROPERTY} with the same value as {@link #name()}, so that it can be found by filter.
 */
@ConsumerType
public interface Part {

    /** Service property carrying the part's name, e.g. {@code (polyvisor.name=interpreter)}. */
    String NAME_PROPERTY = "polyvisor.name";

    /**
     * Returns the name users select this part by in a VM's configuration; unique per kind.
     *
     * @return a short lower-case name such as {@code interpreter} or {@code uart16550}
     */
    String name();

    /**
     * Returns a one-line description for {@code vm:strategies}.
     *
     * @return the description
     */
    String description();

    /**
     * Tells whether this part can run on this host, and if not, why. Called when listing parts
     * and before every VM assembly, so it should be cheap (cache probes).
     *
     * @return the availability with its reason
     */
    Availability availability();

    /**
     * Returns facts the part found about the host that users may want to compare (for example
     * {@code slat=ept}, {@code unrestricted-guest=yes}). Empty by default.
     *
     * @return an ordered map of feature names to values
     */
    default java.util.Map<String, String> hostFeatures() {
        return java.util.Map.of();
    }
}
