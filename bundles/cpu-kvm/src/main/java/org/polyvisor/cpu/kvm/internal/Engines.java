package org.polyvisor.cpu.kvm.internal;

import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.kvm.KvmException;

/** Makes KVM engines (the entry the exported support class uses). */
public final class Engines {

    private Engines() {
    }

    /**
     * Creates an engine for one vCPU, sharing the KVM VM with the other vCPUs of the same guest
     * memory made by the same owner.
     *
     * @param owner   the strategy instance
     * @param context the vCPU's context
     * @return the engine
     * @throws IllegalStateException naming KVM's reason if it fails
     */
    public static CpuEngine create(Object owner, VcpuContext context) {
        VmShare.Lease lease;
        try {
            lease = VmShare.lease(owner, context);
        } catch (KvmException e) {
            throw new IllegalStateException("kvm: " + e.getMessage(), e);
        }
        try {
            return new KvmEngine(context, lease);
        } catch (RuntimeException e) {
            lease.close();
            if (e instanceof KvmException) {
                throw new IllegalStateException("kvm: " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /** @return open KVM VMs made through engines (tests) */
    public static int openVms() {
        return VmShare.openVms();
    }
}
