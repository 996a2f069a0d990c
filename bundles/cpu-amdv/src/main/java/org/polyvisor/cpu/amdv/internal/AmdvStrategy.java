package org.polyvisor.cpu.amdv.internal;

import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.kvm.KvmStrategySupport;
import org.polyvisor.kvm.HostInfo;

/**
 * The {@code amd-v} strategy: AMD-V through KVM (kvm_amd): guest code runs in SVM guest mode. Registered on every host; {@link #availability()}
 * says why it cannot run where it cannot (vendor, missing flag, missing or different KVM module).
 */
@Component(service = CpuStrategy.class, property = "polyvisor.name=amd-v")
public final class AmdvStrategy extends KvmStrategySupport {

    /** Creates the strategy (probing happens on first use). */
    public AmdvStrategy() {
        super(HostInfo.Technique.AMDV);
    }

    @Activate
    @Modified
    void activate(Map<String, Object> properties) {
        configure(properties);
    }

    @Override
    public String description() {
        return "AMD-V (SVM) through KVM (kvm_amd): guest code runs in SVM guest mode";
    }
}
