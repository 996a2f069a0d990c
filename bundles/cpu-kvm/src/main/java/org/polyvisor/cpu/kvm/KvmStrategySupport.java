package org.polyvisor.cpu.kvm;

import java.nio.file.Path;
import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.cpu.kvm.internal.Engines;
import org.polyvisor.kvm.HostInfo;
import org.polyvisor.kvm.HostProbe;
import org.polyvisor.part.Availability;
import org.polyvisor.time.ClockMode;

/**
 * What every KVM-based CPU strategy shares: the host probe and its verdict for one technique
 * ({@code kvm}, {@code vt-x}, {@code amd-v}, {@code via-vt}), the refusal of software MMU strategies
 * that do not match the host's KVM paging, and the engine. A vendor strategy is a DS component
 * extending this class with its technique; it is registered everywhere and reports, through
 * {@link #availability()}, exactly why it cannot run where it cannot.
 *
 * <p>The probe reads below a root directory, {@code /} by default, changed by the component
 * property {@value #HOST_ROOT_PROPERTY} (for tests and for hosts that expose /proc and /sys
 * elsewhere); its result is cached.
 */
@ConsumerType
public abstract class KvmStrategySupport implements CpuStrategy {

    /** Component property naming the probe's root directory. */
    public static final String HOST_ROOT_PROPERTY = "host.root";

    private final HostInfo.Technique technique;
    private volatile Path root = Path.of("/");
    private volatile HostInfo host;

    /**
     * Creates the strategy.
     *
     * @param technique what it needs from the host
     */
    protected KvmStrategySupport(HostInfo.Technique technique) {
        this.technique = technique;
    }

    /**
     * Applies component properties (the subclass calls it from its {@code @Activate}; tests may too).
     *
     * @param properties the component's properties
     */
    public void configure(Map<String, ?> properties) {
        Object r = properties == null ? null : properties.get(HOST_ROOT_PROPERTY);
        root = Path.of(r == null || r.toString().isBlank() ? "/" : r.toString());
        host = null;
    }

    /**
     * Returns what the probe found (probing once).
     *
     * @return the host
     */
    public HostInfo host() {
        HostInfo h = host;
        if (h == null) {
            h = HostProbe.probe(root);
            host = h;
        }
        return h;
    }

    @Override
    public String name() {
        return technique.strategy();
    }

    @Override
    public Availability availability() {
        HostInfo.Verdict v = host().verdict(technique);
        return v.available() ? Availability.yes(v.reason()) : Availability.no(v.reason());
    }

    /**
     * The host feature naming what translates guest memory while this strategy runs the guest
     * ({@code vm:info} shows it as the MMU in use); present only where the strategy can run.
     */
    public static final String GUEST_MMU_FEATURE = "guest-mmu";

    @Override
    public Map<String, String> hostFeatures() {
        HostInfo h = host();
        Map<String, String> f = new java.util.LinkedHashMap<>(h.features());
        if (h.verdict(technique).available()) {
            String module = h.backingModule();
            f.put(GUEST_MMU_FEATURE, "the host's KVM (" + (module.isEmpty() ? "unknown module" : module) + "), with "
                    + switch (h.paging()) {
                        case EPT -> "EPT (slat)";
                        case NPT -> "NPT (slat)";
                        case SHADOW -> "shadow paging";
                    });
        }
        return f;
    }

    /**
     * A KVM engine's memory is translated by the host's KVM: with SLAT (EPT/NPT) where the module
     * uses it, with shadow page tables otherwise. A VM may name the matching software strategy
     * ({@code slat} or {@code shadow}) or none; anything else is refused with the reason.
     */
    @Override
    public Availability compatibleWith(String mmu) {
        if (mmu == null || mmu.isEmpty()) {
            return Availability.yes();
        }
        HostInfo.Paging paging = host().paging();
        String hostMmu = paging == HostInfo.Paging.SHADOW ? "shadow" : "slat";
        String how = switch (paging) {
            case EPT -> "EPT (slat)";
            case NPT -> "NPT (slat)";
            case SHADOW -> "shadow paging (" + host().backingModule() + " has no SLAT here)";
        };
        if (mmu.equals(hostMmu)) {
            return Availability.yes("the host's KVM uses " + how);
        }
        return Availability.no(name() + ": the MMU is the host's KVM, which uses " + how + "; mmu '" + mmu
                + "' cannot be used with it (use mmu=" + hostMmu + " or none)");
    }

    /**
     * Creates an engine on the host's KVM.
     *
     * @throws IllegalStateException if the host cannot run it, or the VM uses the deterministic
     *                               clock (KVM cannot count instructions)
     */
    @Override
    public CpuEngine createEngine(VcpuContext context) {
        Availability a = availability();
        if (!a.available()) {
            throw new IllegalStateException(a.reason());
        }
        if (context.clock().mode() == ClockMode.DETERMINISTIC) {
            throw new IllegalStateException(name() + ": KVM runs guest code on the CPU and cannot count instructions,"
                    + " so it cannot drive the deterministic clock; use clock=realtime");
        }
        return Engines.create(this, context);
    }

    /**
     * Tells which software MMU name matches the host's KVM.
     *
     * @return {@code shadow} or {@code slat}
     */
    public String hostMmu() {
        return host().paging() == HostInfo.Paging.SHADOW ? "shadow" : "slat";
    }

    /**
     * Returns the probe root in use.
     *
     * @return the root
     */
    public Path hostRoot() {
        return root;
    }
}
