package org.polyvisor.cpu.kvm.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.kvm.KvmStrategySupport;
import org.polyvisor.kvm.HostInfo;

/**
 * The generic {@code kvm} strategy: any working {@code /dev/kvm}, whatever backs it (kvm_intel,
 * kvm_amd, or a software-based backend such as kvm_pvm).
 */
@Component(service = CpuStrategy.class, property = "polyvisor.name=kvm")
public final class KvmStrategy extends KvmStrategySupport {

    /** Creates the strategy (probing happens on first use). */
    public KvmStrategy() {
        super(HostInfo.Technique.KVM);
    }

    @Activate
    @Modified
    void activate(Map<String, Object> properties) {
        configure(properties);
    }

    @Override
    public String description() {
        return "hardware-assisted through any working /dev/kvm: guest code runs on the host CPU";
    }
}
