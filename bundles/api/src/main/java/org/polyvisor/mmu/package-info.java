/**
 * MMU strategies: how guest-linear addresses become guest-physical ones for the software engines.
 *
 * <p>0.2.0: {@link org.polyvisor.mmu.Mmu#translate} returns a packed {@link org.polyvisor.mmu.Translation}
 * (address and TLB-fill permissions) instead of a bare address and is called with paging off too;
 * {@code flush(vcpu, includeGlobal)} became {@link org.polyvisor.mmu.Mmu#pagingChanged}; added
 * {@link org.polyvisor.mmu.Mmu#tlbEpoch}, {@link org.polyvisor.mmu.DirtyPageLog} and
 * {@link org.polyvisor.mmu.DescriptorTableTrace}.
 * <p>0.3.0: {@link org.polyvisor.mmu.MmuContext#options()} (per-VM strategy options, such as a
 * memory cap).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.3.0")
package org.polyvisor.mmu;
