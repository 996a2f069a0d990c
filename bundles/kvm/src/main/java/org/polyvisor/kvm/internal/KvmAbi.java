package org.polyvisor.kvm.internal;

/**
 * The KVM ABI as the kernel's {@code <linux/kvm.h>} defines it for x86_64: ioctl numbers
 * ({@code _IO}/{@code _IOR}/{@code _IOW}/{@code _IOWR} of type 0xAE) and structure offsets. Checked
 * against the header with {@code bench/kvm/abi-check.c}, which prints the same numbers from
 * {@code <linux/kvm.h>}.
 */
public final class KvmAbi {

    private KvmAbi() {
    }

    /** The only stable KVM API version (Documentation/virt/kvm/api.rst, 4.1). */
    public static final int API_VERSION = 12;

    // ---- system ioctls (on /dev/kvm) ----
    /** _IO(0xAE, 0x00). */
    public static final long KVM_GET_API_VERSION = 0xAE00L;
    /** _IO(0xAE, 0x01). */
    public static final long KVM_CREATE_VM = 0xAE01L;
    /** _IOWR(0xAE, 0x02, struct kvm_msr_list). */
    public static final long KVM_GET_MSR_INDEX_LIST = 0xC004AE02L;
    /** _IO(0xAE, 0x03); also on VM descriptors. */
    public static final long KVM_CHECK_EXTENSION = 0xAE03L;
    /** _IO(0xAE, 0x04). */
    public static final long KVM_GET_VCPU_MMAP_SIZE = 0xAE04L;
    /** _IOWR(0xAE, 0x05, struct kvm_cpuid2). */
    public static final long KVM_GET_SUPPORTED_CPUID = 0xC008AE05L;

    // ---- VM ioctls ----
    /** _IO(0xAE, 0x41). */
    public static final long KVM_CREATE_VCPU = 0xAE41L;
    /** _IOW(0xAE, 0x42, struct kvm_dirty_log). */
    public static final long KVM_GET_DIRTY_LOG = 0x4010AE42L;
    /** _IOW(0xAE, 0x46, struct kvm_userspace_memory_region). */
    public static final long KVM_SET_USER_MEMORY_REGION = 0x4020AE46L;
    /** _IO(0xAE, 0x47). */
    public static final long KVM_SET_TSS_ADDR = 0xAE47L;
    /** _IOW(0xAE, 0x48, __u64). */
    public static final long KVM_SET_IDENTITY_MAP_ADDR = 0x4008AE48L;
    /** _IO(0xAE, 0x60). */
    public static final long KVM_CREATE_IRQCHIP = 0xAE60L;
    /** _IOW(0xAE, 0x61, struct kvm_irq_level). */
    public static final long KVM_IRQ_LINE = 0x4008AE61L;
    /** _IOWR(0xAE, 0xC0, struct kvm_clear_dirty_log). */
    public static final long KVM_CLEAR_DIRTY_LOG = 0xC018AEC0L;
    /** _IOW(0xAE, 0xA3, struct kvm_enable_cap). */
    public static final long KVM_ENABLE_CAP = 0x4068AEA3L;

    // ---- vCPU ioctls ----
    /** _IO(0xAE, 0x80). */
    public static final long KVM_RUN = 0xAE80L;
    /** _IOR(0xAE, 0x81, struct kvm_regs). */
    public static final long KVM_GET_REGS = 0x8090AE81L;
    /** _IOW(0xAE, 0x82, struct kvm_regs). */
    public static final long KVM_SET_REGS = 0x4090AE82L;
    /** _IOR(0xAE, 0x83, struct kvm_sregs). */
    public static final long KVM_GET_SREGS = 0x8138AE83L;
    /** _IOW(0xAE, 0x84, struct kvm_sregs). */
    public static final long KVM_SET_SREGS = 0x4138AE84L;
    /** _IOW(0xAE, 0x86, struct kvm_interrupt). */
    public static final long KVM_INTERRUPT = 0x4004AE86L;
    /** _IOWR(0xAE, 0x88, struct kvm_msrs). */
    public static final long KVM_GET_MSRS = 0xC008AE88L;
    /** _IOW(0xAE, 0x89, struct kvm_msrs). */
    public static final long KVM_SET_MSRS = 0x4008AE89L;
    /** _IOW(0xAE, 0x8B, struct kvm_signal_mask). */
    public static final long KVM_SET_SIGNAL_MASK = 0x4004AE8BL;
    /** _IOR(0xAE, 0x8C, struct kvm_fpu). */
    public static final long KVM_GET_FPU = 0x81A0AE8CL;
    /** _IOW(0xAE, 0x8D, struct kvm_fpu). */
    public static final long KVM_SET_FPU = 0x41A0AE8DL;
    /** _IOR(0xAE, 0x8E, struct kvm_lapic_state). */
    public static final long KVM_GET_LAPIC = 0x8400AE8EL;
    /** _IOW(0xAE, 0x8F, struct kvm_lapic_state). */
    public static final long KVM_SET_LAPIC = 0x4400AE8FL;
    /** _IOW(0xAE, 0x90, struct kvm_cpuid2). */
    public static final long KVM_SET_CPUID2 = 0x4008AE90L;
    /** _IOWR(0xAE, 0x91, struct kvm_cpuid2). */
    public static final long KVM_GET_CPUID2 = 0xC008AE91L;
    /** _IOR(0xAE, 0x98, struct kvm_mp_state). */
    public static final long KVM_GET_MP_STATE = 0x8004AE98L;
    /** _IOW(0xAE, 0x99, struct kvm_mp_state). */
    public static final long KVM_SET_MP_STATE = 0x4004AE99L;
    /** _IO(0xAE, 0x9A). */
    public static final long KVM_NMI = 0xAE9AL;
    /** _IOR(0xAE, 0x9F, struct kvm_vcpu_events). */
    public static final long KVM_GET_VCPU_EVENTS = 0x8040AE9FL;
    /** _IOW(0xAE, 0xA0, struct kvm_vcpu_events). */
    public static final long KVM_SET_VCPU_EVENTS = 0x4040AEA0L;
    /** _IOR(0xAE, 0xA1, struct kvm_debugregs). */
    public static final long KVM_GET_DEBUGREGS = 0x8080AEA1L;
    /** _IOW(0xAE, 0xA2, struct kvm_debugregs). */
    public static final long KVM_SET_DEBUGREGS = 0x4080AEA2L;
    /** _IOR(0xAE, 0xA4, struct kvm_xsave). */
    public static final long KVM_GET_XSAVE = 0x9000AEA4L;
    /** _IOW(0xAE, 0xA5, struct kvm_xsave). */
    public static final long KVM_SET_XSAVE = 0x5000AEA5L;

    // ---- struct kvm_run (offsets) ----
    /** __u8 request_interrupt_window. */
    public static final int RUN_REQUEST_INTERRUPT_WINDOW = 0;
    /** __u8 immediate_exit. */
    public static final int RUN_IMMEDIATE_EXIT = 1;
    /** __u32 exit_reason. */
    public static final int RUN_EXIT_REASON = 8;
    /** __u8 ready_for_interrupt_injection. */
    public static final int RUN_READY_FOR_INTERRUPT_INJECTION = 12;
    /** __u8 if_flag. */
    public static final int RUN_IF_FLAG = 13;
    /** __u16 flags. */
    public static final int RUN_FLAGS = 14;
    /** __u64 cr8. */
    public static final int RUN_CR8 = 16;
    /** __u64 apic_base. */
    public static final int RUN_APIC_BASE = 24;
    /** Start of the exit-specific union. */
    public static final int RUN_EXIT_DATA = 32;
    /** Size of struct kvm_run without the register sync area's tail (sizeof = 2352). */
    public static final int RUN_SIZE = 2352;

    // ---- sizes ----
    /** sizeof(struct kvm_regs). */
    public static final int REGS_SIZE = 144;
    /** sizeof(struct kvm_sregs). */
    public static final int SREGS_SIZE = 312;
    /** sizeof(struct kvm_segment). */
    public static final int SEGMENT_SIZE = 24;
    /** sizeof(struct kvm_fpu). */
    public static final int FPU_SIZE = 416;
    /** sizeof(struct kvm_vcpu_events). */
    public static final int EVENTS_SIZE = 64;
    /** sizeof(struct kvm_debugregs). */
    public static final int DEBUGREGS_SIZE = 128;
    /** sizeof(struct kvm_lapic_state). */
    public static final int LAPIC_SIZE = 1024;
    /** sizeof(struct kvm_xsave). */
    public static final int XSAVE_SIZE = 4096;
    /** sizeof(struct kvm_cpuid_entry2). */
    public static final int CPUID_ENTRY_SIZE = 40;
    /** sizeof(struct kvm_enable_cap). */
    public static final int ENABLE_CAP_SIZE = 104;
    /** Offset of hypercall.ret in the exit union of struct kvm_run. */
    public static final int RUN_HYPERCALL_RET = RUN_EXIT_DATA + 56;
    /** sizeof(struct kvm_msr_entry). */
    public static final int MSR_ENTRY_SIZE = 16;
}
