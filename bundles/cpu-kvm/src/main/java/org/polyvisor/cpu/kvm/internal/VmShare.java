package org.polyvisor.cpu.kvm.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.kvm.CpuidEntry;
import org.polyvisor.kvm.Kvm;
import org.polyvisor.kvm.KvmException;
import org.polyvisor.kvm.VcpuFd;
import org.polyvisor.kvm.VmFd;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;

/**
 * The KVM VM behind the engines of one Polyvisor VM: engines are made per vCPU, but a KVM VM holds
 * the memory slots and all vCPUs, so the engines of one strategy instance on one guest memory share
 * one. A second engine for a vCPU id already taken (a swap from {@code kvm} to {@code kvm}, during
 * which old and new engines exist together) gets a VM of its own. The last engine to close closes
 * the VM, and with it the slots that map guest RAM.
 */
final class VmShare {

    /** Where KVM may put its real-mode TSS (three pages) if nothing else is there. */
    private static final long[] TSS_CANDIDATES = {0xFEFF_D000L, 0xFFFB_D000L, 0xE000_0000L};

    private static final Map<Object, List<VmShare>> SHARES = new IdentityHashMap<>();

    private final Object owner;
    private final GuestMemory memory;
    final Kvm kvm;
    final VmFd vm;
    final List<CpuidEntry> cpuid;
    final int[] msrIndex;
    final boolean readonlyRom;
    final boolean xsave;
    private final Set<Integer> ids = new HashSet<>();

    private VmShare(Object owner, GuestMemory memory) {
        this.owner = owner;
        this.memory = memory;
        Kvm k = Kvm.open();
        try {
            this.cpuid = k.supportedCpuid();
            this.msrIndex = k.msrIndexList();
            this.xsave = k.checkExtension(Kvm.CAP_XSAVE) > 0;
            this.vm = k.createVm();
        } catch (RuntimeException e) {
            k.close();
            throw e;
        }
        this.kvm = k;
        try {
            this.readonlyRom = vm.checkExtension(Kvm.CAP_READONLY_MEM) > 0;
            int slot = 0;
            for (MemoryRegion r : memory.regions()) {
                int flags = r.kind() == MemoryRegion.Kind.ROM && readonlyRom ? VmFd.MEM_READONLY : 0;
                vm.setUserMemoryRegion(slot++, flags, r.guestBase(), r.backing());
            }
            if (kvm.checkExtension(Kvm.CAP_SET_TSS_ADDR) > 0) {
                for (long tss : TSS_CANDIDATES) {
                    if (free(memory, tss, 3 * MemoryRegion.PAGE_SIZE)) {
                        vm.setTssAddr(tss);
                        break;
                    }
                }
            }
        } catch (RuntimeException e) {
            vm.close();
            kvm.close();
            throw e;
        }
    }

    private static boolean free(GuestMemory memory, long base, long length) {
        for (MemoryRegion r : memory.regions()) {
            if (base < r.end() && r.guestBase() < base + length) {
                return false;
            }
        }
        return true;
    }

    /**
     * Creates a vCPU in the share of {@code owner} for the context's memory.
     *
     * @param owner   the strategy instance
     * @param context the vCPU's context
     * @return the share and the vCPU
     */
    static synchronized Lease lease(Object owner, VcpuContext context) {
        List<VmShare> list = SHARES.computeIfAbsent(owner, o -> new ArrayList<>());
        int id = context.vcpuId();
        VmShare share = null;
        for (VmShare s : list) {
            if (s.memory == context.memory() && !s.ids.contains(id)) {
                share = s;
                break;
            }
        }
        boolean fresh = share == null;
        if (fresh) {
            share = new VmShare(owner, context.memory());
        }
        VcpuFd vcpu;
        try {
            vcpu = share.vm.createVcpu(id);
        } catch (KvmException e) {
            if (fresh) {
                share.vm.close();
                share.kvm.close();
            }
            throw e;
        }
        if (fresh) {
            list.add(share);
        }
        share.ids.add(id);
        return new Lease(share, vcpu);
    }

    /** A vCPU of a share; closing it releases the share's VM when it was the last. */
    static final class Lease implements AutoCloseable {
        final VmShare share;
        final VcpuFd vcpu;
        private boolean closed;

        Lease(VmShare share, VcpuFd vcpu) {
            this.share = share;
            this.vcpu = vcpu;
        }

        @Override
        public void close() {
            synchronized (VmShare.class) {
                if (closed) {
                    return;
                }
                closed = true;
                vcpu.close();
                share.ids.remove(vcpu.id());
                if (share.ids.isEmpty()) {
                    List<VmShare> list = SHARES.get(share.owner);
                    if (list != null) {
                        list.remove(share);
                        if (list.isEmpty()) {
                            SHARES.remove(share.owner);
                        }
                    }
                    share.vm.close();
                    share.kvm.close();
                }
            }
        }
    }

    /** @return how many KVM VMs are open through shares (for tests) */
    static synchronized int openVms() {
        return SHARES.values().stream().mapToInt(List::size).sum();
    }
}
