package org.polyvisor.kvm;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * What {@link HostProbe} found, and what follows from it for each hardware-assisted technique.
 *
 * @param vendorId         the CPU vendor string, e.g. {@code GenuineIntel}, {@code "  Shanghai  "}
 * @param modelName        the CPU model name
 * @param cpuFlags         the CPU flags of the first processor
 * @param modules          loaded KVM vendor modules (kvm_intel, kvm_amd, kvm_pvm) with their parameters
 * @param kvmParameters    parameters of the generic kvm module
 * @param devicePresent    whether {@code /dev/kvm} exists
 * @param deviceProblem    why {@code /dev/kvm} cannot be used though present, or null
 */
public record HostInfo(String vendorId, String modelName, Set<String> cpuFlags,
                       Map<String, Map<String, String>> modules, Map<String, String> kvmParameters,
                       boolean devicePresent, String deviceProblem) {

    /** Copies. */
    public HostInfo {
        cpuFlags = Collections.unmodifiableSet(new LinkedHashSet<>(cpuFlags));
        Map<String, Map<String, String>> m = new LinkedHashMap<>();
        modules.forEach((k, v) -> m.put(k, Map.copyOf(v)));
        modules = Collections.unmodifiableMap(m);
        kvmParameters = Map.copyOf(kvmParameters);
    }

    /** CPU makers as CPUID leaf 0 names them. */
    public enum Vendor {
        /** GenuineIntel. */
        INTEL("Intel"),
        /** AuthenticAMD. */
        AMD("AMD"),
        /** HygonGenuine (AMD-derived, SVM). */
        HYGON("Hygon"),
        /** CentaurHauls (VIA, and early Zhaoxin). */
        VIA("VIA/Centaur"),
        /** "  Shanghai  " (Zhaoxin). */
        ZHAOXIN("Zhaoxin"),
        /** Anything else. */
        OTHER("unknown vendor");

        private final String label;

        Vendor(String label) {
            this.label = label;
        }

        /** @return a readable name */
        public String label() {
            return label;
        }
    }

    /** The hardware-assisted techniques, as strategies name them. */
    public enum Technique {
        /** Any working /dev/kvm. */
        KVM("kvm"),
        /** Intel VT-x. */
        VTX("vt-x"),
        /** AMD-V (SVM). */
        AMDV("amd-v"),
        /** VIA VT (VMX on VIA/Centaur and Zhaoxin CPUs). */
        VIAVT("via-vt");

        private final String strategy;

        Technique(String strategy) {
            this.strategy = strategy;
        }

        /** @return the strategy name */
        public String strategy() {
            return strategy;
        }
    }

    /** How the host's KVM translates guest memory. */
    public enum Paging {
        /** Intel/VIA extended page tables. */
        EPT,
        /** AMD nested page tables. */
        NPT,
        /** KVM's shadow page tables (no SLAT, SLAT disabled, or a software backend). */
        SHADOW
    }

    /**
     * A verdict on one technique.
     *
     * @param available whether a strategy of that technique can run here
     * @param reason    why not (or, when available, a short note), prefixed with the strategy name
     */
    public record Verdict(boolean available, String reason) {
    }

    /** @return the vendor */
    public Vendor vendor() {
        return switch (vendorId.trim()) {
            case "GenuineIntel" -> Vendor.INTEL;
            case "AuthenticAMD" -> Vendor.AMD;
            case "HygonGenuine" -> Vendor.HYGON;
            case "CentaurHauls" -> Vendor.VIA;
            case "Shanghai" -> Vendor.ZHAOXIN;
            default -> Vendor.OTHER;
        };
    }

    /** @return true if the CPU shows VMX */
    public boolean vmx() {
        return cpuFlags.contains("vmx");
    }

    /** @return true if the CPU shows SVM */
    public boolean svm() {
        return cpuFlags.contains("svm");
    }

    /**
     * Returns the module that backs /dev/kvm: the hardware module matching the CPU's extension when
     * loaded, else the software-based kvm_pvm, else whichever is loaded.
     *
     * @return the module name, or empty string if none is loaded
     */
    public String backingModule() {
        if (vmx() && modules.containsKey("kvm_intel")) {
            return "kvm_intel";
        }
        if (svm() && modules.containsKey("kvm_amd")) {
            return "kvm_amd";
        }
        if (modules.containsKey("kvm_pvm")) {
            return "kvm_pvm";
        }
        return modules.keySet().stream().findFirst().orElse("");
    }

    private Map<String, String> params() {
        return modules.getOrDefault(backingModule(), Map.of());
    }

    private static boolean on(String v) {
        return v != null && (v.equals("Y") || v.equals("y") || v.equals("1"));
    }

    /** @return how KVM translates guest memory here */
    public Paging paging() {
        Map<String, String> p = params();
        switch (backingModule()) {
            case "kvm_intel":
                return on(p.get("ept")) ? Paging.EPT : Paging.SHADOW;
            case "kvm_amd":
                return on(p.get("npt")) ? Paging.NPT : Paging.SHADOW;
            default:
                return Paging.SHADOW;
        }
    }

    /**
     * Returns the facts users compare between hosts, in a stable order: vendor, the CPU's
     * virtualization extension, the module, SLAT, unrestricted guest, VPID, APIC virtualization,
     * nested virtualization, VMCS shadowing.
     *
     * @return feature names to values
     */
    public Map<String, String> features() {
        Map<String, String> f = new LinkedHashMap<>();
        Map<String, String> p = params();
        f.put("cpu-vendor", vendor().label() + " (" + vendorId + ")");
        f.put("cpu-extension", vmx() ? "vmx" : svm() ? "svm" : "none");
        String module = backingModule();
        f.put("kvm-module", module.isEmpty() ? "none" : module);
        f.put("dev-kvm", !devicePresent ? "absent" : deviceProblem == null ? "ok" : deviceProblem);
        Paging paging = paging();
        f.put("slat", switch (paging) {
            case EPT -> "ept";
            case NPT -> "npt";
            case SHADOW -> "none (shadow paging)";
        });
        switch (module) {
            case "kvm_intel" -> {
                f.put("unrestricted-guest", yesNo(p.get("unrestricted_guest")));
                f.put("vpid", yesNo(p.get("vpid")));
                f.put("apicv", yesNo(p.get("enable_apicv")));
                f.put("nested", yesNo(p.get("nested")));
                f.put("vmcs-shadowing", yesNo(p.get("enable_shadow_vmcs")));
            }
            case "kvm_amd" -> {
                f.put("unrestricted-guest", "yes (SVM runs real mode natively)");
                f.put("asid", "yes");
                f.put("avic", yesNo(p.get("avic")));
                f.put("nested", yesNo(p.get("nested")));
                f.put("vmcb-virtual-vmload", yesNo(p.get("vls")));
            }
            case "kvm_pvm" -> {
                f.put("unrestricted-guest", "no (software-based backend: ring-0 guest code emulated)");
                f.put("apicv", "no");
                f.put("nested", "no");
            }
            default -> {
            }
        }
        return f;
    }

    private static String yesNo(String v) {
        return v == null ? "unknown" : on(v) ? "yes" : "no";
    }

    /**
     * Decides whether a technique can run here, and why not.
     *
     * @param t the technique
     * @return the verdict
     */
    public Verdict verdict(Technique t) {
        String name = t.strategy();
        Vendor v = vendor();
        switch (t) {
            case VTX -> {
                if (v != Vendor.INTEL) {
                    return no(name, "host CPU is " + v.label() + " (" + vendorId.trim() + "); VT-x needs a GenuineIntel CPU");
                }
                if (!vmx()) {
                    return no(name, "host CPU has no VMX (disabled in firmware, or hidden by the hypervisor this host runs in)");
                }
            }
            case VIAVT -> {
                if (v != Vendor.VIA && v != Vendor.ZHAOXIN) {
                    return no(name, "host CPU is " + v.label() + " (" + vendorId.trim()
                            + "); VIA VT needs a CentaurHauls (VIA) or Shanghai (Zhaoxin) CPU");
                }
                if (!vmx()) {
                    return no(name, "host CPU has no VMX (VIA VT disabled in firmware, or hidden by a hypervisor)");
                }
            }
            case AMDV -> {
                if (v != Vendor.AMD && v != Vendor.HYGON) {
                    return no(name, "host CPU is " + v.label() + " (" + vendorId.trim()
                            + "); AMD-V needs an AuthenticAMD or HygonGenuine CPU");
                }
                if (!svm()) {
                    return no(name, "host CPU has no SVM (AMD-V disabled in firmware, or hidden by the hypervisor"
                            + " this host runs in)" + (modules.containsKey("kvm_pvm") ? "; /dev/kvm is backed by kvm_pvm" : ""));
                }
            }
            default -> {
            }
        }
        if (!devicePresent) {
            return no(name, "/dev/kvm not present" + (modules.isEmpty() ? " (no KVM module loaded)" : ""));
        }
        if (deviceProblem != null) {
            return no(name, deviceProblem);
        }
        String module = backingModule();
        String wanted = switch (t) {
            case VTX, VIAVT -> "kvm_intel";
            case AMDV -> "kvm_amd";
            case KVM -> null;
        };
        if (wanted != null && !module.equals(wanted)) {
            return no(name, "/dev/kvm is backed by " + (module.isEmpty() ? "an unknown module" : module)
                    + ", not " + wanted);
        }
        String note = "KVM via " + (module.isEmpty() ? "unknown module" : module) + ", " + switch (paging()) {
            case EPT -> "EPT";
            case NPT -> "NPT";
            case SHADOW -> "shadow paging";
        };
        if (module.equals("kvm_pvm")) {
            note += " (software-based backend: ring-0 guest code emulated, ring-3 native)";
        }
        return new Verdict(true, note);
    }

    private static Verdict no(String name, String why) {
        return new Verdict(false, name + ": " + why);
    }
}
