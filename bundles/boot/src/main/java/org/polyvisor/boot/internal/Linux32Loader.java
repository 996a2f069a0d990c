package org.polyvisor.boot.internal;

import java.util.List;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.memory.GuestMemory;

/**
 * The {@code linux32} loader: enters the kernel at its 32-bit entry point (code32_start) with a
 * filled-in boot_params ("zero page") at 0x7000, as boot loaders that skip the setup code do
 * (boot.rst, "32-bit Boot Protocol"): flat segments 0x10/0x18, paging and interrupts off, ESI
 * pointing at boot_params, the e820 table inside it.
 */
@Component(service = BootLoader.class, property = "polyvisor.name=" + Linux32Loader.NAME)
public final class Linux32Loader extends LinuxLoader {

    /** The loader's name. */
    static final String NAME = "linux32";
    /** Where boot_params goes. */
    static final long ZERO_PAGE = 0x7000;
    /** boot_params fields (arch/x86/include/uapi/asm/bootparam.h). */
    static final int E820_ENTRIES = 0x1E8;
    static final int E820_TABLE = 0x2D0;
    static final int E820_MAX = 128;
    /** screen_info: orig_video_lines/cols (a text console's size, for messages). */
    static final int ORIG_VIDEO_COLS = 0x07;
    static final int ORIG_VIDEO_LINES = 0x0E;

    /** Creates the loader; DS calls this. */
    public Linux32Loader() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "Linux boot protocol >= 2.02 (bzImage), entering the 32-bit entry point with boot_params and e820";
    }

    @Override
    public int probe(BootImage kernel) {
        return LinuxKernel.recognises(kernel.data()) ? 50 : NOT_RECOGNISED;
    }

    @Override
    CpuState enter(BootRequest request, LinuxKernel k, List<MemoryMap.Entry> map, long initrdAddr, long initrdSize,
                   List<String> placements) {
        GuestMemory memory = request.memory();
        byte[] zp = new byte[4096];
        System.arraycopy(k.image.data(), LinuxKernel.SETUP_SECTS, zp, LinuxKernel.SETUP_SECTS,
                k.headerEnd() - LinuxKernel.SETUP_SECTS);
        fillHeader(zp, k, initrdAddr, initrdSize);
        zp[ORIG_VIDEO_COLS] = 80;
        zp[ORIG_VIDEO_LINES] = 25;
        int n = Math.min(map.size(), E820_MAX);
        zp[E820_ENTRIES] = (byte) n;
        for (int i = 0; i < n; i++) {
            MemoryMap.Entry e = map.get(i);
            int at = E820_TABLE + 20 * i;
            Le.put64(zp, at, e.base());
            Le.put64(zp, at + 8, e.length());
            Le.put32(zp, at + 16, e.type());
        }
        memory.write(ZERO_PAGE, zp, 0, zp.length);
        placements.add(String.format("boot_params %s (e820: %d entries), entered at %s in 32-bit protected mode",
                Le.hex(ZERO_PAGE), n, Le.hex(k.code32Start)));
        return ProtectedMode.flat(memory, request.resetState())
                .rip(k.code32Start)
                .gpr(CpuState.RSI, ZERO_PAGE)
                .build();
    }
}
