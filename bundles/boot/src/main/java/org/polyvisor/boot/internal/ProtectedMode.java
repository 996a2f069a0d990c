package org.polyvisor.boot.internal;

import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.memory.GuestMemory;

/**
 * The flat 32-bit protected-mode state both the Linux 32-bit entry and Multiboot require: CS a 4 GiB
 * execute/read segment, the data segments 4 GiB read/write, paging off, interrupts off, and a GDT in
 * guest memory holding those descriptors at the selectors Linux names {@code __BOOT_CS} (0x10) and
 * {@code __BOOT_DS} (0x18) (Documentation/arch/x86/boot.rst, "32-bit Boot Protocol").
 */
final class ProtectedMode {

    /** Where the loader's GDT goes (below the zero page, unused by real-mode software). */
    static final long GDT_BASE = 0x500;
    /** Code selector. */
    static final int BOOT_CS = 0x10;
    /** Data selector. */
    static final int BOOT_DS = 0x18;
    /** Descriptors: base 0, limit 0xFFFFF pages, present, DPL 0, 32-bit; code type 0xB, data type 0x3. */
    private static final long CODE_DESCRIPTOR = 0x00CF_9B00_0000_FFFFL;
    private static final long DATA_DESCRIPTOR = 0x00CF_9300_0000_FFFFL;
    /** Hidden attributes matching those descriptors. */
    private static final int FLAT_ATTR = SegmentRegister.P | SegmentRegister.S | SegmentRegister.DB | SegmentRegister.G;
    private static final int CODE_ATTR = FLAT_ATTR | SegmentRegister.TYPE_CODE | SegmentRegister.TYPE_RW
            | SegmentRegister.TYPE_ACCESSED;
    private static final int DATA_ATTR = FLAT_ATTR | SegmentRegister.TYPE_RW | SegmentRegister.TYPE_ACCESSED;
    /** CR0.PE and CR0.ET: protected mode, paging and caches as after a plain switch. */
    private static final long CR0 = 0x11;

    private ProtectedMode() {
    }

    /**
     * Writes the GDT and returns a builder for the flat state (EIP, registers left to the caller).
     *
     * @param memory the guest memory
     * @param reset  the power-on state (keeps the CPU signature, FPU, MSRs)
     * @return the builder
     */
    static CpuState.Builder flat(GuestMemory memory, CpuState reset) {
        memory.writeQword(GDT_BASE, 0);
        memory.writeQword(GDT_BASE + 8, 0);
        memory.writeQword(GDT_BASE + BOOT_CS, CODE_DESCRIPTOR);
        memory.writeQword(GDT_BASE + BOOT_DS, DATA_DESCRIPTOR);
        CpuState.Builder b = reset.toBuilder();
        for (int i = 0; i < 8; i++) {
            b.gpr(i, 0);
        }
        SegmentRegister code = new SegmentRegister(BOOT_CS, 0, 0xFFFF_FFFF, CODE_ATTR);
        SegmentRegister data = new SegmentRegister(BOOT_DS, 0, 0xFFFF_FFFF, DATA_ATTR);
        b.segment(CpuState.CS, code);
        for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
            b.segment(s, data);
        }
        b.gdtr(new DescriptorTableRegister(GDT_BASE, 4 * 8 - 1));
        b.cr0(CR0);
        b.rflags(0x2); // IF=0, reserved bit 1
        return b;
    }
}
