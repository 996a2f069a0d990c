/**
 * VM management: defining, starting, pausing, swapping parts of and observing virtual machines.
 *
 * <p>0.2.0: {@link org.polyvisor.vm.VmConfig} carries part options ({@code mmu.shadow.max-pages}, ...);
 * {@link org.polyvisor.vm.Vm#dirtyLog()}; the CPU model a VM's guest sees ({@link org.polyvisor.vm.VmConfig#cpuModel()});
 * {@link org.polyvisor.vm.VmConfig#withIrqchip}.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.vm;
