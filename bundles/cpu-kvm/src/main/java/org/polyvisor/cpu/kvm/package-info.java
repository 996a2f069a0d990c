/**
 * Support for CPU strategies that run guest code through Linux KVM: {@link org.polyvisor.cpu.kvm.KvmStrategySupport}
 * probes the host for one technique (generic KVM, VT-x, AMD-V, VIA VT), reports why it cannot run
 * where it cannot, refuses MMU strategies that do not match the host's KVM paging, and makes the
 * engines.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.cpu.kvm;
