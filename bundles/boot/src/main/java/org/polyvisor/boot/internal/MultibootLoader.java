package org.polyvisor.boot.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.boot.BootException;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.boot.BootPlan;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.part.Availability;

/**
 * The {@code multiboot} loader: Multiboot Specification 0.6.96. Finds the header in the image's
 * first 8 KiB, loads an ELF32 kernel by its program headers or an a.out-kludge kernel by the
 * header's address fields, places the modules page-aligned after the kernel, and builds the
 * information structure (memory sizes, command line, modules, memory map, boot loader name) in low
 * memory. The kernel starts in flat 32-bit protected mode with EAX = 0x2BADB002 and EBX the
 * structure's address.
 */
@Component(service = BootLoader.class, property = "polyvisor.name=" + MultibootLoader.NAME)
public final class MultibootLoader implements BootLoader {

    /** The loader's name. */
    static final String NAME = "multiboot";
    /** Header magic (spec 3.1.2). */
    static final long HEADER_MAGIC = 0x1BAD_B002L;
    /** EAX at entry (spec 3.2). */
    static final long BOOTLOADER_MAGIC = 0x2BAD_B002L;
    /** The header lies in the first 8192 bytes, 32-bit aligned. */
    static final int SEARCH = 8192;
    /** Header flags (spec 3.1.2). */
    static final int PAGE_ALIGN = 1;
    static final int MEMORY_INFO = 1 << 1;
    static final int VIDEO_MODE = 1 << 2;
    static final int AOUT_KLUDGE = 1 << 16;
    /** Information flags (spec 3.3). */
    static final int INFO_MEMORY = 1;
    static final int INFO_CMDLINE = 1 << 2;
    static final int INFO_MODS = 1 << 3;
    static final int INFO_MMAP = 1 << 6;
    static final int INFO_LOADER_NAME = 1 << 9;
    /** Where the information structure and its strings go, and how far they may extend. */
    static final long INFO_BASE = 0x9000;
    static final long INFO_LIMIT = 0x9_F000L;
    /** Conventional memory ends at the EBDA, as on a PC with a BIOS (mem_lower 639 KiB). */
    static final long EBDA = 0x9_FC00L;
    /** The boot loader name passed in the structure. */
    static final String LOADER_NAME = "polyvisor";

    /** Creates the loader; DS calls this. */
    public MultibootLoader() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Multiboot v1 kernels (ELF32 or a.out kludge), with modules, command lines and the memory map";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public int probe(BootImage kernel) {
        return headerOffset(kernel.data()) >= 0 ? 40 : NOT_RECOGNISED;
    }

    /** The offset of a valid header (magic, flags, checksum summing to 0), or -1. */
    static int headerOffset(byte[] d) {
        int end = Math.min(d.length, SEARCH) - 12;
        for (int off = 0; off <= end; off += 4) {
            if (Le.u32(d, off) == HEADER_MAGIC && ((Le.u32(d, off) + Le.u32(d, off + 4) + Le.u32(d, off + 8))
                    & 0xFFFF_FFFFL) == 0) {
                return off;
            }
        }
        return -1;
    }

    /** One piece of the kernel to place: file bytes, then zeros up to memSize. */
    record Segment(long addr, int fileOffset, int fileSize, long memSize) {
        long end() {
            return addr + memSize;
        }
    }

    @Override
    public BootPlan load(BootRequest request) {
        String who = request.who();
        byte[] d = request.kernel().data();
        int hdr = headerOffset(d);
        if (hdr < 0) {
            throw new BootException(who + "no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB");
        }
        long flags = Le.u32(d, hdr + 4);
        long unknown = flags & 0xFFF8L; // bits 0-15 are requirements; we meet 0 and 1, ignore 2
        if (unknown != 0) {
            throw new BootException(String.format("%sthe Multiboot header requires features 0x%x this loader does not"
                    + " know (flags 0x%08x)", who, unknown, flags));
        }
        List<Segment> segments = new ArrayList<>();
        long entry;
        String format;
        if ((flags & AOUT_KLUDGE) != 0) {
            entry = aout(d, hdr, who, segments);
            format = "a.out kludge";
        } else {
            entry = elf(d, who, segments);
            format = "ELF32";
        }
        GuestMemory memory = request.memory();
        List<MemoryMap.Entry> map = MemoryMap.of(memory, EBDA);
        long ramTop = MemoryMap.extendedTop(map);
        long kernelEnd = 0;
        long kernelStart = Long.MAX_VALUE;
        for (Segment s : segments) {
            if (s.addr() < INFO_LIMIT && s.end() > INFO_BASE) {
                throw new BootException(String.format("%sa segment at %s-%s overlaps the loader's information area"
                        + " %s-%s", who, Le.hex(s.addr()), Le.hex(s.end() - 1), Le.hex(INFO_BASE), Le.hex(INFO_LIMIT - 1)));
            }
            if (!inRam(map, s.addr(), s.end())) {
                throw new BootException(String.format("%sthe segment at %s-%s is not in the VM's RAM (RAM from 1 MiB"
                        + " ends at %s): give it more memory", who, Le.hex(s.addr()), Le.hex(s.end() - 1), Le.hex(ramTop)));
            }
            kernelEnd = Math.max(kernelEnd, s.end());
            kernelStart = Math.min(kernelStart, s.addr());
        }
        if (segments.isEmpty()) {
            throw new BootException(who + "the kernel has nothing to load");
        }
        List<String> placements = new ArrayList<>();
        for (Segment s : segments) {
            memory.write(s.addr(), d, s.fileOffset(), s.fileSize());
            zero(memory, s.addr() + s.fileSize(), s.memSize() - s.fileSize());
        }
        placements.add(String.format("kernel %s-%s (Multiboot, %s, %d segment%s), entry %s", Le.hex(kernelStart),
                Le.hex(kernelEnd - 1), format, segments.size(), segments.size() == 1 ? "" : "s", Le.hex(entry)));

        Info info = new Info(memory);
        long infoAddr = info.alloc(88);
        long cmdline = info.string(request.kernel().path() + (request.cmdline().isEmpty() ? "" : " " + request.cmdline()));
        long loaderName = info.string(LOADER_NAME);
        List<BootImage> mods = request.initrds();
        long modsAddr = info.alloc(16L * mods.size());
        long next = pageUp(kernelEnd);
        for (int i = 0; i < mods.size(); i++) {
            BootImage m = mods.get(i);
            long start = next;
            long end = start + m.size();
            if (!inRam(map, start, Math.max(end, start + 1))) {
                throw new BootException(String.format("%smodule '%s' (%s) does not fit in RAM after the kernel"
                        + " (at %s, RAM ends at %s): give the VM more memory", who, m.path(), Le.size(m.size()),
                        Le.hex(start), Le.hex(ramTop)));
            }
            memory.write(start, m.data(), 0, m.size());
            long string = info.string(m.commandLine());
            memory.writeDword(modsAddr + 16L * i, (int) start);
            memory.writeDword(modsAddr + 16L * i + 4, (int) end);
            memory.writeDword(modsAddr + 16L * i + 8, (int) string);
            memory.writeDword(modsAddr + 16L * i + 12, 0);
            placements.add(String.format("module %d %s-%s '%s'", i, Le.hex(start), Le.hex(Math.max(end - 1, start)),
                    m.commandLine()));
            next = pageUp(end);
        }
        long mmapAddr = info.alloc(24L * map.size());
        for (int i = 0; i < map.size(); i++) {
            MemoryMap.Entry e = map.get(i);
            long at = mmapAddr + 24L * i;
            memory.writeDword(at, 20); // size of the rest of the entry
            memory.writeQword(at + 4, e.base());
            memory.writeQword(at + 12, e.length());
            memory.writeDword(at + 20, e.type());
        }
        zero(memory, infoAddr, 88);
        memory.writeDword(infoAddr, INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MMAP | INFO_LOADER_NAME);
        memory.writeDword(infoAddr + 4, (int) (MemoryMap.conventionalTop(map) >>> 10));
        memory.writeDword(infoAddr + 8, (int) ((ramTop - MemoryMap.ONE_MIB) >>> 10));
        memory.writeDword(infoAddr + 16, (int) cmdline);
        memory.writeDword(infoAddr + 20, mods.size());
        memory.writeDword(infoAddr + 24, (int) modsAddr);
        memory.writeDword(infoAddr + 44, 24 * map.size());
        memory.writeDword(infoAddr + 48, (int) mmapAddr);
        memory.writeDword(infoAddr + 64, (int) loaderName);
        placements.add(String.format("information structure %s (mmap: %d entries, %d module%s)", Le.hex(infoAddr),
                map.size(), mods.size(), mods.size() == 1 ? "" : "s"));
        MpTable.installFor(request, placements);
        CpuState start = ProtectedMode.flat(memory, request.resetState())
                .rip(entry)
                .gpr(CpuState.RAX, BOOTLOADER_MAGIC)
                .gpr(CpuState.RBX, infoAddr)
                .build();
        return new BootPlan(NAME, start, placements, Map.of());
    }

    private static long aout(byte[] d, int hdr, String who, List<Segment> out) {
        if (hdr + 32 > d.length) {
            throw new BootException(who + "truncated Multiboot header (a.out kludge fields missing)");
        }
        long headerAddr = Le.u32(d, hdr + 12);
        long loadAddr = Le.u32(d, hdr + 16);
        long loadEnd = Le.u32(d, hdr + 20);
        long bssEnd = Le.u32(d, hdr + 24);
        long entry = Le.u32(d, hdr + 28);
        long fileOffset = hdr - (headerAddr - loadAddr);
        if (loadAddr > headerAddr || fileOffset < 0) {
            throw new BootException(String.format("%sMultiboot header_addr %s is below load_addr %s or before the file",
                    who, Le.hex(headerAddr), Le.hex(loadAddr)));
        }
        long fileSize = loadEnd == 0 ? d.length - fileOffset : loadEnd - loadAddr;
        if (loadEnd != 0 && loadEnd < loadAddr || fileOffset + fileSize > d.length) {
            throw new BootException(String.format("%struncated: Multiboot load_end_addr %s asks for %d bytes from file"
                    + " offset %d, the file has %d", who, Le.hex(loadEnd), fileSize, fileOffset, d.length));
        }
        long memSize = bssEnd == 0 ? fileSize : bssEnd - loadAddr;
        if (memSize < fileSize) {
            throw new BootException(who + "Multiboot bss_end_addr " + Le.hex(bssEnd) + " is below load_end_addr");
        }
        out.add(new Segment(loadAddr, (int) fileOffset, (int) fileSize, memSize));
        return entry;
    }

    private static long elf(byte[] d, String who, List<Segment> out) {
        if (d.length < 52 || Le.u32(d, 0) != 0x464C_457FL) {
            throw new BootException(who + "the Multiboot header has no a.out kludge and the kernel is not ELF");
        }
        if (d[4] != 1 || d[5] != 1 || Le.u16(d, 18) != 3) {
            throw new BootException(who + "not a 32-bit little-endian i386 ELF (class " + d[4] + ", data " + d[5]
                    + ", machine " + Le.u16(d, 18) + ")");
        }
        long entry = Le.u32(d, 24);
        long phoff = Le.u32(d, 28);
        int phentsize = Le.u16(d, 42);
        int phnum = Le.u16(d, 44);
        if (phentsize < 32 || phoff + (long) phentsize * phnum > d.length) {
            throw new BootException(who + "truncated ELF: program headers past the end of the file");
        }
        long physEntry = entry;
        for (int i = 0; i < phnum; i++) {
            int ph = (int) (phoff + (long) phentsize * i);
            if (Le.u32(d, ph) != 1) { // PT_LOAD
                continue;
            }
            long offset = Le.u32(d, ph + 4);
            long vaddr = Le.u32(d, ph + 8);
            long paddr = Le.u32(d, ph + 12);
            long filesz = Le.u32(d, ph + 16);
            long memsz = Le.u32(d, ph + 20);
            if (offset + filesz > d.length || memsz < filesz) {
                throw new BootException(String.format("%struncated ELF: segment %d needs file bytes %d-%d, the file has %d",
                        who, i, offset, offset + filesz, d.length));
            }
            if (memsz == 0) {
                continue;
            }
            out.add(new Segment(paddr, (int) offset, (int) filesz, memsz));
            // A kernel linked at virtual addresses is entered at the physical address of its entry
            // (as GRUB and QEMU do).
            if (entry >= vaddr && entry < vaddr + memsz) {
                physEntry = entry - vaddr + paddr;
            }
        }
        return physEntry;
    }

    private static boolean inRam(List<MemoryMap.Entry> map, long start, long end) {
        for (MemoryMap.Entry e : map) {
            if (e.type() == MemoryMap.RAM && start >= e.base() && end <= e.end()) {
                return true;
            }
        }
        return false;
    }

    private static long pageUp(long a) {
        return (a + 0xFFF) & ~0xFFFL;
    }

    private static void zero(GuestMemory memory, long at, long length) {
        byte[] z = new byte[4096];
        for (long done = 0; done < length; done += z.length) {
            memory.write(at + done, z, 0, (int) Math.min(z.length, length - done));
        }
    }

    /** Bump allocation in the information area. */
    private static final class Info {
        private final GuestMemory memory;
        private long next = INFO_BASE;

        Info(GuestMemory memory) {
            this.memory = memory;
        }

        long alloc(long size) {
            long at = next;
            next = (next + size + 7) & ~7L;
            if (next > INFO_LIMIT) {
                throw new BootException("the Multiboot information (command lines, modules, memory map) does not fit in "
                        + Le.hex(INFO_BASE) + "-" + Le.hex(INFO_LIMIT - 1));
            }
            return at;
        }

        long string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            long at = alloc(b.length + 1L);
            memory.write(at, b, 0, b.length);
            memory.writeByte(at + b.length, 0);
            return at;
        }
    }
}
