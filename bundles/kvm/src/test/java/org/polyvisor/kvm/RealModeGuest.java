package org.polyvisor.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A one-vCPU VM with 512 KiB of RAM at 0 (so 0xD0000 is MMIO) and a small real-mode program at 0x1000 (CS = DS =
 * 0x0100), for binding tests. Source (GNU as, {@code .code16}), offsets relative to 0x1000:
 * <pre>
 * 00 start:  mov $0x3f8,%dx; mov $0x41,%al; out %al,%dx     OUT 0x3F8 'A'
 * 06         in $0x60,%al; mov %al,%bl                     IN 0x60 -> BL
 * 0a         mov $0xd000,%ax; mov %ax,%es
 * 0f         movl $0x12345678,%es:0                        MMIO write 0xD0000
 * 19         mov %es:4,%ecx                                MMIO read 0xD0004 -> ECX
 * 1f         hlt
 * 20 spin:   jmp spin
 * 22 triple: lidt zero_idt; int3                           (entered at 0x27 in 32-bit protected mode with
 *                                                          IDT limit 0: #BP -> #GP -> #DF -> shutdown)
 * 28 zero_idt: .word 0; .long 0
 * </pre>
 */
final class RealModeGuest implements AutoCloseable {

    static final byte[] CODE = {
        (byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 0x41, (byte) 0xee, (byte) 0xe4, 0x60, (byte) 0x88, (byte) 0xc3,
        (byte) 0xb8, 0x00, (byte) 0xd0, (byte) 0x8e, (byte) 0xc0, 0x26, 0x66, (byte) 0xc7, 0x06, 0x00, 0x00, 0x78,
        0x56, 0x34, 0x12, 0x26, 0x66, (byte) 0x8b, 0x0e, 0x04, 0x00, (byte) 0xf4, (byte) 0xeb, (byte) 0xfe, 0x0f,
        0x01, 0x1e, 0x28, 0x00, (byte) 0xcc, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
    };
    static final int START = 0x00;
    static final int SPIN = 0x20;
    static final int TRIPLE = 0x22;

    final Kvm kvm;
    final VmFd vm;
    final VcpuFd vcpu;
    final ByteBuffer ram;

    RealModeGuest() {
        this(CODE, false, 0);
    }

    /**
     * Creates the VM with another program at 0x1000.
     *
     * @param code      the program
     * @param irqchip   whether to create KVM's in-kernel interrupt controllers (before the vCPU)
     * @param slotFlags flags of the RAM slot ({@link VmFd#MEM_LOG_DIRTY_PAGES})
     */
    RealModeGuest(byte[] code, boolean irqchip, int slotFlags) {
        kvm = Kvm.open();
        try {
            vm = kvm.createVm();
            ram = ByteBuffer.allocateDirect((1 << 19) + 4096).alignedSlice(4096).slice(0, 1 << 19)
                    .order(ByteOrder.LITTLE_ENDIAN);
            ram.put(0x1000, code);
            vm.setUserMemoryRegion(0, slotFlags, 0, ram);
            vm.setTssAddr(0xfffb_d000L);
            if (irqchip) {
                vm.createIrqchip();
            }
            vcpu = vm.createVcpu(0);
            vcpu.setCpuid(kvm.supportedCpuid());
        } catch (RuntimeException e) {
            kvm.close();
            throw e;
        }
    }

    /** Points the vCPU at an entry of the program, in real mode with CS = DS = 0x100. */
    void enter(int offset) {
        Sregs s = vcpu.getSregs();
        Segment code = Segment.fromAccessRights(0x100, 0x1000, 0xFFFF, 0x9B);
        Segment data = Segment.fromAccessRights(0x100, 0x1000, 0xFFFF, 0x93);
        vcpu.setSregs(new Sregs(code, data, data, data, data, data, s.tr(), s.ldt(), s.gdt(), new Dtable(0, 0x3FF),
                s.cr0() & ~1L, s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), new long[4]));
        long[] g = new long[16];
        g[CpuRegs.RSP] = 0x0F00;
        vcpu.setRegs(new Regs(g, offset, 0x2));
    }

    /** Points the vCPU at an entry in 32-bit protected mode (no paging), CS base 0x1000, IDT limit 0. */
    void enterProtected(int offset) {
        Sregs s = vcpu.getSregs();
        Segment code = Segment.fromAccessRights(0x08, 0x1000, 0xFFFF_FFFF, 0xC09B);
        Segment data = Segment.fromAccessRights(0x10, 0, 0xFFFF_FFFF, 0xC093);
        Segment tr = Segment.fromAccessRights(0x18, 0x3000, 0x67, 0x8B);
        vcpu.setSregs(new Sregs(code, data, data, data, data, data, tr, s.ldt(), new Dtable(0x2000, 0x1F),
                new Dtable(0, 0), s.cr0() | 1, s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), new long[4]));
        long[] g = new long[16];
        g[CpuRegs.RSP] = 0x7000;
        vcpu.setRegs(new Regs(g, offset, 0x2));
    }

    @Override
    public void close() {
        vm.close();
        kvm.close();
    }

    /** Register numbers in encoding order. */
    static final class CpuRegs {
        static final int RAX = 0;
        static final int RCX = 1;
        static final int RBX = 3;
        static final int RSP = 4;
    }
}
