package org.polyvisor.boot.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.polyvisor.boot.BootException;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.boot.BootPlan;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.part.Availability;

/**
 * The Linux/x86 boot protocol, 2.02 and later (Documentation/arch/x86/boot.rst): the protected-mode
 * kernel at 1 MiB, the command line at 0x20000, the initial RAM disks concatenated as high as
 * {@code initrd_addr_max} and RAM allow, and an e820 map of the VM's memory. The two subclasses
 * differ in where the kernel starts: the real-mode setup code, or the 32-bit entry point.
 */
abstract class LinuxLoader implements BootLoader {

    /** Command line address (as QEMU and firecracker place it). */
    static final long CMDLINE_ADDR = 0x2_0000L;

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public BootPlan load(BootRequest request) {
        String who = request.who();
        LinuxKernel k = new LinuxKernel(request.kernel(), who);
        GuestMemory memory = request.memory();
        List<MemoryMap.Entry> map = MemoryMap.of(memory, BiosStub.BASE);
        long ramTop = MemoryMap.extendedTop(map);
        if (MemoryMap.conventionalTop(map) < BiosStub.BASE) {
            throw new BootException(who + "needs RAM below 640 KiB for the setup code, boot_params and command line");
        }
        if (k.requiredTop > ramTop) {
            throw new BootException(String.format("%sthe kernel needs RAM up to %s to load and decompress itself"
                            + " (protocol %s: pref_address + init_size), the VM has RAM up to %s: give it more memory",
                    who, Le.hex(k.requiredTop), k.versionText(), Le.hex(ramTop)));
        }
        byte[] cmdline = request.cmdline().getBytes(StandardCharsets.US_ASCII);
        if (cmdline.length > k.cmdlineMax) {
            throw new BootException(who + "the command line is " + cmdline.length + " bytes, the kernel takes at most "
                    + k.cmdlineMax);
        }
        List<String> placements = new ArrayList<>();
        byte[] d = k.image.data();
        memory.write(LinuxKernel.KERNEL_ADDR, d, k.setupSize, k.kernelSize);
        placements.add(String.format("kernel %s-%s (Linux boot protocol %s, %s)", Le.hex(LinuxKernel.KERNEL_ADDR),
                Le.hex(LinuxKernel.KERNEL_ADDR + k.kernelSize - 1), k.versionText(), Le.size(k.kernelSize)));
        byte[] z = new byte[cmdline.length + 1];
        System.arraycopy(cmdline, 0, z, 0, cmdline.length);
        memory.write(CMDLINE_ADDR, z, 0, z.length);
        placements.add("command line " + Le.hex(CMDLINE_ADDR) + " \"" + request.cmdline() + "\"");

        long initrdAddr = 0;
        long initrdSize = 0;
        if (!request.initrds().isEmpty()) {
            for (BootImage i : request.initrds()) {
                checkGzip(who, i);
            }
            byte[] initrd = concat(request.initrds());
            initrdSize = initrd.length;
            long limit = Math.min(k.initrdAddrMax + 1, ramTop);
            initrdAddr = (limit - initrdSize) & ~0xFFFL;
            if (initrdAddr < k.requiredTop) {
                throw new BootException(String.format("%sthe initrd (%s) does not fit between the kernel (up to %s) and"
                                + " %s (the lower of initrd_addr_max and the top of RAM): give the VM more memory",
                        who, Le.size(initrdSize), Le.hex(k.requiredTop), Le.hex(limit)));
            }
            memory.write(initrdAddr, initrd, 0, initrd.length);
            placements.add(String.format("initrd %s-%s (%s)", Le.hex(initrdAddr), Le.hex(initrdAddr + initrdSize - 1),
                    Le.size(initrdSize)));
        }
        MpTable.installFor(request, placements);
        CpuState start = enter(request, k, map, initrdAddr, initrdSize, placements);
        return new BootPlan(name(), start, placements, Map.of());
    }

    /**
     * Writes what this entry needs (boot_params, or the setup code with the BIOS stub) and returns
     * the starting state.
     */
    abstract CpuState enter(BootRequest request, LinuxKernel k, List<MemoryMap.Entry> map, long initrdAddr,
                            long initrdSize, List<String> placements);

    /**
     * A gzip-compressed initrd (the usual initramfs) is inflated once here, so that a truncated or
     * damaged one is refused before the guest runs, instead of Linux reporting "Initramfs unpacking
     * failed" and panicking for want of a root file system. Other formats are left to the kernel.
     */
    static void checkGzip(String who, BootImage image) {
        byte[] d = image.data();
        if (d.length < 2 || (d[0] & 0xFF) != 0x1F || (d[1] & 0xFF) != 0x8B) {
            return;
        }
        byte[] sink = new byte[64 * 1024];
        try (java.util.zip.GZIPInputStream in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(d))) {
            while (in.read(sink) >= 0) {
                // only the stream's integrity (and its CRC, checked at its end) matters
            }
        } catch (java.io.IOException e) {
            throw new BootException(String.format("%sinitrd %s (%s) is a damaged gzip stream (%s): truncated or corrupt?",
                    who, image.path(), Le.size(d.length), e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        }
    }

    private static byte[] concat(List<BootImage> images) {
        if (images.size() == 1) {
            return images.get(0).data();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (BootImage i : images) {
            out.writeBytes(i.data());
            while (out.size() % 4 != 0) { // cpio archives are 4-byte aligned
                out.write(0);
            }
        }
        return out.toByteArray();
    }

    /** Fills the header fields a boot loader writes (boot.rst, "Details of Header Fields"). */
    static void fillHeader(byte[] header, LinuxKernel k, long initrdAddr, long initrdSize) {
        header[LinuxKernel.TYPE_OF_LOADER] = (byte) LinuxKernel.LOADER_UNDEFINED;
        Le.put32(header, LinuxKernel.CMD_LINE_PTR, CMDLINE_ADDR);
        Le.put32(header, LinuxKernel.RAMDISK_IMAGE, initrdAddr);
        Le.put32(header, LinuxKernel.RAMDISK_SIZE, initrdSize);
    }
}
