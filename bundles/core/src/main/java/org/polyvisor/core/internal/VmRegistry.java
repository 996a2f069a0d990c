package org.polyvisor.core.internal;

import java.util.Map;

/** What the configuration-driven VM definitions tell the manager. Internal to the core bundle. */
public interface VmRegistry {

    /**
     * A VM definition appeared or changed.
     *
     * @param pid   the configuration PID
     * @param props the configuration properties
     */
    void configured(String pid, Map<String, ?> props);

    /**
     * A VM definition went away.
     *
     * @param pid     the configuration PID
     * @param deleted true if the configuration was deleted (not just the component stopping)
     */
    void unconfigured(String pid, boolean deleted);
}
