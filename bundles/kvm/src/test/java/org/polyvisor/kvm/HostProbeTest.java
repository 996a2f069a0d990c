package org.polyvisor.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.polyvisor.kvm.HostInfo.Paging;
import org.polyvisor.kvm.HostInfo.Technique;
import org.polyvisor.kvm.HostInfo.Vendor;
import org.polyvisor.kvm.HostInfo.Verdict;

/** The probe against recorded /proc and /sys trees of other hosts (src/test/resources/hosts). */
class HostProbeTest {

    private static HostInfo host(String name) throws Exception {
        return HostProbe.probe(Path.of(HostProbeTest.class.getResource("/hosts/" + name).toURI()));
    }

    private static void yes(HostInfo h, Technique t, String note) {
        Verdict v = h.verdict(t);
        assertTrue(v.available(), v.reason());
        assertEquals(note, v.reason());
    }

    private static void no(HostInfo h, Technique t, String reason) {
        Verdict v = h.verdict(t);
        assertFalse(v.available(), t + " should not be available");
        assertEquals(reason, v.reason());
    }

    @Test
    void intelWithVmxAndEpt() throws Exception {
        HostInfo h = host("intel");
        assertEquals(Vendor.INTEL, h.vendor());
        assertEquals("kvm_intel", h.backingModule());
        assertEquals(Paging.EPT, h.paging());
        yes(h, Technique.KVM, "KVM via kvm_intel, EPT");
        yes(h, Technique.VTX, "KVM via kvm_intel, EPT");
        no(h, Technique.AMDV, "amd-v: host CPU is Intel (GenuineIntel); AMD-V needs an AuthenticAMD or HygonGenuine CPU");
        no(h, Technique.VIAVT, "via-vt: host CPU is Intel (GenuineIntel); VIA VT needs a CentaurHauls (VIA) or Shanghai (Zhaoxin) CPU");
        assertEquals("{cpu-vendor=Intel (GenuineIntel), cpu-extension=vmx, kvm-module=kvm_intel, dev-kvm=ok, slat=ept,"
                + " unrestricted-guest=yes, vpid=yes, apicv=yes, nested=yes, vmcs-shadowing=yes}", h.features().toString());
    }

    @Test
    void intelWithEptDisabledUsesShadowPaging() throws Exception {
        HostInfo h = host("intel-noept");
        assertEquals(Paging.SHADOW, h.paging());
        yes(h, Technique.VTX, "KVM via kvm_intel, shadow paging");
        assertEquals("no", h.features().get("unrestricted-guest"));
        assertEquals("none (shadow paging)", h.features().get("slat"));
    }

    @Test
    void amdWithSvmAndNpt() throws Exception {
        HostInfo h = host("amd");
        assertEquals(Vendor.AMD, h.vendor());
        assertEquals("kvm_amd", h.backingModule());
        assertEquals(Paging.NPT, h.paging());
        yes(h, Technique.AMDV, "KVM via kvm_amd, NPT");
        yes(h, Technique.KVM, "KVM via kvm_amd, NPT");
        no(h, Technique.VTX, "vt-x: host CPU is AMD (AuthenticAMD); VT-x needs a GenuineIntel CPU");
        assertEquals("no", h.features().get("avic"));
        assertEquals("yes", h.features().get("nested"));
    }

    @Test
    void zhaoxinIsViaVt() throws Exception {
        HostInfo h = host("zhaoxin");
        assertEquals("  Shanghai  ", h.vendorId());
        assertEquals(Vendor.ZHAOXIN, h.vendor());
        yes(h, Technique.VIAVT, "KVM via kvm_intel, EPT");
        no(h, Technique.VTX, "vt-x: host CPU is Zhaoxin (Shanghai); VT-x needs a GenuineIntel CPU");
        no(h, Technique.AMDV, "amd-v: host CPU is Zhaoxin (Shanghai); AMD-V needs an AuthenticAMD or HygonGenuine CPU");
    }

    @Test
    void viaCentaurIsViaVtWithShadowPaging() throws Exception {
        HostInfo h = host("via");
        assertEquals(Vendor.VIA, h.vendor());
        yes(h, Technique.VIAVT, "KVM via kvm_intel, shadow paging");
        no(h, Technique.VTX, "vt-x: host CPU is VIA/Centaur (CentaurHauls); VT-x needs a GenuineIntel CPU");
    }

    @Test
    void thisKindOfHostHasOnlyTheGenericKvmThroughKvmPvm() throws Exception {
        HostInfo h = host("pvm");
        assertEquals(Vendor.AMD, h.vendor());
        assertFalse(h.svm());
        assertEquals("kvm_pvm", h.backingModule());
        assertEquals(Paging.SHADOW, h.paging());
        yes(h, Technique.KVM, "KVM via kvm_pvm, shadow paging (software-based backend: ring-0 guest code emulated, ring-3 native)");
        no(h, Technique.AMDV, "amd-v: host CPU has no SVM (AMD-V disabled in firmware, or hidden by the hypervisor this host"
                + " runs in); /dev/kvm is backed by kvm_pvm");
        no(h, Technique.VTX, "vt-x: host CPU is AMD (AuthenticAMD); VT-x needs a GenuineIntel CPU");
        no(h, Technique.VIAVT, "via-vt: host CPU is AMD (AuthenticAMD); VIA VT needs a CentaurHauls (VIA) or Shanghai (Zhaoxin) CPU");
        assertEquals("none", h.features().get("cpu-extension"));
    }

    @Test
    void kvmLessHostSaysWhy() throws Exception {
        HostInfo h = host("nokvm");
        assertFalse(h.devicePresent());
        no(h, Technique.KVM, "kvm: /dev/kvm not present (no KVM module loaded)");
        no(h, Technique.VTX, "vt-x: host CPU has no VMX (disabled in firmware, or hidden by the hypervisor this host runs in)");
        assertEquals("none", h.features().get("kvm-module"));
    }

    @Test
    void moduleLoadedButDeviceMissing() throws Exception {
        HostInfo h = host("intel-nodev");
        no(h, Technique.VTX, "vt-x: /dev/kvm not present");
        no(h, Technique.KVM, "kvm: /dev/kvm not present");
    }

    @Test
    void deviceThatCannotBeOpenedGivesTheKernelsReason() throws Exception {
        Path root = Path.of(HostProbeTest.class.getResource("/hosts/intel").toURI());
        HostInfo h = HostProbe.probe(root, dev -> "cannot open /dev/kvm: Permission denied (errno 13)");
        no(h, Technique.VTX, "vt-x: cannot open /dev/kvm: Permission denied (errno 13)");
        no(h, Technique.KVM, "kvm: cannot open /dev/kvm: Permission denied (errno 13)");
        assertEquals("cannot open /dev/kvm: Permission denied (errno 13)", h.features().get("dev-kvm"));
    }

    @Test
    void missingRootIsAKvmLessHost() {
        HostInfo h = HostProbe.probe(Path.of("/nonexistent-root"));
        assertEquals(Vendor.OTHER, h.vendor());
        assertFalse(h.verdict(Technique.KVM).available());
    }
}
