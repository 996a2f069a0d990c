package org.polyvisor.kvm;

/**
 * One CPUID leaf ({@code struct kvm_cpuid_entry2}).
 *
 * @param function EAX input
 * @param index    ECX input (for indexed leaves)
 * @param flags    KVM_CPUID_FLAG_* (1 = significant index)
 * @param eax      EAX output
 * @param ebx      EBX output
 * @param ecx      ECX output
 * @param edx      EDX output
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
}
