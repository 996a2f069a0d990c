package org.polyvisor.cpu.interpreter.internal;

import java.nio.ByteBuffer;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.cpu.interpreter.core.BlockRunner;
import org.polyvisor.cpu.interpreter.core.InterpreterCore;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.LazyFlags;
import org.polyvisor.x86.X86Exception;

/**
 * The interpreter's side of {@link InterpreterCore}: an {@link InterpreterEngine} and the live state
 * of its {@link Cpu}. Public only so the exported interface can create it; not exported.
 */
public final class CoreBridge implements InterpreterCore {

    private final InterpreterEngine engine;
    private final Cpu c;

    private CoreBridge(VcpuContext context) {
        this.engine = new InterpreterEngine(context);
        this.c = engine.cpu();
    }

    /**
     * @param context the vCPU's context
     * @return a new interpreter core
     */
    public static InterpreterCore create(VcpuContext context) {
        return new CoreBridge(context);
    }

    @Override
    public CpuEngine engine() {
        return engine;
    }

    @Override
    public void blockRunner(BlockRunner runner) {
        engine.blockRunner(runner);
    }

    @Override
    public void addRetired(long n) {
        engine.addRetired(n);
    }

    @Override
    public void event(int event, int vector, int eip, int next) {
        c.startEip = eip;
        c.startEsp = c.r[Cpu.ESP];
        c.eip = next;
        try {
            switch (event) {
                case EVENT_INT -> Control.interrupt(c, vector & 0xFF);
                case EVENT_INT3 -> Interrupts.raise(c, ExceptionVectors.BP, 0, false, Interrupts.SOFTWARE, 0);
                case EVENT_INTO -> Control.into(c);
                case EVENT_UD2 -> throw X86Exception.invalidOpcode(); // caught below, as the loop catches it
                case EVENT_IRET16 -> Control.iret(c, 2);
                case EVENT_IRET32 -> Control.iret(c, 4);
                default -> throw new IllegalArgumentException("no event instruction " + event);
            }
        } catch (X86Exception e) {
            Interrupts.fault(c, e, true);
        }
        c.pollIrq = true;
    }

    @Override
    public int[] registers() {
        return c.r;
    }

    @Override
    public int eip() {
        return c.eip;
    }

    @Override
    public void setEip(int eip) {
        c.eip = eip;
    }

    @Override
    public LazyFlags lazyFlags() {
        return c.lazy;
    }

    @Override
    public void beginInstruction(int eip, int esp) {
        c.startEip = eip;
        c.startEsp = esp;
    }

    @Override
    public int[] segmentBases() {
        return c.segBase;
    }

    @Override
    public int segmentGeneration() {
        return c.segmentGeneration;
    }

    @Override
    public int[] segmentLimits() {
        return c.segLimit;
    }

    @Override
    public long[] readLow() {
        return c.readLo;
    }

    @Override
    public long[] readHigh() {
        return c.readHi;
    }

    @Override
    public long[] writeLow() {
        return c.writeLo;
    }

    @Override
    public long[] writeHigh() {
        return c.writeHi;
    }

    @Override
    public long[] tlbReadTag() {
        return c.tlb.readTag;
    }

    @Override
    public long[] tlbReadPhys() {
        return c.tlb.readPhys;
    }

    @Override
    public long[] tlbWriteTag() {
        return c.tlb.writeTag;
    }

    @Override
    public long[] tlbWritePhys() {
        return c.tlb.writePhys;
    }

    @Override
    public ByteBuffer[] tlbReadBuffers() {
        return c.tlb.readBuf;
    }

    @Override
    public int[] tlbReadOffsets() {
        return c.tlb.readOff;
    }

    @Override
    public ByteBuffer[] tlbWriteBuffers() {
        return c.tlb.writeBuf;
    }

    @Override
    public int[] tlbWriteOffsets() {
        return c.tlb.writeOff;
    }

    @Override
    public GuestMemory memory() {
        return c.memory;
    }

    @Override
    public boolean code32() {
        return c.code32;
    }

    @Override
    public boolean stack32() {
        return c.stack32;
    }

    @Override
    public int cpl() {
        return c.cpl;
    }

    @Override
    public int systemFlags() {
        return c.flags;
    }

    @Override
    public int read(int seg, int off, int size) {
        return c.read(seg, off, size);
    }

    @Override
    public void write(int seg, int off, int size, int value) {
        c.write(seg, off, size, value);
    }

    @Override
    public long codeAddress(long linear) {
        boolean user = c.cpl == 3;
        try {
            c.readLinear(linear & 0xFFFF_FFFFL, 1, user); // fills the read TLB, or faults
        } catch (X86Exception e) {
            return -1;
        }
        int i = Tlb.index(linear);
        if (c.tlb.readTag[i] != Tlb.key(linear, user) || (c.tlb.readPhys[i] & Tlb.MMIO) != 0) {
            return -1;
        }
        return c.tlb.readPhys[i] | (linear & 0xFFF);
    }
}
