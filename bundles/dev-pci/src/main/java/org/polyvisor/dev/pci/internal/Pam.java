package org.polyvisor.dev.pci.internal;

import org.polyvisor.memory.GuestMemory;

/**
 * The 82441FX's programmable attribute map (Intel 82441FX PMC datasheet, section 3.2.18; QEMU
 * hw/pci-host/pam.c): seven registers at configuration offsets 0x59-0x5F, one nibble per segment
 * of the legacy window, bit 0 "reads from DRAM", bit 1 "writes to DRAM"; otherwise the access goes
 * to the PCI/ISA side (the BIOS ROM's alias, or nothing). PAM0's high nibble covers the 64 KiB BIOS
 * segment 0xF0000-0xFFFFF (its low nibble is reserved), PAM1-PAM6 each cover two 16 KiB segments
 * from 0xC0000 to 0xEFFFF, low nibble first. SeaBIOS writes 0x30/0x33 to copy itself into RAM
 * (src/fw/shadow.c) and 0x10/0x11 to write-protect the copy.
 */
final class Pam {

    /** Configuration offset of PAM0. */
    static final int FIRST = 0x59;
    /** Configuration offset of PAM6. */
    static final int LAST = 0x5F;
    /** Number of PAM registers. */
    static final int COUNT = LAST - FIRST + 1;
    /** Attribute bit: reads of the segment come from DRAM. */
    static final int READ_ENABLE = 0x1;
    /** Attribute bit: writes to the segment go to DRAM. */
    static final int WRITE_ENABLE = 0x2;
    /** The BIOS segment PAM0 controls. */
    static final long BIOS_SEGMENT = 0xF_0000L;
    /** First segment of PAM1. */
    static final long EXPANSION_START = 0xC_0000L;
    /** Size of a PAM1-PAM6 segment: 16 KiB. */
    static final long SEGMENT = 0x4000L;

    private Pam() {
    }

    /**
     * Applies the segments whose attributes differ from those applied before.
     *
     * @param memory   the VM's memory
     * @param now      the seven registers PAM0..PAM6
     * @param previous what was applied last, or null to apply every segment
     * @return false if the memory has no switchable legacy window (nothing to apply)
     */
    static boolean apply(GuestMemory memory, int[] now, int[] previous) {
        boolean supported = true;
        for (int i = 0; i < COUNT; i++) {
            for (int half = i == 0 ? 1 : 0; half < 2; half++) {
                int attr = now[i] >>> (4 * half) & 0xF;
                if (previous != null && attr == (previous[i] >>> (4 * half) & 0xF)) {
                    continue;
                }
                long base = i == 0 ? BIOS_SEGMENT : EXPANSION_START + (2L * (i - 1) + half) * SEGMENT;
                long length = i == 0 ? 0x1_0000L : SEGMENT;
                supported &= memory.setLegacyDecode(base, length, (attr & READ_ENABLE) != 0, (attr & WRITE_ENABLE) != 0);
            }
        }
        return supported;
    }
}
