package org.polyvisor.core.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * One instance per VM definition (factory configuration {@code org.polyvisor.vm}); hands the
 * definition to the manager. A deleted configuration destroys the VM.
 */
@Component(name = ConfigMapping.FACTORY_PID, configurationPid = ConfigMapping.FACTORY_PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = VmDefinition.class, factory = true)
public final class VmDefinitionComponent {

    /** DS deactivation reason: the configuration was deleted. */
    private static final int CONFIGURATION_DELETED = 2;

    private final VmRegistry registry;
    private final String pid;

    /**
     * Takes a new definition.
     *
     * @param registry the manager
     * @param props    the configuration
     */
    @Activate
    public VmDefinitionComponent(@Reference VmRegistry registry, Map<String, Object> props) {
        this.registry = registry;
        this.pid = String.valueOf(props.get("service.pid"));
        registry.configured(pid, props);
    }

    @Modified
    void modified(Map<String, Object> props) {
        registry.configured(pid, props);
    }

    @Deactivate
    void deactivate(int reason) {
        registry.unconfigured(pid, reason == CONFIGURATION_DELETED);
    }
}
