package org.polyvisor.cpu.bt.internal;

import java.nio.ByteBuffer;
import java.util.List;
import org.polyvisor.cpu.interpreter.core.InterpreterCore;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.x86.LazyFlags;

/**
 * What translated code sees of the vCPU: the interpreter core's live arrays, cached in final fields
 * so a translation reaches a register, a segment window or a TLB slot with one load.
 */
final class Vcpu {

    final InterpreterCore core;
    final int[] r;
    final int[] segBase;
    final int[] segLimit;
    final long[] readLo;
    final long[] readHi;
    final long[] writeLo;
    final long[] writeHi;
    final long[] readTag;
    final long[] readPhys;
    final long[] writeTag;
    final long[] writePhys;
    final GuestMemory mem;
    final LazyFlags lazy;
    /** Set when a translation was dropped while translated code ran (its stores check it). */
    boolean invalidated;
    /** Set when a translation handed an event instruction (INT n, IRET ...) to the core. */
    boolean event;

    // Host side of the interpreter's TLB slots: for the physical page a slot held when it was last
    // seen, the RAM region's backing buffer and the page's offset in it, so a hit goes straight to
    // the buffer. Valid while readPhys/writePhys of the slot still hold that page (checked per use).
    final long[] hostReadPhys = new long[InterpreterCore.TLB_SIZE];
    final ByteBuffer[] hostReadBuf = new ByteBuffer[InterpreterCore.TLB_SIZE];
    final int[] hostReadOff = new int[InterpreterCore.TLB_SIZE];
    final long[] hostWritePhys = new long[InterpreterCore.TLB_SIZE];
    final ByteBuffer[] hostWriteBuf = new ByteBuffer[InterpreterCore.TLB_SIZE];
    final int[] hostWriteOff = new int[InterpreterCore.TLB_SIZE];
    private final MemoryRegion[] regions;

    Vcpu(InterpreterCore core) {
        this.core = core;
        this.r = core.registers();
        this.segBase = core.segmentBases();
        this.segLimit = core.segmentLimits();
        this.readLo = core.readLow();
        this.readHi = core.readHigh();
        this.writeLo = core.writeLow();
        this.writeHi = core.writeHigh();
        this.readTag = core.tlbReadTag();
        this.readPhys = core.tlbReadPhys();
        this.writeTag = core.tlbWriteTag();
        this.writePhys = core.tlbWritePhys();
        this.mem = core.memory();
        this.lazy = core.lazyFlags();
        List<MemoryRegion> rs = mem.regions();
        this.regions = rs == null ? new MemoryRegion[0] : rs.toArray(new MemoryRegion[0]);
        java.util.Arrays.fill(hostReadPhys, -1);
        java.util.Arrays.fill(hostWritePhys, -1);
    }

    /**
     * Points a host slot at the region holding a guest-physical page (a TLB slot's entry), if it
     * is RAM (ROM only for reads) backed by one buffer.
     *
     * @return whether the slot now maps the page
     */
    boolean fillHost(int slot, long page, boolean write) {
        for (MemoryRegion r : regions) {
            if (page >= r.guestBase() && page + 4096 <= r.guestBase() + r.size()
                    && (!write || r.kind() == MemoryRegion.Kind.RAM) && r.size() <= Integer.MAX_VALUE) {
                int off = (int) (page - r.guestBase());
                if (write) {
                    hostWriteBuf[slot] = r.backing();
                    hostWriteOff[slot] = off;
                    hostWritePhys[slot] = page;
                } else {
                    hostReadBuf[slot] = r.backing();
                    hostReadOff[slot] = off;
                    hostReadPhys[slot] = page;
                }
                return true;
            }
        }
        return false;
    }
}
