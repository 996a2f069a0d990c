/* Prints the KVM ioctl numbers and structure offsets from <linux/kvm.h> that org.polyvisor.kvm.internal.KvmAbi
 * and the kvm bundle's Structs hard-code, to compare:  gcc -o /tmp/abi bench/kvm/abi-check.c && /tmp/abi */
#include <linux/kvm.h>
#include <stdio.h>
#include <stddef.h>
#define P(x) printf("%-32s 0x%lx\n", #x, (unsigned long)(x))
#define O(s,f) printf("%-32s %zu\n", #s "." #f, offsetof(struct s,f))
#define S(s) printf("sizeof %-25s %zu\n", #s, sizeof(struct s))
int main(){
P(KVM_GET_API_VERSION);P(KVM_CREATE_VM);P(KVM_CHECK_EXTENSION);P(KVM_GET_VCPU_MMAP_SIZE);P(KVM_GET_SUPPORTED_CPUID);P(KVM_GET_MSR_INDEX_LIST);
P(KVM_CREATE_VCPU);P(KVM_GET_DIRTY_LOG);P(KVM_SET_USER_MEMORY_REGION);P(KVM_SET_TSS_ADDR);P(KVM_SET_IDENTITY_MAP_ADDR);P(KVM_CREATE_IRQCHIP);P(KVM_IRQ_LINE);P(KVM_CREATE_PIT2);
P(KVM_RUN);P(KVM_GET_REGS);P(KVM_SET_REGS);P(KVM_GET_SREGS);P(KVM_SET_SREGS);P(KVM_INTERRUPT);P(KVM_GET_MSRS);P(KVM_SET_MSRS);P(KVM_SET_SIGNAL_MASK);
P(KVM_GET_FPU);P(KVM_SET_FPU);P(KVM_GET_LAPIC);P(KVM_SET_LAPIC);P(KVM_SET_CPUID2);P(KVM_GET_CPUID2);P(KVM_NMI);P(KVM_GET_MP_STATE);P(KVM_SET_MP_STATE);
P(KVM_GET_VCPU_EVENTS);P(KVM_SET_VCPU_EVENTS);P(KVM_GET_DEBUGREGS);P(KVM_SET_DEBUGREGS);P(KVM_GET_XSAVE);P(KVM_SET_XSAVE);P(KVM_ENABLE_CAP);P(KVM_CLEAR_DIRTY_LOG);P(KVM_GET_TSC_KHZ);
P(KVM_CAP_IRQCHIP);P(KVM_CAP_HLT);P(KVM_CAP_USER_MEMORY);P(KVM_CAP_SET_TSS_ADDR);P(KVM_CAP_EXT_CPUID);P(KVM_CAP_NR_VCPUS);P(KVM_CAP_NR_MEMSLOTS);P(KVM_CAP_VCPU_EVENTS);P(KVM_CAP_DEBUGREGS);P(KVM_CAP_XSAVE);P(KVM_CAP_READONLY_MEM);P(KVM_CAP_IMMEDIATE_EXIT);P(KVM_CAP_MAX_VCPUS);P(KVM_CAP_SYNC_MMU);P(KVM_CAP_MP_STATE);P(KVM_CAP_SET_IDENTITY_MAP_ADDR);P(KVM_CAP_ADJUST_CLOCK);P(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);P(KVM_CAP_X86_ROBUST_SINGLESTEP);P(KVM_CAP_TSC_CONTROL);P(KVM_CAP_GET_TSC_KHZ);P(KVM_CAP_PIT2);P(KVM_CAP_IOEVENTFD);
S(kvm_run);O(kvm_run,exit_reason);O(kvm_run,ready_for_interrupt_injection);O(kvm_run,if_flag);O(kvm_run,flags);O(kvm_run,cr8);O(kvm_run,apic_base);O(kvm_run,io);O(kvm_run,mmio);O(kvm_run,kvm_valid_regs);O(kvm_run,s);
O(kvm_run,io.direction);O(kvm_run,io.size);O(kvm_run,io.port);O(kvm_run,io.count);O(kvm_run,io.data_offset);O(kvm_run,mmio.phys_addr);O(kvm_run,mmio.data);O(kvm_run,mmio.len);O(kvm_run,mmio.is_write);
O(kvm_run,internal.suberror);O(kvm_run,internal.ndata);O(kvm_run,internal.data);O(kvm_run,fail_entry.hardware_entry_failure_reason);O(kvm_run,fail_entry.cpu);O(kvm_run,hypercall.nr);O(kvm_run,hypercall.args);O(kvm_run,hypercall.ret);O(kvm_run,ex.exception);O(kvm_run,ex.error_code);O(kvm_run,system_event.type);O(kvm_run,system_event.ndata);O(kvm_run,system_event.data);O(kvm_run,hw.hardware_exit_reason);O(kvm_run,debug.arch);
S(kvm_regs);S(kvm_sregs);S(kvm_segment);S(kvm_dtable);O(kvm_sregs,gdt);O(kvm_sregs,cr0);O(kvm_sregs,apic_base);O(kvm_sregs,interrupt_bitmap);
O(kvm_segment,limit);O(kvm_segment,selector);O(kvm_segment,type);O(kvm_segment,present);O(kvm_segment,dpl);O(kvm_segment,db);O(kvm_segment,s);O(kvm_segment,l);O(kvm_segment,g);O(kvm_segment,avl);O(kvm_segment,unusable);
S(kvm_fpu);O(kvm_fpu,fcw);O(kvm_fpu,fsw);O(kvm_fpu,ftwx);O(kvm_fpu,last_opcode);O(kvm_fpu,last_ip);O(kvm_fpu,last_dp);O(kvm_fpu,xmm);O(kvm_fpu,mxcsr);
S(kvm_vcpu_events);O(kvm_vcpu_events,interrupt);O(kvm_vcpu_events,nmi);O(kvm_vcpu_events,sipi_vector);O(kvm_vcpu_events,flags);O(kvm_vcpu_events,smi);O(kvm_vcpu_events,exception_has_payload);O(kvm_vcpu_events,exception_payload);
S(kvm_debugregs);O(kvm_debugregs,dr6);O(kvm_debugregs,dr7);O(kvm_debugregs,flags);S(kvm_msrs);S(kvm_msr_entry);S(kvm_cpuid2);S(kvm_cpuid_entry2);O(kvm_cpuid_entry2,eax);O(kvm_cpuid_entry2,flags);
S(kvm_userspace_memory_region);S(kvm_dirty_log);S(kvm_irq_level);S(kvm_lapic_state);S(kvm_mp_state);S(kvm_xsave);S(kvm_enable_cap);S(kvm_clear_dirty_log);
P(KVM_VCPUEVENT_VALID_NMI_PENDING);P(KVM_VCPUEVENT_VALID_SHADOW);P(KVM_X86_SHADOW_INT_MOV_SS);P(KVM_X86_SHADOW_INT_STI);P(KVM_MEM_READONLY);P(KVM_MEM_LOG_DIRTY_PAGES);
P(KVM_EXIT_INTERNAL_ERROR);P(KVM_EXIT_SYSTEM_EVENT);P(KVM_EXIT_X86_BUS_LOCK);P(KVM_EXIT_NOTIFY);
}
