package org.polyvisor.cpu.vtx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.vtx.internal.VtxStrategy;
import org.polyvisor.kvm.HostProbe;
import org.polyvisor.part.Availability;

/** The strategy's verdict on recorded hosts (the kvm bundle's test trees) and on this host. */
class VtxStrategyTest {

    private static final Path HOSTS = Path.of("../kvm/src/test/resources/hosts");

    private static VtxStrategy on(String host) {
        VtxStrategy s = new VtxStrategy();
        s.configure(Map.of("host.root", HOSTS.resolve(host).toString()));
        return s;
    }

    @Test
    void nameAndDescription() {
        VtxStrategy s = new VtxStrategy();
        assertEquals("vt-x", s.name());
        assertFalse(s.description().isBlank());
    }

    @Test
    void availableOnlyOnItsHosts() {
        Availability yes = on("intel").availability();
        assertTrue(yes.available(), yes.reason());
        Availability no = on("pvm").availability();
        assertFalse(no.available());
        assertEquals("vt-x: host CPU is AMD (AuthenticAMD); VT-x needs a GenuineIntel CPU", no.reason());
        assertTrue(on("nokvm").hostFeatures().containsKey("slat"));
    }

    @Test
    void unavailableStrategyRefusesToMakeEnginesWithTheReason() {
        VtxStrategy s = on("nokvm");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.createEngine(null));
        assertEquals(s.availability().reason(), e.getMessage());
    }

    @Test
    void onThisHostTheVerdictFollowsTheProbe() {
        VtxStrategy s = new VtxStrategy();
        assertEquals(HostProbe.probe().verdict(org.polyvisor.kvm.HostInfo.Technique.VTX).available(),
                s.availability().available(), s.availability().reason());
        System.out.println("vt-x on this host: " + s.availability() + " " + s.hostFeatures());
    }
}
