package org.polyvisor.x86;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A CPU model: what CPUID and the model-specific registers tell the guest (SDM Vol. 2A, CPUID;
 * Vol. 4, MSRs). A plain immutable value: vendor string, family/model/stepping, brand string and
 * the feature bits of leaves 1 and 0x8000_0001. Engines answer CPUID from it and create the MSRs it
 * implies; an engine refuses a model that reports a feature it does not implement
 * ({@link #unsupported(CpuModel)}), so whatever a guest is told works.
 *
 * <p>Written as a string ({@link #parse}, {@link #toString}):
 * {@code pentium2,family=6,model=15,stepping=11,brand=My CPU,features=+pse,-sep}. The first item
 * may name a built-in model ({@link #names()}); every key is optional and starts from that model
 * (or {@link #DEFAULT}); {@code features} is a list of
 * {@code +name} / {@code -name} edits (a bare name adds), applied in order, whose names are the
 * SDM's feature mnemonics in lower case ({@link #featureNames()}). {@code brand=} with nothing
 * after it removes the brand string (and with it the extended leaves 0x8000_0002-4).
 *
 * <p>The APIC bit (leaf 1 EDX bit 9) is not part of the configured model: it says whether the VM's
 * interrupt controller is a local APIC, which the platform decides ({@link #withApic}).
 */
public final class CpuModel {

    /** Leaf 1 EDX bits (SDM Vol. 2A, Table 3-11). */
    public static final int EDX_FPU = 1;
    /** Virtual-8086 mode extensions (CR4.VME/PVI). */
    public static final int EDX_VME = 1 << 1;
    /** Debugging extensions (CR4.DE, I/O breakpoints). */
    public static final int EDX_DE = 1 << 2;
    /** 4 MiB pages (CR4.PSE). */
    public static final int EDX_PSE = 1 << 3;
    /** RDTSC and CR4.TSD. */
    public static final int EDX_TSC = 1 << 4;
    /** RDMSR/WRMSR. */
    public static final int EDX_MSR = 1 << 5;
    /** Physical address extension (CR4.PAE). */
    public static final int EDX_PAE = 1 << 6;
    /** Machine check exception (CR4.MCE). */
    public static final int EDX_MCE = 1 << 7;
    /** CMPXCHG8B. */
    public static final int EDX_CX8 = 1 << 8;
    /** On-chip local APIC. */
    public static final int EDX_APIC = 1 << 9;
    /** SYSENTER/SYSEXIT and their MSRs. */
    public static final int EDX_SEP = 1 << 11;
    /** Memory type range registers. */
    public static final int EDX_MTRR = 1 << 12;
    /** Global pages (CR4.PGE). */
    public static final int EDX_PGE = 1 << 13;
    /** Machine check architecture. */
    public static final int EDX_MCA = 1 << 14;
    /** CMOVcc (and FCMOVcc/FCOMI with FPU). */
    public static final int EDX_CMOV = 1 << 15;
    /** Page attribute table. */
    public static final int EDX_PAT = 1 << 16;
    /** 36-bit page size extension. */
    public static final int EDX_PSE36 = 1 << 17;
    /** CLFLUSH. */
    public static final int EDX_CLFSH = 1 << 19;
    /** MMX. */
    public static final int EDX_MMX = 1 << 23;
    /** FXSAVE/FXRSTOR (and CR4.OSFXSR). */
    public static final int EDX_FXSR = 1 << 24;
    /** SSE. */
    public static final int EDX_SSE = 1 << 25;
    /** SSE2. */
    public static final int EDX_SSE2 = 1 << 26;
    /** Leaf 0x8000_0001 EDX: SYSCALL/SYSRET. */
    public static final int EXT_EDX_SYSCALL = 1 << 11;
    /** Leaf 0x8000_0001 EDX: execute disable (EFER.NXE). */
    public static final int EXT_EDX_NX = 1 << 20;
    /** Leaf 0x8000_0001 EDX: long mode. */
    public static final int EXT_EDX_LM = 1 << 29;

    /** Leaf 1 ECX bits, by name. */
    private static final Map<String, Integer> ECX_NAMES = new LinkedHashMap<>();
    /** Leaf 1 EDX bits, by name. */
    private static final Map<String, Integer> EDX_NAMES = new LinkedHashMap<>();
    /** Leaf 0x8000_0001 EDX bits, by name. */
    private static final Map<String, Integer> EXT_EDX_NAMES = new LinkedHashMap<>();

    static {
        String[] edx = {"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", null, null, "sep", "mtrr",
            "pge", "mca", "cmov", "pat", "pse36", "psn", "clfsh", null, "ds", "acpi", "mmx", "fxsr", "sse", "sse2",
            "ss", "htt", "tm", null, "pbe"};
        for (int i = 0; i < edx.length; i++) {
            if (edx[i] != null) {
                EDX_NAMES.put(edx[i], 1 << i);
            }
        }
        String[] ecx = {"sse3", "pclmulqdq", "dtes64", "monitor", "ds-cpl", "vmx", "smx", "est", "tm2", "ssse3",
            "cnxt-id", "sdbg", "fma", "cx16", "xtpr", "pdcm", null, "pcid", "dca", "sse4.1", "sse4.2", "x2apic",
            "movbe", "popcnt", "tsc-deadline", "aes", "xsave", "osxsave", "avx", "f16c", "rdrand", "hypervisor"};
        for (int i = 0; i < ecx.length; i++) {
            if (ecx[i] != null) {
                ECX_NAMES.put(ecx[i], 1 << i);
            }
        }
        EXT_EDX_NAMES.put("syscall", EXT_EDX_SYSCALL);
        EXT_EDX_NAMES.put("nx", EXT_EDX_NX);
        EXT_EDX_NAMES.put("lm", EXT_EDX_LM);
    }

    /** The leaf 1 EDX features every built-in model has: what the interpreter implements of the P6. */
    private static final int P6_CORE = EDX_FPU | EDX_PSE | EDX_TSC | EDX_MSR | EDX_PAE | EDX_CX8 | EDX_PGE | EDX_CMOV;

    /**
     * The default model: a P6-family GenuineIntel processor (family 6, model 3, stepping 3, the
     * Pentium II signature 0x633) with FPU, PSE, TSC, MSR, PAE, CX8, SEP, PGE, CMOV and FXSR: what the
     * interpreter implements. No VME, no APIC (added by {@link #withApic} when the VM has one), no
     * brand string (Linux names family 6 model 3 from its own table).
     */
    public static final CpuModel DEFAULT = new CpuModel("GenuineIntel", 6, 3, 3, "",
            P6_CORE | EDX_SEP | EDX_FXSR, 0, 0);

    /**
     * The built-in models by name. Each has the signature of the processor it is named after but
     * reports only features the interpreter implements: none has MMX, SSE, VME, DE, MCE, MCA, MTRR
     * or PAT, which the real processors have.
     */
    private static final Map<String, CpuModel> NAMED = new LinkedHashMap<>();

    static {
        NAMED.put("default", DEFAULT);
        // Pentium Pro (0x619): no FXSR; the SEP bit real ones set does not work (SDM Vol. 3B 8.7.2
        // of older editions; Linux clears it for signatures below 0x633), so it is not reported.
        NAMED.put("pentium-pro", new CpuModel("GenuineIntel", 6, 1, 9, "", P6_CORE, 0, 0));
        // Pentium II "Deschutes" (0x652): SYSENTER and FXSAVE.
        NAMED.put("pentium2", new CpuModel("GenuineIntel", 6, 5, 2, "", P6_CORE | EDX_SEP | EDX_FXSR, 0, 0));
        // Pentium III "Coppermine" (0x686) without its SSE.
        NAMED.put("pentium3", new CpuModel("GenuineIntel", 6, 8, 6, "", P6_CORE | EDX_SEP | EDX_FXSR, 0, 0));
    }

    /** @return the names of the built-in models, {@code default} first */
    public static List<String> names() {
        return List.copyOf(NAMED.keySet());
    }

    /**
     * Returns a built-in model.
     *
     * @param name e.g. {@code pentium2}; blank gives {@link #DEFAULT}
     * @return the model
     * @throws IllegalArgumentException naming the known models if there is none of that name
     */
    public static CpuModel named(String name) {
        if (name == null || name.isBlank()) {
            return DEFAULT;
        }
        CpuModel m = NAMED.get(name.strip().toLowerCase(Locale.ROOT));
        if (m == null) {
            throw new IllegalArgumentException("cpu model: unknown model '" + name.strip() + "' (known: "
                    + String.join(", ", NAMED.keySet()) + ")");
        }
        return m;
    }

    /** MSR: time-stamp counter. */
    public static final int MSR_TSC = 0x10;
    /** MSR: IA32_PLATFORM_ID (P6 family and later). */
    public static final int MSR_PLATFORM_ID = 0x17;
    /** MSR: IA32_APIC_BASE (owned by the interrupt controller when it is an APIC). */
    public static final int MSR_APIC_BASE = 0x1B;
    /** MSR: IA32_BIOS_SIGN_ID, the microcode revision (P6 family and later). */
    public static final int MSR_BIOS_SIGN_ID = 0x8B;
    /** MSR: IA32_BIOS_UPDT_TRIG, the microcode update trigger (write-only, P6 family and later). */
    public static final int MSR_BIOS_UPDT_TRIG = 0x79;
    /** MSR: IA32_SYSENTER_CS. */
    public static final int MSR_SYSENTER_CS = 0x174;
    /** MSR: IA32_SYSENTER_ESP. */
    public static final int MSR_SYSENTER_ESP = 0x175;
    /** MSR: IA32_SYSENTER_EIP. */
    public static final int MSR_SYSENTER_EIP = 0x176;

    private final String vendor;
    private final int family;
    private final int model;
    private final int stepping;
    private final String brand;
    private final int featuresEdx;
    private final int featuresEcx;
    private final int extFeaturesEdx;

    private CpuModel(String vendor, int family, int model, int stepping, String brand, int featuresEdx,
            int featuresEcx, int extFeaturesEdx) {
        byte[] v = vendor.getBytes(StandardCharsets.US_ASCII);
        if (v.length != 12 || !vendor.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7F)) {
            throw new IllegalArgumentException("vendor must be 12 printable ASCII characters: '" + vendor + "'");
        }
        if (family < 0 || family > 0xF + 0xFF) {
            throw new IllegalArgumentException("family " + family + " out of range 0..270");
        }
        if (model < 0 || model > 0xFF || model > 0xF && family != 6 && family < 0xF) {
            throw new IllegalArgumentException("model " + model + " out of range (above 15 only for family 6 or 15+)");
        }
        if (stepping < 0 || stepping > 0xF) {
            throw new IllegalArgumentException("stepping " + stepping + " out of range 0..15");
        }
        if (brand.length() > 47 || !brand.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7F && ch != ',')) {
            throw new IllegalArgumentException("brand must be at most 47 printable ASCII characters without commas: '"
                    + brand + "'");
        }
        this.vendor = vendor;
        this.family = family;
        this.model = model;
        this.stepping = stepping;
        this.brand = brand;
        this.featuresEdx = featuresEdx;
        this.featuresEcx = featuresEcx;
        this.extFeaturesEdx = extFeaturesEdx;
    }

    /**
     * Parses a model description (see the class comment); keys not given keep the default's value.
     *
     * @param spec e.g. {@code pentium2,stepping=3,features=+pse,-sep} or {@code family=6,model=15};
     *             null or blank gives {@link #DEFAULT}
     * @return the model
     * @throws IllegalArgumentException naming the offending model name, key or feature
     */
    public static CpuModel parse(String spec) {
        if (spec == null || spec.isBlank()) {
            return DEFAULT;
        }
        String[] parts = spec.split(",", -1);
        String first = parts[0].strip();
        CpuModel m = first.indexOf('=') < 0 ? named(first) : DEFAULT;
        if (first.indexOf('=') < 0 && parts.length == 1) {
            return m;
        }
        String vendor = m.vendor;
        int family = m.family;
        int model = m.model;
        int stepping = m.stepping;
        String brand = m.brand;
        int edx = m.featuresEdx;
        int ecx = m.featuresEcx;
        int ext = m.extFeaturesEdx;
        String key = null;
        for (int i = first.indexOf('=') < 0 ? 1 : 0; i < parts.length; i++) {
            String item = parts[i].strip();
            if (item.isEmpty()) {
                continue;
            }
            int eq = item.indexOf('=');
            String value;
            if (eq > 0) {
                key = item.substring(0, eq).strip().toLowerCase(Locale.ROOT);
                value = item.substring(eq + 1).strip();
            } else if ("features".equals(key)) {
                value = item; // a further edit of the features list
            } else {
                throw new IllegalArgumentException("cpu model: '" + item + "' is not key=value");
            }
            switch (key) {
                case "vendor" -> vendor = value;
                case "family" -> family = number(key, value);
                case "model" -> model = number(key, value);
                case "stepping" -> stepping = number(key, value);
                case "brand" -> brand = value;
                case "features" -> {
                    if (value.isEmpty()) {
                        continue;
                    }
                    boolean add = value.charAt(0) != '-';
                    String name = value.charAt(0) == '+' || value.charAt(0) == '-' ? value.substring(1) : value;
                    name = name.strip().toLowerCase(Locale.ROOT);
                    if (name.equals("apic")) {
                        throw new IllegalArgumentException("cpu model: the apic feature follows the VM's interrupt "
                                + "controller and cannot be configured");
                    }
                    Integer bit;
                    if ((bit = EDX_NAMES.get(name)) != null) {
                        edx = add ? edx | bit : edx & ~bit;
                    } else if ((bit = ECX_NAMES.get(name)) != null) {
                        ecx = add ? ecx | bit : ecx & ~bit;
                    } else if ((bit = EXT_EDX_NAMES.get(name)) != null) {
                        ext = add ? ext | bit : ext & ~bit;
                    } else {
                        throw new IllegalArgumentException("cpu model: unknown feature '" + name + "' (known: "
                                + String.join(" ", featureNames()) + ")");
                    }
                }
                default -> throw new IllegalArgumentException("cpu model: unknown key '" + key
                        + "' (known: vendor, family, model, stepping, brand, features)");
            }
        }
        return new CpuModel(vendor, family, model, stepping, brand, edx, ecx, ext);
    }

    private static int number(String key, String value) {
        try {
            return value.startsWith("0x") ? Integer.parseInt(value.substring(2), 16) : Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cpu model: " + key + " '" + value + "' is not a number");
        }
    }

    /** @return every feature name {@link #parse} knows, leaf 1 EDX, then ECX, then 0x8000_0001 EDX */
    public static List<String> featureNames() {
        List<String> names = new ArrayList<>(EDX_NAMES.keySet());
        names.addAll(ECX_NAMES.keySet());
        names.addAll(EXT_EDX_NAMES.keySet());
        return Collections.unmodifiableList(names);
    }

    /**
     * Returns this model with the APIC feature bit set or cleared: set exactly when the VM's
     * interrupt controller provides a local APIC for the vCPU.
     *
     * @param apic whether the vCPU has a local APIC
     * @return the model
     */
    public CpuModel withApic(boolean apic) {
        int edx = apic ? featuresEdx | EDX_APIC : featuresEdx & ~EDX_APIC;
        return edx == featuresEdx ? this
                : new CpuModel(vendor, family, model, stepping, brand, edx, featuresEcx, extFeaturesEdx);
    }

    /**
     * Lists the features this model reports that {@code implemented} does not: an engine whose
     * capabilities are {@code implemented} must refuse the model unless the list is empty.
     *
     * @param implemented a model whose feature bits are everything the engine implements
     * @return the feature names, empty if the engine can run this model
     */
    public List<String> unsupported(CpuModel implemented) {
        List<String> out = new ArrayList<>();
        collect(out, EDX_NAMES, featuresEdx & ~EDX_APIC & ~implemented.featuresEdx);
        collect(out, ECX_NAMES, featuresEcx & ~implemented.featuresEcx);
        collect(out, EXT_EDX_NAMES, extFeaturesEdx & ~implemented.extFeaturesEdx);
        return out;
    }

    private static void collect(List<String> out, Map<String, Integer> names, int bits) {
        names.forEach((n, b) -> {
            if ((bits & b) != 0) {
                out.add(n);
            }
        });
    }

    /** @return the 12-character vendor string, e.g. GenuineIntel */
    public String vendor() {
        return vendor;
    }

    /** @return the family (0x0F + extended family above 15) */
    public int family() {
        return family;
    }

    /** @return the model (with the extended model above 15) */
    public int model() {
        return model;
    }

    /** @return the stepping */
    public int stepping() {
        return stepping;
    }

    /** @return the brand string, empty when the model has none */
    public String brand() {
        return brand;
    }

    /** @return leaf 1 EDX */
    public int featuresEdx() {
        return featuresEdx;
    }

    /** @return leaf 1 ECX */
    public int featuresEcx() {
        return featuresEcx;
    }

    /** @return leaf 0x8000_0001 EDX */
    public int extFeaturesEdx() {
        return extFeaturesEdx;
    }

    /**
     * @param edxBit a leaf 1 EDX bit, e.g. {@link #EDX_SEP}
     * @return whether the model reports it
     */
    public boolean has(int edxBit) {
        return (featuresEdx & edxBit) == edxBit;
    }

    /**
     * The processor signature: leaf 1 EAX, and EDX after reset (SDM Vol. 2A, Figure 3-6).
     *
     * @return stepping | model | family | extended model | extended family
     */
    public int signature() {
        int fam = Math.min(family, 0xF);
        int extFam = family > 0xF ? family - 0xF : 0;
        return stepping | (model & 0xF) << 4 | fam << 8 | (model >>> 4) << 16 | extFam << 20;
    }

    /**
     * Answers CPUID. Basic leaves above the highest return the highest basic leaf (as Intel
     * processors do); unknown extended leaves return zeros.
     *
     * @param leaf   EAX
     * @param apicId the initial APIC ID of the vCPU (leaf 1 EBX bits 31:24)
     * @return EAX, EBX, ECX, EDX
     */
    public int[] cpuid(int leaf, int apicId) {
        int maxExt = brand.isEmpty() ? (extFeaturesEdx != 0 ? 0x8000_0001 : 0) : 0x8000_0004;
        if (Integer.compareUnsigned(leaf, 0x8000_0000) >= 0) {
            if (leaf == 0x8000_0000) {
                return new int[] {maxExt, 0, 0, 0};
            }
            if (Integer.compareUnsigned(leaf, maxExt) > 0) {
                return new int[4];
            }
            if (leaf == 0x8000_0001) {
                return new int[] {0, 0, 0, extFeaturesEdx};
            }
            byte[] b = new byte[48];
            byte[] text = brand.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(text, 0, b, 0, text.length);
            int at = (leaf - 0x8000_0002) * 16;
            int[] r = new int[4];
            for (int i = 0; i < 4; i++) {
                r[i] = (b[at + 4 * i] & 0xFF) | (b[at + 4 * i + 1] & 0xFF) << 8 | (b[at + 4 * i + 2] & 0xFF) << 16
                        | (b[at + 4 * i + 3] & 0xFF) << 24;
            }
            return r;
        }
        if (leaf == 0) {
            byte[] v = vendor.getBytes(StandardCharsets.US_ASCII);
            return new int[] {1, dword(v, 0), dword(v, 8), dword(v, 4)};
        }
        // Leaf 1 (and any basic leaf above it). EBX: initial APIC ID; CLFLUSH line size 8 * 8 bytes if reported.
        int ebx = apicId << 24 | ((featuresEdx & EDX_CLFSH) != 0 ? 8 << 8 : 0);
        return new int[] {signature(), ebx, featuresEcx, featuresEdx};
    }

    private static int dword(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    /**
     * The writable model-specific registers the model implies, with their reset values
     * (SDM Vol. 4, Table 2-2): the SYSENTER MSRs with SEP. They travel in the exported CPU state,
     * so every engine must accept them: the identification MSRs ({@link #identificationMsrs}) are not
     * listed. The TSC (0x10) and the APIC's MSRs are not listed either: the engine keeps the first,
     * the interrupt controller the others.
     *
     * @return MSR index to reset value
     */
    public SortedMap<Integer, Long> initialMsrs() {
        SortedMap<Integer, Long> m = new TreeMap<>();
        if (has(EDX_SEP)) {
            m.put(MSR_SYSENTER_CS, 0L);
            m.put(MSR_SYSENTER_ESP, 0L);
            m.put(MSR_SYSENTER_EIP, 0L);
        }
        return m;
    }

    /**
     * The identification MSRs of the model, with what RDMSR returns (SDM Vol. 4, Table 2-2): on
     * the P6 family and later IA32_PLATFORM_ID (platform id 0, i.e. Linux's "pf=0x1") and
     * IA32_BIOS_SIGN_ID (microcode revision 0 in bits 63:32). They are not architectural state: an
     * engine answers them from the model. WRMSR to IA32_PLATFORM_ID raises #GP (read-only); see
     * {@link #ignoresWrite} for the others.
     *
     * @return MSR index to value, empty before the P6 family
     */
    public SortedMap<Integer, Long> identificationMsrs() {
        SortedMap<Integer, Long> m = new TreeMap<>();
        if (family >= 6 && has(EDX_MSR)) {
            m.put(MSR_PLATFORM_ID, 0L);
            m.put(MSR_BIOS_SIGN_ID, 0L);
        }
        return m;
    }

    /**
     * Tells whether WRMSR to an MSR succeeds without changing anything: IA32_BIOS_SIGN_ID (software
     * writes 0 there before CPUID to read the microcode revision; ours stays 0) and the write-only
     * IA32_BIOS_UPDT_TRIG (a microcode update that never applies, so the revision stays 0; RDMSR of
     * it raises #GP), on the P6 family and later.
     *
     * @param msr the MSR index
     * @return whether the write is accepted and ignored
     */
    public boolean ignoresWrite(int msr) {
        return family >= 6 && has(EDX_MSR) && (msr == MSR_BIOS_SIGN_ID || msr == MSR_BIOS_UPDT_TRIG);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CpuModel m && vendor.equals(m.vendor) && family == m.family && model == m.model
                && stepping == m.stepping && brand.equals(m.brand) && featuresEdx == m.featuresEdx
                && featuresEcx == m.featuresEcx && extFeaturesEdx == m.extFeaturesEdx;
    }

    @Override
    public int hashCode() {
        return Objects.hash(vendor, family, model, stepping, brand, featuresEdx, featuresEcx, extFeaturesEdx);
    }

    /**
     * @return the model in {@link #parse} syntax (features as edits of the default), which parses back
     *         to an equal model; the APIC bit is not written (see {@link #withApic})
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("vendor=").append(vendor).append(",family=").append(family)
                .append(",model=").append(model).append(",stepping=").append(stepping);
        if (!brand.isEmpty()) {
            sb.append(",brand=").append(brand);
        }
        sb.append(",features=");
        List<String> on = new ArrayList<>();
        collect(on, EDX_NAMES, featuresEdx & ~EDX_APIC);
        collect(on, ECX_NAMES, featuresEcx);
        collect(on, EXT_EDX_NAMES, extFeaturesEdx);
        List<String> off = new ArrayList<>();
        collect(off, EDX_NAMES, DEFAULT.featuresEdx & ~featuresEdx);
        sb.append(String.join(",", on.stream().map(n -> "+" + n).toList()));
        for (String n : off) {
            sb.append(",-").append(n);
        }
        return sb.toString();
    }
}
