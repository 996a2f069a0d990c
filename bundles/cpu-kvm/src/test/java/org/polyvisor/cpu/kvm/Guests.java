package org.polyvisor.cpu.kvm;

import java.nio.ByteBuffer;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.SegmentRegister;

/**
 * Small test guests, hand-assembled (GNU as; sources in the comments), and the states that start them.
 */
final class Guests {

    private Guests() {
    }

    /**
     * Real mode at 0x1000 (CS = DS = 0x0100):
     * <pre>
     * 00 start:   mov $0x3f8,%dx; mov $0x41,%al; out %al,%dx; in $0x60,%al; mov %al,%bl
     * 0a          mov $0xd000,%ax; mov %ax,%es; movl $0x12345678,%es:0; mov %es:4,%ecx; hlt
     * 20 spin:    jmp spin
     * 22 irqloop: sti; hlt; jmp irqloop
     * 26 handler: mov $0x42,%al; out %al,$0x80; iret
     * 2b window:  cli; mov $100,%cx; 1: loop 1b; sti; nop; 2: jmp 2b
     * </pre>
     */
    static final byte[] REAL = {
        (byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 0x41, (byte) 0xee, (byte) 0xe4, 0x60, (byte) 0x88, (byte) 0xc3,
        (byte) 0xb8, 0x00, (byte) 0xd0, (byte) 0x8e, (byte) 0xc0, 0x26, 0x66, (byte) 0xc7, 0x06, 0x00, 0x00, 0x78,
        0x56, 0x34, 0x12, 0x26, 0x66, (byte) 0x8b, 0x0e, 0x04, 0x00, (byte) 0xf4, (byte) 0xeb, (byte) 0xfe,
        (byte) 0xfb, (byte) 0xf4, (byte) 0xeb, (byte) 0xfc, (byte) 0xb0, 0x42, (byte) 0xe6, (byte) 0x80, (byte) 0xcf,
        (byte) 0xfa, (byte) 0xb9, 0x64, 0x00, (byte) 0xe2, (byte) 0xfe, (byte) 0xfb, (byte) 0x90, (byte) 0xeb, (byte) 0xfe
    };
    static final int REAL_START = 0x00;
    static final int REAL_SPIN = 0x20;
    static final int REAL_IRQLOOP = 0x22;
    static final int REAL_HANDLER = 0x26;
    static final int REAL_WINDOW = 0x2b;

    /**
     * 64-bit code at 0x1000 (see the kvm bundle's LongModeGuest for the source):
     * io_loop 0x00, compute 0x0b, triple 0x1e (int3 with an empty IDT), spin 0x1f.
     */
    static final byte[] LONG = {
        (byte) 0xe6, (byte) 0xf0, 0x48, (byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xf9, (byte) 0xe6, (byte) 0xf1,
        (byte) 0xeb, (byte) 0xf5, 0x48, 0x01, (byte) 0xc8, 0x48, (byte) 0xc1, (byte) 0xc0, 0x07, 0x48, 0x31,
        (byte) 0xc8, 0x48, (byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xf1, (byte) 0xe6, (byte) 0xf1, (byte) 0xeb,
        (byte) 0xed, (byte) 0xcc, (byte) 0xeb, (byte) 0xfe
    };
    static final int LONG_IO_LOOP = 0x00;
    static final int LONG_COMPUTE = 0x0b;
    static final int LONG_TRIPLE = 0x1e;
    static final int LONG_SPIN = 0x1f;

    /** Loads the real-mode program and points IVT vector 0x20 at its handler. */
    static void loadReal(ByteBuffer ram) {
        ram.put(0x1000, REAL);
        ram.putShort(0x20 * 4, (short) REAL_HANDLER);
        ram.putShort(0x20 * 4 + 2, (short) 0x0100);
    }

    /** A real-mode state at an entry of the real-mode program. */
    static CpuState real(int entry) {
        CpuState.Builder b = CpuState.powerOn(0x600).toBuilder();
        SegmentRegister code = new SegmentRegister(0x100, 0x1000, 0xFFFF, SegmentRegister.REAL_MODE_CODE);
        SegmentRegister data = SegmentRegister.realMode(0x100);
        b.segment(CpuState.CS, code);
        for (int s : new int[] {CpuState.DS, CpuState.ES, CpuState.SS, CpuState.FS, CpuState.GS}) {
            b.segment(s, data);
        }
        b.idtr(new DescriptorTableRegister(0, 0x3FF));
        b.gpr(CpuState.RSP, 0x0F00).rip(entry).cr0(0x10);
        return b.build();
    }

    /** Writes the long-mode program, page tables (2 MiB user page at 0), GDT and TSS. */
    static void loadLong(ByteBuffer ram) {
        ram.put(0x1000, LONG);
        ram.putLong(0x10000, 0x11000 | 0x7);
        ram.putLong(0x11000, 0x12000 | 0x7);
        ram.putLong(0x12000, 0x87);
        long[] gdt = {0, 0x00AF_9B00_0000_FFFFL, 0x00CF_9300_0000_FFFFL, 0x00AF_FB00_0000_FFFFL,
            0x00CF_F300_0000_FFFFL, 0x0000_8B01_5000_0067L, 0};
        for (int i = 0; i < gdt.length; i++) {
            ram.putLong(0x13000 + 8 * i, gdt[i]);
        }
        ram.putLong(0x15000 + 4, 0x70000);
    }

    /** A long-mode state (4-level paging, CR3 0x10000) at an entry, in ring 3 with IOPL 3 or ring 0. */
    static CpuState longMode(int entry, boolean ring3, long rcx) {
        int dpl = ring3 ? 3 : 0;
        CpuState.Builder b = CpuState.powerOn(0x600).toBuilder();
        SegmentRegister cs = new SegmentRegister(ring3 ? 0x1B : 0x08, 0, 0xFFFF_FFFF, 0xA09B | dpl << 5);
        SegmentRegister ds = new SegmentRegister(ring3 ? 0x23 : 0x10, 0, 0xFFFF_FFFF, 0xC093 | dpl << 5);
        b.segment(CpuState.CS, cs);
        for (int s : new int[] {CpuState.DS, CpuState.ES, CpuState.SS, CpuState.FS, CpuState.GS}) {
            b.segment(s, ds);
        }
        b.tr(new SegmentRegister(0x28, 0x15000, 0x67, 0x8B));
        b.ldtr(new SegmentRegister(0, 0, 0, SegmentRegister.UNUSABLE));
        b.gdtr(new DescriptorTableRegister(0x13000, 0x37)).idtr(new DescriptorTableRegister(0x14000, 0));
        b.cr0(0x8000_0033L).cr3(0x10000).cr4(0x20).efer(0x500);
        b.gpr(CpuState.RSP, 0x7F000).gpr(CpuState.RCX, rcx).rip(0x1000 + entry).rflags(0x2 | 0x3000);
        return b.build();
    }

    /**
     * 32-bit code at 0x1800, flat segments at CPL 0:
     * <pre>
     * 00 paged:       out %al,$0xf1; 1: jmp 1b
     * 04 enable:      mov %cr0,%eax; or $0x80000000,%eax; mov %eax,%cr0; out %al,$0xf1; 2: jmp 2b
     * </pre>
     */
    static final byte[] PROT32 = {
        (byte) 0xe6, (byte) 0xf1, (byte) 0xeb, (byte) 0xfe,
        0x0f, 0x20, (byte) 0xc0, 0x0d, 0x00, 0x00, 0x00, (byte) 0x80, 0x0f, 0x22, (byte) 0xc0, (byte) 0xe6,
        (byte) 0xf1, (byte) 0xeb, (byte) 0xfe
    };
    static final int PROT32_BASE = 0x1800;
    static final int PROT32_PAGED = 0x00;
    static final int PROT32_ENABLE_PAGING = 0x04;

    /** Loads the 32-bit code and 2-level page tables (PD 0x20000, PT 0x21000) mapping page 1 to itself. */
    static void loadProt32(ByteBuffer ram) {
        ram.put(PROT32_BASE, PROT32);
        ram.putInt(0x20000, 0x21000 | 0x7);
        ram.putInt(0x21000 + 4, 0x1000 | 0x7);
    }

    /** A 32-bit protected-mode state at an entry of the 32-bit code, CR3 0x20000, paging on or off. */
    static CpuState prot32(int entry, boolean paging) {
        CpuState.Builder b = CpuState.powerOn(0x600).toBuilder();
        b.segment(CpuState.CS, new SegmentRegister(0x08, 0, 0xFFFF_FFFF, 0xC09B));
        for (int s : new int[] {CpuState.DS, CpuState.ES, CpuState.SS, CpuState.FS, CpuState.GS}) {
            b.segment(s, new SegmentRegister(0x10, 0, 0xFFFF_FFFF, 0xC093));
        }
        b.tr(new SegmentRegister(0x18, 0x4000, 0x67, 0x8B));
        b.cr0(paging ? 0x8000_0011L : 0x11).cr3(0x20000).rip(PROT32_BASE + entry).rflags(0x2);
        return b.build();
    }

    /** The compute loop in Java: what RAX holds afterwards. */
    static long compute(long n) {
        long rax = 0;
        for (long rcx = n; rcx != 0; rcx--) {
            rax += rcx;
            rax = Long.rotateLeft(rax, 7);
            rax ^= rcx;
        }
        return rax;
    }
}
