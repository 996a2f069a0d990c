package org.polyvisor.cpu.interpreter.core;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.x86.LazyFlags;

/**
 * An interpreter engine opened up for a translating engine built on top of it. All methods are for
 * the vCPU thread only. Segment numbers are the x86 encoding (ES=0, CS=1, SS=2, DS=3, FS=4, GS=5),
 * register numbers too (EAX=0 .. EDI=7).
 */
@ProviderType
public interface InterpreterCore {

    /** Bits of {@link #tlbReadPhys()}/{@link #tlbWritePhys()} entries: the page is MMIO, not RAM. */
    long TLB_MMIO = 1L << 62;
    /** Entries in the software TLB (direct mapped by linear page number). */
    int TLB_SIZE = 256;

    /** {@link #event}: INT n. */
    int EVENT_INT = 0;
    /** {@link #event}: INT3. */
    int EVENT_INT3 = 1;
    /** {@link #event}: INTO. */
    int EVENT_INTO = 2;
    /** {@link #event}: UD2 (raises #UD). */
    int EVENT_UD2 = 3;
    /** {@link #event}: IRET with a 16-bit operand size. */
    int EVENT_IRET16 = 4;
    /** {@link #event}: IRETD (32-bit operand size). */
    int EVENT_IRET32 = 5;

    /**
     * Creates an interpreter for a vCPU.
     *
     * @param context the vCPU's context
     * @return a core whose {@link #engine()} is a complete interpreter engine
     */
    static InterpreterCore create(VcpuContext context) {
        return org.polyvisor.cpu.interpreter.internal.CoreBridge.create(context);
    }

    /**
     * Whether a core can present a CPU model ({@link VcpuContext#cpuModel()}): the interpreter's own
     * answer, since the core executes CPUID and the MSRs.
     *
     * @param model a CPU model description, empty for the default
     * @return yes, or no with the reason
     * @since 1.1
     */
    static org.polyvisor.part.Availability acceptsCpuModel(String model) {
        return new org.polyvisor.cpu.interpreter.internal.InterpreterStrategy().acceptsCpuModel(model);
    }

    /**
     * The TLB tag of a linear address: compare with {@code tlbReadTag()[tlbIndex(linear)]}.
     *
     * @param linear a 32-bit linear address
     * @param user   whether the access is a user-mode (CPL 3) access
     * @return the tag
     */
    static long tlbKey(long linear, boolean user) {
        return (linear >>> 12) << 2 | (user ? 2 : 0) | 1;
    }

    /**
     * @param linear a 32-bit linear address
     * @return its slot in the TLB arrays
     */
    static int tlbIndex(long linear) {
        return (int) (linear >>> 12) & (TLB_SIZE - 1);
    }

    /** @return the interpreter engine: run, state import/export, events, statistics */
    CpuEngine engine();

    /**
     * Installs (or removes, with null) the code that may run in place of the interpreter.
     *
     * @param runner the runner
     */
    void blockRunner(BlockRunner runner);

    /**
     * Adds instructions retired by translated code that ended in a guest fault (its count could not
     * be returned by {@link BlockRunner#run}).
     *
     * @param n instructions
     */
    void addRetired(long n);

    /**
     * Executes an instruction that raises an event or returns from one, for translated code, exactly
     * as the interpreter executes it: the gate checks, the stack switch, the double-fault rules. A
     * fault of the instruction or of its delivery is delivered here too, not thrown (only a triple
     * fault leaves, as the interpreter's own does). Before the call the registers and the lazy flags
     * must hold the state at the instruction's start; afterwards EIP, the registers and the flags
     * are where the guest goes on (the handler, or the return address), and the instruction counts
     * as retired, as the interpreter counts it.
     *
     * @param event  one of the {@code EVENT_*} constants
     * @param vector the vector of INT n (ignored for the others)
     * @param eip    the instruction's EIP
     * @param next   the EIP of the instruction after it (the return address of INT n, INT3, INTO)
     * @since 1.2
     */
    void event(int event, int vector, int eip, int next);

    /** @return the eight general registers (live; EAX..EDI) */
    int[] registers();

    /** @return EIP */
    int eip();

    /** @param eip the new EIP (no checks) */
    void setEip(int eip);

    /** @return the lazy arithmetic flags (live) */
    LazyFlags lazyFlags();

    /**
     * Records where the instruction about to run starts, so a fault restores EIP and ESP to it.
     *
     * @param eip its EIP
     * @param esp ESP before it
     */
    void beginInstruction(int eip, int esp);

    /** @return segment bases by segment number (live) */
    int[] segmentBases();

    /**
     * @return a number that changes whenever a segment's base or offset windows may have changed
     *         (a load, a mode change, an import), so derived facts can be cached
     */
    int segmentGeneration();

    /** @return segment limits by segment number (live) */
    int[] segmentLimits();

    /** @return per segment, the lowest offset a read may use; empty window when lo > hi (live) */
    long[] readLow();

    /** @return per segment, the highest offset a read may use (live) */
    long[] readHigh();

    /** @return per segment, the lowest offset a write may use (live) */
    long[] writeLow();

    /** @return per segment, the highest offset a write may use (live) */
    long[] writeHigh();

    /** @return read TLB tags by slot (live; see {@link #tlbKey}) */
    long[] tlbReadTag();

    /** @return read TLB guest-physical page by slot, with {@link #TLB_MMIO} (live) */
    long[] tlbReadPhys();

    /** @return write TLB tags by slot (live) */
    long[] tlbWriteTag();

    /** @return write TLB guest-physical page by slot (live) */
    long[] tlbWritePhys();

    /**
     * @return per read TLB slot, the little-endian buffer backing its page, or null when the page
     *         is MMIO or not backed by one region alone (live; valid while the slot's tag is)
     */
    ByteBuffer[] tlbReadBuffers();

    /** @return per read TLB slot, the offset of its page in {@link #tlbReadBuffers()} (live) */
    int[] tlbReadOffsets();

    /**
     * @return per write TLB slot, the buffer backing its page when it is RAM backed by one region
     *         alone, else null (live; valid while the slot's tag is; watches are not reflected)
     */
    ByteBuffer[] tlbWriteBuffers();

    /** @return per write TLB slot, the offset of its page in {@link #tlbWriteBuffers()} (live) */
    int[] tlbWriteOffsets();

    /** @return the guest's memory */
    GuestMemory memory();

    /** @return whether code runs with 32-bit default operand and address size */
    boolean code32();

    /** @return whether the stack segment is 32-bit (ESP, not SP) */
    boolean stack32();

    /** @return the current privilege level */
    int cpl();

    /** @return EFLAGS without the arithmetic flags (IF, DF, TF, IOPL, VM, ...) */
    int systemFlags();

    /**
     * Reads memory through segmentation and paging, the slow way (MMIO, misses, faults).
     *
     * @param seg  segment number
     * @param off  offset in the segment
     * @param size 1, 2 or 4
     * @return the value, zero-extended
     * @throws org.polyvisor.x86.X86Exception a guest fault
     */
    int read(int seg, int off, int size);

    /**
     * Writes memory through segmentation and paging, the slow way.
     *
     * @param seg   segment number
     * @param off   offset in the segment
     * @param size  1, 2 or 4
     * @param value the value (low {@code size} bytes)
     * @throws org.polyvisor.x86.X86Exception a guest fault
     */
    void write(int seg, int off, int size, int value);

    /**
     * Translates a linear address for an instruction fetch at the current privilege level, filling
     * the TLB.
     *
     * @param linear linear address
     * @return the guest-physical address, or -1 when it is not RAM or would fault
     */
    long codeAddress(long linear);
}
