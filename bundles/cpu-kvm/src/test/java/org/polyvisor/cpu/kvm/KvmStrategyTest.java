package org.polyvisor.cpu.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.kvm.internal.KvmStrategy;
import org.polyvisor.part.Availability;

/** The generic strategy's verdicts and MMU compatibility on recorded hosts. */
class KvmStrategyTest {

    private static final Path HOSTS = Path.of("../kvm/src/test/resources/hosts");

    private static KvmStrategy on(String host) {
        KvmStrategy s = new KvmStrategy();
        s.configure(Map.of(KvmStrategySupport.HOST_ROOT_PROPERTY, HOSTS.resolve(host).toString()));
        return s;
    }

    @Test
    void availableWhereverDevKvmWorks() {
        for (String h : new String[] {"intel", "amd", "zhaoxin", "via", "pvm"}) {
            assertTrue(on(h).availability().available(), h);
        }
        Availability none = on("nokvm").availability();
        assertFalse(none.available());
        assertEquals("kvm: /dev/kvm not present (no KVM module loaded)", none.reason());
    }

    @Test
    void softwareMmuMustMatchTheHostsKvmPaging() {
        KvmStrategy pvm = on("pvm");
        assertTrue(pvm.compatibleWith("").available());
        assertTrue(pvm.compatibleWith("shadow").available());
        assertEquals("kvm: the MMU is the host's KVM, which uses shadow paging (kvm_pvm has no SLAT here); mmu 'slat'"
                + " cannot be used with it (use mmu=shadow or none)", pvm.compatibleWith("slat").reason());
        KvmStrategy intel = on("intel");
        assertTrue(intel.compatibleWith("slat").available());
        assertEquals("kvm: the MMU is the host's KVM, which uses EPT (slat); mmu 'shadow' cannot be used with it"
                + " (use mmu=slat or none)", intel.compatibleWith("shadow").reason());
        assertTrue(on("amd").compatibleWith("slat").available());
        assertFalse(on("intel-noept").compatibleWith("slat").available());
        assertFalse(intel.compatibleWith("my-mmu").available());
    }

    @Test
    void hostFeaturesNameTheMmuKvmUses() {
        assertEquals("none (shadow paging)", on("pvm").hostFeatures().get("slat"));
        assertEquals("ept", on("intel").hostFeatures().get("slat"));
        assertEquals("npt", on("amd").hostFeatures().get("slat"));
        assertEquals("shadow", on("pvm").hostMmu());
        assertEquals("the host's KVM (kvm_pvm), with shadow paging", on("pvm").hostFeatures().get("guest-mmu"));
        assertEquals("the host's KVM (kvm_intel), with EPT (slat)", on("intel").hostFeatures().get("guest-mmu"));
        assertEquals("the host's KVM (kvm_intel), with shadow paging", on("intel-noept").hostFeatures().get("guest-mmu"));
        assertEquals("the host's KVM (kvm_amd), with NPT (slat)", on("amd").hostFeatures().get("guest-mmu"));
        assertFalse(on("nokvm").hostFeatures().containsKey("guest-mmu"), "nothing runs there");
    }
}
