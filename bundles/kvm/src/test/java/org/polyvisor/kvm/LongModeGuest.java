package org.polyvisor.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A one-vCPU VM already in 64-bit long mode with 4-level paging (the Java side writes the tables,
 * GDT and TSS, then sets the registers), running code at 0x1000 in ring 3 or ring 0. Source (GNU
 * as, {@code .code64}):
 * <pre>
 * 00 io_loop: out %al,$0xf0; dec %rcx; jnz io_loop; out %al,$0xf1; jmp io_loop
 * 0b compute: add %rcx,%rax; rol $7,%rax; xor %rcx,%rax; dec %rcx; jnz compute; out %al,$0xf1; jmp compute
 * 1e triple:  int3        (with an empty IDT: #BP -> #GP -> #DF -> shutdown)
 * 1f spin:    jmp spin
 * </pre>
 * Memory: 2 MiB of RAM; PML4 0x10000, PDPT 0x11000, PD 0x12000 (one 2 MiB user page at 0), GDT
 * 0x13000 (null, code64 DPL0 0x08, data DPL0 0x10, code64 DPL3 0x1B, data DPL3 0x23, TSS 0x28), IDT
 * 0x14000 with limit 0, TSS 0x15000, stacks below 0x80000.
 */
public final class LongModeGuest implements AutoCloseable {

    /** The program. */
    public static final byte[] CODE = {
        (byte) 0xe6, (byte) 0xf0, 0x48, (byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xf9, (byte) 0xe6, (byte) 0xf1,
        (byte) 0xeb, (byte) 0xf5, 0x48, 0x01, (byte) 0xc8, 0x48, (byte) 0xc1, (byte) 0xc0, 0x07, 0x48, 0x31,
        (byte) 0xc8, 0x48, (byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xf1, (byte) 0xe6, (byte) 0xf1, (byte) 0xeb,
        (byte) 0xed, (byte) 0xcc, (byte) 0xeb, (byte) 0xfe
    };
    /** Entry: RCX times OUT 0xF0, then OUT 0xF1. */
    public static final int IO_LOOP = 0x00;
    /** Entry: RCX iterations of arithmetic, then OUT 0xF1. */
    public static final int COMPUTE = 0x0b;
    /** Entry: int3 with an empty IDT. */
    public static final int TRIPLE = 0x1e;
    /** Entry: jump to itself. */
    public static final int SPIN = 0x1f;
    /** Where the code is. */
    public static final int CODE_BASE = 0x1000;

    /** The guest's RAM. */
    public final ByteBuffer ram;
    /** The system handle. */
    public final Kvm kvm;
    /** The VM. */
    public final VmFd vm;
    /** The vCPU. */
    public final VcpuFd vcpu;

    /** Creates the VM with the tables written. */
    public LongModeGuest() {
        ram = ByteBuffer.allocateDirect((2 << 20) + 4096).alignedSlice(4096).slice(0, 2 << 20)
                .order(ByteOrder.LITTLE_ENDIAN);
        writeTables(ram);
        kvm = Kvm.open();
        try {
            vm = kvm.createVm();
            vm.setUserMemoryRegion(0, 0, 0, ram);
            vm.setTssAddr(0xfffb_d000L);
            vcpu = vm.createVcpu(0);
            java.util.List<CpuidEntry> cpuid = kvm.supportedCpuid();
            vcpu.setCpuid(cpuid);
        } catch (RuntimeException e) {
            kvm.close();
            throw e;
        }
    }

    /**
     * Writes the code, page tables, GDT and TSS into guest RAM.
     *
     * @param ram at least 2 MiB
     */
    public static void writeTables(ByteBuffer ram) {
        ram.put(CODE_BASE, CODE);
        ram.putLong(0x10000, 0x11000 | 0x7); // PML4[0] -> PDPT, present, writable, user
        ram.putLong(0x11000, 0x12000 | 0x7); // PDPT[0] -> PD
        ram.putLong(0x12000, 0x0 | 0x87); // PD[0]: 2 MiB page at 0, present, writable, user, PS
        long[] gdt = {
            0,
            0x00AF_9B00_0000_FFFFL, // 0x08 code64 DPL0
            0x00CF_9300_0000_FFFFL, // 0x10 data DPL0
            0x00AF_FB00_0000_FFFFL, // 0x18 code64 DPL3
            0x00CF_F300_0000_FFFFL, // 0x20 data DPL3
            0x0000_8B01_5000_0067L, // 0x28 TSS (busy, 64-bit) at 0x15000, limit 0x67, low half
            0 // high half: base 63:32
        };
        for (int i = 0; i < gdt.length; i++) {
            ram.putLong(0x13000 + 8 * i, gdt[i]);
        }
        ram.putLong(0x15000 + 4, 0x70000); // TSS.RSP0
    }

    /**
     * Points the vCPU at an entry.
     *
     * @param entry  offset in the program
     * @param ring3  run at CPL 3 (with IOPL 3 so OUT still exits to the VMM) or CPL 0
     * @param rcx    the loop count
     */
    public void enter(int entry, boolean ring3, long rcx) {
        int dpl = ring3 ? 3 : 0;
        Segment cs = Segment.fromAccessRights(ring3 ? 0x1B : 0x08, 0, 0xFFFF_FFFF, 0xA09B | dpl << 5);
        Segment ds = Segment.fromAccessRights(ring3 ? 0x23 : 0x10, 0, 0xFFFF_FFFF, 0xC093 | dpl << 5);
        Segment tr = Segment.fromAccessRights(0x28, 0x15000, 0x67, 0x8B);
        vcpu.setSregs(vcpu.getSregs().flat(cs, ds, tr, new Dtable(0x13000, 0x37), new Dtable(0x14000, 0), 0x8000_0033L,
                0x10000, 0x20, 0x500));
        long[] g = new long[16];
        g[4] = 0x7F000; // RSP
        g[1] = rcx;
        vcpu.setRegs(new Regs(g, CODE_BASE + entry, 0x2 | 0x3000));
    }

    @Override
    public void close() {
        vm.close();
        kvm.close();
    }
}
