package org.polyvisor.boot.internal;

import org.polyvisor.boot.BootException;
import org.polyvisor.boot.BootImage;

/**
 * A bzImage's setup header, read and checked (Documentation/arch/x86/boot.rst, "The Real-Mode
 * Kernel Header"). Offsets are file offsets, which equal offsets in the real-mode segment and in
 * boot_params.
 */
final class LinuxKernel {

    static final int SETUP_SECTS = 0x1F1;
    static final int SYSSIZE = 0x1F4;
    static final int VID_MODE = 0x1FA;
    static final int BOOT_FLAG = 0x1FE;
    static final int JUMP = 0x200;
    static final int HEADER = 0x202;
    static final int VERSION = 0x206;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int CODE32_START = 0x214;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21C;
    static final int HEAP_END_PTR = 0x224;
    static final int CMD_LINE_PTR = 0x228;
    static final int INITRD_ADDR_MAX = 0x22C;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int RELOCATABLE = 0x234;
    static final int CMDLINE_SIZE = 0x238;
    static final int PREF_ADDRESS = 0x258;
    static final int INIT_SIZE = 0x260;

    /** boot_flag value. */
    static final int BOOT_FLAG_MAGIC = 0xAA55;
    /** "HdrS". */
    static final long HEADER_MAGIC = 0x5372_6448L;
    /** loadflags: protected-mode code loaded at 0x100000 (a bzImage). */
    static final int LOADED_HIGH = 0x01;
    /** loadflags: heap_end_ptr is valid. */
    static final int CAN_USE_HEAP = 0x80;
    /** type_of_loader: "undefined" boot loader (boot.rst: 0xFF). */
    static final int LOADER_UNDEFINED = 0xFF;
    /** Oldest protocol supported: 2.02 brought cmd_line_ptr. */
    static final int MIN_VERSION = 0x0202;
    /** Smallest file holding the header fields we read up to version 2.10. */
    static final int MIN_HEADER_FILE = 0x264;
    /** Where a LOADED_HIGH kernel's protected-mode part goes. */
    static final long KERNEL_ADDR = 0x10_0000L; // 1 MiB

    final BootImage image;
    final int version;
    final int setupSize;
    final int kernelSize;
    final long initrdAddrMax;
    final long cmdlineMax;
    final long requiredTop;
    final long code32Start;

    /**
     * Tells whether an image has a Linux setup header (boot_flag and "HdrS").
     *
     * @param data the image
     * @return true for a bzImage/zImage with a setup header
     */
    static boolean recognises(byte[] data) {
        return data.length >= MIN_HEADER_FILE && Le.u16(data, BOOT_FLAG) == BOOT_FLAG_MAGIC
                && Le.u32(data, HEADER) == HEADER_MAGIC;
    }

    LinuxKernel(BootImage image, String who) {
        this.image = image;
        byte[] d = image.data();
        if (!recognises(d)) {
            throw new BootException(who + "not a Linux bzImage (no boot_flag 0xAA55 and 'HdrS' setup header"
                    + (d.length < MIN_HEADER_FILE ? "; the file is only " + d.length + " bytes" : "") + ")");
        }
        version = Le.u16(d, VERSION);
        if (version < MIN_VERSION) {
            throw new BootException(String.format("%sLinux boot protocol %d.%02d is older than 2.02: not supported",
                    who, version >> 8, version & 0xFF));
        }
        if (version >> 8 != 2) {
            // Every 2.xx only adds fields at the end (Documentation/arch/x86/boot.rst); another major
            // number would be a layout nobody has defined, or a damaged header.
            throw new BootException(String.format("%sLinux boot protocol %d.%02d is unknown: this loader reads 2.02 and "
                    + "later 2.xx headers (a damaged image?)", who, version >> 8, version & 0xFF));
        }
        if ((Le.u8(d, LOADFLAGS) & LOADED_HIGH) == 0) {
            throw new BootException(who + "a zImage (protected-mode code loaded at 0x10000) is not supported: use a bzImage");
        }
        int sects = Le.u8(d, SETUP_SECTS);
        setupSize = ((sects == 0 ? 4 : sects) + 1) * 512;
        if (setupSize >= d.length) {
            throw new BootException(who + "truncated: the setup code is " + setupSize + " bytes, the file only "
                    + d.length);
        }
        kernelSize = d.length - setupSize;
        long syssize = Le.u32(d, SYSSIZE) * 16; // in 16-byte paragraphs, so rounded up (memtest86+)
        if (syssize > ((kernelSize + 15L) & ~15L)) {
            throw new BootException(String.format("%struncated: the setup header says the protected-mode kernel is %d"
                    + " bytes, the file holds %d after the setup code", who, syssize, kernelSize));
        }
        initrdAddrMax = version >= 0x0203 ? Le.u32(d, INITRD_ADDR_MAX) : 0x37FF_FFFFL;
        cmdlineMax = version >= 0x0206 ? Le.u32(d, CMDLINE_SIZE) : 255;
        code32Start = Le.u32(d, CODE32_START) == 0 ? KERNEL_ADDR : Le.u32(d, CODE32_START);
        // The kernel decompresses itself into [pref_address, pref_address + init_size) when it is
        // relocatable and loaded lower than that (arch/x86/boot/compressed/head_32.S); older
        // protocols give no figure, so ask for the loaded size, four times over for decompression.
        long pref = version >= 0x020A ? Le.u64(d, PREF_ADDRESS) : KERNEL_ADDR;
        long init = version >= 0x020A ? Le.u32(d, INIT_SIZE) : 4L * kernelSize;
        requiredTop = Math.max(KERNEL_ADDR + kernelSize, Math.max(pref, KERNEL_ADDR) + init);
    }

    /** @return e.g. {@code 2.15} */
    String versionText() {
        return String.format("%d.%02d", version >> 8, version & 0xFF);
    }

    /** @return the setup header's bytes as boot_params holds them: 0x1F1 up to the end the jump gives */
    int headerEnd() {
        return Math.min(0x202 + Le.u8(image.data(), JUMP + 1), 0x290);
    }
}
