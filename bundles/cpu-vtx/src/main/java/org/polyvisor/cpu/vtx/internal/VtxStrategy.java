package org.polyvisor.cpu.vtx.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.kvm.KvmStrategySupport;
import org.polyvisor.kvm.HostInfo;

/**
 * The {@code vt-x} strategy: Intel VT-x through KVM (kvm_intel): guest code runs in VMX non-root mode. Registered on every host; {@link #availability()}
 * says why it cannot run where it cannot (vendor, missing flag, missing or different KVM module).
 */
@Component(service = CpuStrategy.class, property = "polyvisor.name=vt-x")
public final class VtxStrategy extends KvmStrategySupport {

    /** Creates the strategy (probing happens on first use). */
    public VtxStrategy() {
        super(HostInfo.Technique.VTX);
    }

    @Activate
    @Modified
    void activate(Map<String, Object> properties) {
        configure(properties);
    }

    @Override
    public String description() {
        return "Intel VT-x through KVM (kvm_intel): guest code runs in VMX non-root mode";
    }
}
