/**
 * Linux KVM for Polyvisor: {@link org.polyvisor.kvm.Kvm} (the {@code /dev/kvm} system handle) makes
 * {@link org.polyvisor.kvm.VmFd}s, which make {@link org.polyvisor.kvm.VcpuFd}s, as the kernel's
 * objects nest; a vCPU's run returns one {@link org.polyvisor.kvm.KvmExit} record per
 * {@code KVM_EXIT_*} reason; registers travel as plain records mirroring the kernel structures.
 * {@link org.polyvisor.kvm.HostProbe} tells what the host offers (CPU vendor and virtualization
 * flags, the module backing {@code /dev/kvm}, its parameters) from a configurable root.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.kvm;
