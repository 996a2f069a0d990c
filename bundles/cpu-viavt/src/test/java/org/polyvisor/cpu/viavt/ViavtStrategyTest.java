package org.polyvisor.cpu.viavt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.viavt.internal.ViavtStrategy;
import org.polyvisor.kvm.HostProbe;
import org.polyvisor.part.Availability;

/** The strategy's verdict on recorded hosts (the kvm bundle's test trees) and on this host. */
class ViavtStrategyTest {

    private static final Path HOSTS = Path.of("../kvm/src/test/resources/hosts");

    private static ViavtStrategy on(String host) {
        ViavtStrategy s = new ViavtStrategy();
        s.configure(Map.of("host.root", HOSTS.resolve(host).toString()));
        return s;
    }

    @Test
    void nameAndDescription() {
        ViavtStrategy s = new ViavtStrategy();
        assertEquals("via-vt", s.name());
        assertFalse(s.description().isBlank());
    }

    @Test
    void availableOnlyOnItsHosts() {
        Availability yes = on("zhaoxin").availability();
        assertTrue(yes.available(), yes.reason());
        Availability no = on("intel").availability();
        assertFalse(no.available());
        assertEquals("via-vt: host CPU is Intel (GenuineIntel); VIA VT needs a CentaurHauls (VIA) or Shanghai (Zhaoxin) CPU", no.reason());
        assertTrue(on("nokvm").hostFeatures().containsKey("slat"));
    }

    @Test
    void unavailableStrategyRefusesToMakeEnginesWithTheReason() {
        ViavtStrategy s = on("nokvm");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.createEngine(null));
        assertEquals(s.availability().reason(), e.getMessage());
    }

    @Test
    void onThisHostTheVerdictFollowsTheProbe() {
        ViavtStrategy s = new ViavtStrategy();
        assertEquals(HostProbe.probe().verdict(org.polyvisor.kvm.HostInfo.Technique.VIAVT).available(),
                s.availability().available(), s.availability().reason());
        System.out.println("via-vt on this host: " + s.availability() + " " + s.hostFeatures());
    }
}
