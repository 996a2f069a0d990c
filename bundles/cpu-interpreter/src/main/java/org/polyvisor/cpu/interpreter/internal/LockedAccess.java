package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.memory.GuestMemory;

/**
 * The destination access of a locked read-modify-write: an instruction with a LOCK prefix, or XCHG
 * with a memory operand (SDM Vol. 3A 9.1.2 "bus locking"). With several vCPUs on their own threads,
 * such an instruction must read and write its destination with no store of another processor in
 * between, locked or not: a spin lock taken with {@code lock bts} and released with a plain
 * {@code mov $0} loses the release when the store lands between the read and the write of another
 * processor's {@code lock bts}, and the lock then stays taken for ever.
 *
 * <p>The first read of a destination that lies in RAM inside one aligned dword reads the whole
 * dword and remembers it; the write of the same bytes stores the dword with those bytes replaced
 * only if memory still holds what was read (a compare-and-swap). If it does not, {@link #RETRY}
 * goes up to {@link Executor#executeLocked}, which puts the registers and flags back and runs the
 * instruction again on what memory holds now. Other accesses of the instruction (MMIO, ROM, a
 * destination that crosses a dword, the upper half of CMPXCHG8B) are plain; the locked
 * instructions of all vCPUs also run one at a time, so those stay atomic with respect to each
 * other.
 */
final class LockedAccess {

    /** The destination changed between the read and the write: run the instruction again. */
    static final class Retry extends RuntimeException {
        private static final long serialVersionUID = 1L;

        private Retry() {
            super("locked destination changed by another processor", null, false, false);
        }
    }

    static final Retry RETRY = new Retry();

    private final Cpu c;
    private final GuestMemory memory;
    /** Whether a destination has been read in this attempt (and not yet written). */
    private boolean held;
    private long linear;
    private int size;
    /** Guest-physical address of the aligned dword holding the destination. */
    private long dword;
    /** What that dword held when it was read. */
    private int seen;

    LockedAccess(Cpu c) {
        this.c = c;
        this.memory = c.memory;
    }

    /** Registers and arithmetic flags before the instruction, for a retry. */
    private final int[] savedRegs = new int[8];
    private int savedFlags;

    /** Keeps the registers and flags a retry starts from. */
    void save() {
        System.arraycopy(c.r, 0, savedRegs, 0, savedRegs.length);
        savedFlags = c.lazy.get();
    }

    /** Puts back what {@link #save} kept (the destination changed under the instruction). */
    void restore() {
        System.arraycopy(savedRegs, 0, c.r, 0, savedRegs.length);
        c.lazy.setAll(savedFlags);
    }

    /** Starts an attempt of a locked instruction. */
    void begin() {
        held = false;
    }

    int read(long linear, int size, boolean user) {
        if (!held && (linear & 3) + size <= 4) {
            // A locked destination is written, so it translates as a write (the fault a
            // read-only page gives is a write fault, as for any read-modify-write).
            long p = c.translateForWrite(linear, user);
            long phys = (p & ~Tlb.MMIO) | (linear & 0xFFF);
            if ((p & Tlb.MMIO) == 0 && memory.isWritable(phys)) {
                held = true;
                this.linear = linear;
                this.size = size;
                dword = phys & ~3L;
                seen = memory.readDword(dword);
                int v = seen >>> (8 * (int) (linear & 3));
                return size == 4 ? v : v & ((1 << (8 * size)) - 1);
            }
        }
        return c.readLinear(linear, size, user);
    }

    void write(long linear, int size, int v, boolean user) {
        if (held && linear == this.linear && size == this.size) {
            held = false;
            int shift = 8 * (int) (linear & 3);
            int mask = (size == 4 ? -1 : (1 << (8 * size)) - 1) << shift;
            int now = (seen & ~mask) | ((v << shift) & mask);
            boolean swapped;
            try {
                swapped = memory.compareAndSwapInt(dword, seen, now);
            } catch (IllegalArgumentException notPlainRam) {
                // e.g. a legacy-window page read from ROM and written to shadow RAM: no single
                // word to swap, so a plain store (the lock of all locked instructions still holds)
                c.writeLinear(linear, size, v, user);
                return;
            }
            if (!swapped) {
                throw RETRY;
            }
            return;
        }
        c.writeLinear(linear, size, v, user);
    }
}
