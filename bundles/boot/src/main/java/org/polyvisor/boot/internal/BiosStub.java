package org.polyvisor.boot.internal;

import java.util.HexFormat;
import java.util.List;
import org.polyvisor.memory.GuestMemory;

/**
 * The real-mode services the Linux setup code needs when it runs without firmware: an interrupt
 * vector table whose entries all lead into a small handler block at the EBDA (0x9F000), which
 * answers INT 15h E820h from the loader's memory map, acknowledges hardware interrupts at the PICs
 * and fails every other service with CF=1 (the setup code then falls back or does without: no
 * video BIOS, no EDD, no APM). Source: {@code src/main/asm/bios-stub.S}; rebuild with
 * {@code build-bios-stub.sh}, which prints the bytes below.
 */
final class BiosStub {

    /** Where the handler block goes: the EBDA, reserved in the memory map. */
    static final long BASE = 0x9_F000L;
    /** Its real-mode segment. */
    static final int SEGMENT = (int) (BASE >>> 4);
    /** Entry offsets in the block (fixed by .org in the source). */
    static final int UNSUPPORTED = 0x00;
    static final int IRQ_MASTER = 0x10;
    static final int IRQ_SLAVE = 0x20;
    static final int INT15 = 0x30;
    /** Offset of the e820 entry count, then of the 20-byte entries. */
    static final int E820_COUNT = 0x400;
    static final int E820_TABLE = 0x404;
    /** Most e820 entries the block holds (as boot_params' table). */
    static final int E820_MAX = 128;
    /** BIOS data area fields (Ralf Brown's interrupt list, "BIOS Data Area"). */
    static final long BDA_COM1 = 0x400;
    static final long BDA_EBDA_SEGMENT = 0x40E;
    static final long BDA_BASE_MEMORY_KIB = 0x413;

    /** bios-stub.S assembled (as --32, ld -Ttext=0 --oformat=binary). */
    static final String CODE_HEX = "b4865589e5804e06015dcf000000000050b020e62058cf00000000000000000050b020e6a0e62058cf00000000000000663d20e8000075c86681fa50414d5375bf2e663b1e000473b71e5657510e1f6bf31481c60404b91400fcf3a4595f5e1f66432e663b1e000472036631db66b850414d5366b9140000005589e5806606fe5dcf";

    private BiosStub() {
    }

    /** @return the assembled handler block */
    static byte[] code() {
        return HexFormat.of().parseHex(CODE_HEX);
    }

    /**
     * Installs the IVT, the BIOS data area fields Linux reads and the handler block with the map.
     *
     * @param memory the guest memory
     * @param map    the e820 map to serve
     */
    static void install(GuestMemory memory, List<MemoryMap.Entry> map) {
        for (int v = 0; v < 256; v++) {
            int entry = UNSUPPORTED;
            if (v >= 0x08 && v <= 0x0F) {
                entry = IRQ_MASTER;
            } else if (v >= 0x70 && v <= 0x77) {
                entry = IRQ_SLAVE;
            } else if (v == 0x15) {
                entry = INT15;
            }
            memory.writeWord(v * 4L, entry);
            memory.writeWord(v * 4L + 2, SEGMENT);
        }
        memory.writeWord(BDA_COM1, 0x3F8);
        memory.writeWord(BDA_EBDA_SEGMENT, SEGMENT);
        memory.writeWord(BDA_BASE_MEMORY_KIB, (int) (BASE >>> 10));
        byte[] code = code();
        memory.write(BASE, code, 0, code.length);
        int n = Math.min(map.size(), E820_MAX);
        memory.writeDword(BASE + E820_COUNT, n);
        for (int i = 0; i < n; i++) {
            MemoryMap.Entry e = map.get(i);
            long at = BASE + E820_TABLE + 20L * i;
            memory.writeQword(at, e.base());
            memory.writeQword(at + 8, e.length());
            memory.writeDword(at + 16, e.type());
        }
    }
}
