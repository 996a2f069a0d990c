package org.polyvisor.cpu.interpreter.internal;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A direct-mapped software TLB: linear page (plus the user/supervisor bit of the access) to
 * guest-physical page, separately for reads and writes, so a hit costs one compare. Entries also
 * say whether the physical page is memory or MMIO, so a hit needs no region search either. A write
 * entry is only filled once the walk has set the dirty bit (and the MMU, if any, need not see
 * writes: {@link org.polyvisor.mmu.Translation#cachesWrites}). Global entries survive a CR3 load
 * while CR4.PGE is set. Physical pages are stored with the A20 mask already applied
 * ({@code Cpu.a20Mask}), so the whole TLB is flushed when the gate changes.
 *
 * <p>An entry for a page that one memory region backs alone also carries that region's host buffer
 * and the page's offset in it, so a hit reads (and, for RAM pages nobody watches, writes) the
 * buffer directly; MMIO, ROM writes, watched pages and pages crossed by an access take the slow
 * path through {@link org.polyvisor.memory.GuestMemory} or the MMIO bus.
 */
final class Tlb {

    static final int SIZE = 256;
    /** Set in a physical entry when the page is not guest memory (goes to the MMIO bus). */
    static final long MMIO = 1L << 62;

    final long[] readTag = new long[SIZE];
    final long[] readPhys = new long[SIZE];
    final long[] writeTag = new long[SIZE];
    final long[] writePhys = new long[SIZE];
    final boolean[] readGlobal = new boolean[SIZE];
    final boolean[] writeGlobal = new boolean[SIZE];
    /** A read entry of a no-execute page (XD with EFER.NXE): instruction fetches may not use it. */
    final boolean[] readNoExec = new boolean[SIZE];
    /** The buffer backing an entry's page, or null (MMIO, no single region); valid while its tag is. */
    final ByteBuffer[] readBuf = new ByteBuffer[SIZE];
    final int[] readOff = new int[SIZE];
    /** As {@link #readBuf}, for RAM pages only (ROM drops writes, so it stays on the slow path). */
    final ByteBuffer[] writeBuf = new ByteBuffer[SIZE];
    final int[] writeOff = new int[SIZE];

    long flushes;

    static long key(long linear, boolean user) {
        return (linear >>> 12) << 2 | (user ? 2 : 0) | 1;
    }

    static int index(long linear) {
        return (int) (linear >>> 12) & (SIZE - 1);
    }

    void flush() {
        Arrays.fill(readTag, 0);
        Arrays.fill(writeTag, 0);
        flushes++;
    }

    /** A CR3 load with CR4.PGE set: global entries stay (SDM Vol. 3A, 4.10.4.1). */
    void flushNonGlobal() {
        for (int i = 0; i < SIZE; i++) {
            if (!readGlobal[i]) {
                readTag[i] = 0;
            }
            if (!writeGlobal[i]) {
                writeTag[i] = 0;
            }
        }
        flushes++;
    }

    void flushPage(long linear) {
        int i = index(linear);
        readTag[i] = 0;
        writeTag[i] = 0;
    }
}
