package org.polyvisor.boot.internal;

import java.util.List;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.memory.GuestMemory;

/**
 * The {@code linux} loader: runs the kernel's real-mode setup code, as a BIOS boot loader does.
 * The setup code (the file's first {@code (setup_sects + 1) * 512} bytes) goes to 0x10000 and is
 * entered at 1020:0000 with the data segments at 0x1000 and the stack below the command line; it
 * collects the memory map through INT 15h E820h from the BIOS stub, then enters the protected-mode
 * kernel itself.
 */
@Component(service = BootLoader.class, property = "polyvisor.name=" + LinuxSetupLoader.NAME)
public final class LinuxSetupLoader extends LinuxLoader {

    /** The loader's name. */
    static final String NAME = "linux";
    /** Where the setup code goes (boot.rst, "Loading The Rest of The Kernel": 0x10000 for a modern bzImage). */
    static final long REAL_ADDR = 0x1_0000L;
    /** heap_end_ptr: the heap ends 0x200 below the command line, relative to the setup code. */
    static final int HEAP_END = (int) (CMDLINE_ADDR - REAL_ADDR - 0x200);
    /** Initial SP: just below the command line. */
    static final int STACK_TOP = (int) (CMDLINE_ADDR - REAL_ADDR - 0x10);

    /** Creates the loader; DS calls this. */
    public LinuxSetupLoader() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Linux boot protocol >= 2.02 (bzImage), entering the real-mode setup code with a minimal BIOS (e820)";
    }

    @Override
    public int probe(BootImage kernel) {
        return LinuxKernel.recognises(kernel.data()) ? 100 : NOT_RECOGNISED;
    }

    @Override
    CpuState enter(BootRequest request, LinuxKernel k, List<MemoryMap.Entry> map, long initrdAddr, long initrdSize,
                   List<String> placements) {
        GuestMemory memory = request.memory();
        byte[] setup = java.util.Arrays.copyOf(k.image.data(), k.setupSize);
        fillHeader(setup, k, initrdAddr, initrdSize);
        setup[LinuxKernel.LOADFLAGS] |= (byte) LinuxKernel.CAN_USE_HEAP;
        Le.put16(setup, LinuxKernel.HEAP_END_PTR, HEAP_END);
        memory.write(REAL_ADDR, setup, 0, setup.length);
        BiosStub.install(memory, map);
        placements.add(String.format("setup code %s-%s, entered in real mode at %04x:0000",
                Le.hex(REAL_ADDR), Le.hex(REAL_ADDR + k.setupSize - 1), (REAL_ADDR >> 4) + 0x20));
        placements.add(String.format("BIOS stub and e820 (%d entries) at %s", map.size(), Le.hex(BiosStub.BASE)));

        int seg = (int) (REAL_ADDR >>> 4);
        CpuState.Builder b = request.resetState().toBuilder();
        for (int i = 0; i < 8; i++) {
            b.gpr(i, 0);
        }
        SegmentRegister data = SegmentRegister.realMode(seg);
        for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
            b.segment(s, data);
        }
        // CS = the setup segment + 0x20: the setup code's entry is 0x200 into the image (boot.rst).
        b.segment(CpuState.CS, new SegmentRegister(seg + 0x20, (long) (seg + 0x20) << 4, 0xFFFF,
                SegmentRegister.REAL_MODE_CODE));
        b.rip(0);
        b.gpr(CpuState.RSP, STACK_TOP);
        b.rflags(0x2);
        return b.build();
    }
}
