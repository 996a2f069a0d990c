package org.polyvisor.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.vm.VmConfig;

class ConfigMappingTest {

    @Test
    void partOptionsSurviveTheConfigurationRoundTripAndOtherPropertiesAreNotOptions() {
        VmConfig c = VmConfig.builder("opt").mmu("shadow").firmware("x.rom").option("mmu.shadow.max-pages", "64")
                .option("mmu.slat.unused", "1").build();
        Map<String, Object> props = new HashMap<>();
        var d = ConfigMapping.toProperties(c);
        for (String k : Collections.list(d.keys())) {
            props.put(k, d.get(k));
        }
        assertEquals("64", props.get("mmu.shadow.max-pages"));
        props.put("service.pid", "org.polyvisor.vm.abc");
        props.put("felix.fileinstall.filename", "file:/etc/org.polyvisor.vm-opt.cfg");
        VmConfig back = ConfigMapping.fromProperties(props, "org.polyvisor.vm.abc");
        assertEquals(c, back);
        assertEquals(Map.of("max-pages", "64"), back.optionsOf("mmu", "shadow"));
    }
}
