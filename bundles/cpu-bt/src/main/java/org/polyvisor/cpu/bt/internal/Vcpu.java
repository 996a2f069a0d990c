package org.polyvisor.cpu.bt.internal;

import java.nio.ByteBuffer;
import org.polyvisor.cpu.interpreter.core.InterpreterCore;
import org.polyvisor.memory.GuestMemory;
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

    /** Per TLB slot, the buffer backing the page (null: slow path) and the page's offset in it. */
    final ByteBuffer[] readBuf;
    final int[] readOff;
    final ByteBuffer[] writeBuf;
    final int[] writeOff;

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
        this.readBuf = core.tlbReadBuffers();
        this.readOff = core.tlbReadOffsets();
        this.writeBuf = core.tlbWriteBuffers();
        this.writeOff = core.tlbWriteOffsets();
    }
}
