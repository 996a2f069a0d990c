package org.polyvisor.cpu.amdv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.amdv.internal.AmdvStrategy;
import org.polyvisor.kvm.HostProbe;
import org.polyvisor.part.Availability;

/** The strategy's verdict on recorded hosts (the kvm bundle's test trees) and on this host. */
class AmdvStrategyTest {

    private static final Path HOSTS = Path.of("../kvm/src/test/resources/hosts");

    private static AmdvStrategy on(String host) {
        AmdvStrategy s = new AmdvStrategy();
        s.configure(Map.of("host.root", HOSTS.resolve(host).toString()));
        return s;
    }

    @Test
    void nameAndDescription() {
        AmdvStrategy s = new AmdvStrategy();
        assertEquals("amd-v", s.name());
        assertFalse(s.description().isBlank());
    }

    @Test
    void availableOnlyOnItsHosts() {
        Availability yes = on("amd").availability();
        assertTrue(yes.available(), yes.reason());
        Availability no = on("pvm").availability();
        assertFalse(no.available());
        assertEquals("amd-v: host CPU has no SVM (AMD-V disabled in firmware, or hidden by the hypervisor this host runs in); /dev/kvm is backed by kvm_pvm", no.reason());
        assertTrue(on("nokvm").hostFeatures().containsKey("slat"));
    }

    @Test
    void unavailableStrategyRefusesToMakeEnginesWithTheReason() {
        AmdvStrategy s = on("nokvm");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.createEngine(null));
        assertEquals(s.availability().reason(), e.getMessage());
    }

    @Test
    void onThisHostTheVerdictFollowsTheProbe() {
        AmdvStrategy s = new AmdvStrategy();
        assertEquals(HostProbe.probe().verdict(org.polyvisor.kvm.HostInfo.Technique.AMDV).available(),
                s.availability().available(), s.availability().reason());
        System.out.println("amd-v on this host: " + s.availability() + " " + s.hostFeatures());
    }
}
