package org.polyvisor.cpu.viavt.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.kvm.KvmStrategySupport;
import org.polyvisor.kvm.HostInfo;

/**
 * The {@code via-vt} strategy: VIA VT through KVM (kvm_intel) on VIA/Centaur or Zhaoxin CPUs: guest code runs in VMX non-root mode. Registered on every host; {@link #availability()}
 * says why it cannot run where it cannot (vendor, missing flag, missing or different KVM module).
 */
@Component(service = CpuStrategy.class, property = "polyvisor.name=via-vt")
public final class ViavtStrategy extends KvmStrategySupport {

    /** Creates the strategy (probing happens on first use). */
    public ViavtStrategy() {
        super(HostInfo.Technique.VIAVT);
    }

    @Activate
    @Modified
    void activate(Map<String, Object> properties) {
        configure(properties);
    }

    @Override
    public String description() {
        return "VIA VT (VMX on VIA/Centaur and Zhaoxin CPUs) through KVM (kvm_intel)";
    }
}
