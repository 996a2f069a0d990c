package org.polyvisor.cpu.interpreter.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.mmu.Translation;
import org.polyvisor.x86.ControlRegisters;
import org.polyvisor.x86.Descriptors;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.LazyFlags;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.CodeFetcher;
import org.polyvisor.x86.decode.Decoder;
import org.polyvisor.x86.decode.Instruction;
import org.polyvisor.x86.paging.PageWalker;

/**
 * The vCPU's architectural state and its memory machinery: registers, lazy flags, segment caches
 * with precomputed limit windows, the software TLB and page walk, the decoded-instruction cache,
 * and operand access for the executor families. Fields are package-private: only this engine's
 * own classes touch them.
 */
final class Cpu implements CodeFetcher {

    static final int ES = 0;
    static final int CS = 1;
    static final int SS = 2;
    static final int DS = 3;
    static final int FS = 4;
    static final int GS = 5;
    static final int ESP = 4;

    /** EFLAGS bits that exist on this CPU (the rest read as 0, bit 1 as 1). */
    static final int EFLAGS_VALID = Eflags.ARITH | Eflags.TF | Eflags.IF | Eflags.DF | Eflags.IOPL | Eflags.NT
            | Eflags.RF | Eflags.VM | Eflags.AC | Eflags.VIF | Eflags.VIP | Eflags.ID;

    final VcpuContext context;
    final GuestMemory memory;
    final PortBus ports;
    final MmioBus mmio;
    final InterruptSource interrupts;
    /** The VM's MMU strategy instance, or null for the built-in walk; re-read at every run (swap). */
    Mmu mmu;
    /** The {@link Mmu#tlbEpoch} this vCPU's TLB was last synchronised with. */
    private long mmuEpoch;

    // ---- general state ----
    final int[] r = new int[8];
    int eip;
    /** EFLAGS without the six arithmetic flags (those live in {@link #lazy}); bit 1 set. */
    int flags = Eflags.FIXED;
    final LazyFlags lazy = new LazyFlags();

    // ---- segments: visible selector and hidden cache ----
    final int[] segSel = new int[6];
    final int[] segBase = new int[6];
    final int[] segLimit = new int[6];
    final int[] segAttr = new int[6];
    /** Per segment, the inclusive offset window valid for reads / writes (empty when lo > hi). */
    final long[] readLo = new long[6];
    final long[] readHi = new long[6];
    final long[] writeLo = new long[6];
    final long[] writeHi = new long[6];
    /** Counts changes of the segment caches (see {@code InterpreterCore.segmentGeneration}). */
    int segmentGeneration;
    SegmentRegister ldtr;
    SegmentRegister tr;
    long gdtBase;
    int gdtLimit;
    long idtBase;
    int idtLimit;

    // ---- control ----
    int cr0;
    int cr2;
    int cr3;
    int cr4;
    long cr8;
    long efer;
    final long[] dr = new long[8];
    final SortedMap<Integer, Long> msrs = new TreeMap<>();
    long tscOffset;
    /** The x87 FPU, with the XMM/MXCSR image FXSAVE carries. */
    final X87 x87 = new X87();
    /** What CPUID and the MSRs report (see {@link Cpuid}). */
    org.polyvisor.x86.CpuModel model = org.polyvisor.x86.CpuModel.DEFAULT;

    // ---- derived mode ----
    boolean pe;
    boolean paging;
    int cpl;
    boolean code32;
    boolean stack32;
    PagingMode pagingMode;

    // ---- events ----
    ActivityState activity = ActivityState.ACTIVE;
    /** Interrupt shadow in effect for the next instruction boundary (CpuState.SHADOW_* bits). */
    int shadow;
    /**
     * The interrupt controller must be asked at the next instruction boundary without a shadow.
     * Cleared there; set again by whatever may make an interrupt deliverable from this thread:
     * every instruction without a fast form (port I/O, STI, POPF, IRET, WRMSR, ...), an MMIO access,
     * any event delivery, and every chunk of the instruction loop, which bounds how long one that
     * arrives from another thread waits (its controller also kicks the vCPU).
     */
    boolean pollIrq = true;
    boolean nmiBlocked;
    boolean nmiPending;
    /** Task switches committed (see {@link TaskSwitch}). */
    long taskSwitches;
    /** Task switches being completed while a fault after their commit point is delivered. */
    int taskNesting;

    // ---- per instruction ----
    int startEip;
    int startEsp;
    boolean stop;
    /** Set when the instruction Executor#execute ran faulted and its fault was delivered. */
    boolean faulted;

    // ---- caches ----
    final Tlb tlb = new Tlb();
    /**
     * {@link VcpuContext#a20Mask()} as of the start of this run; applied when the TLB is filled, so
     * the TLB (and the fetch page) is flushed whenever it changes ({@link #syncDecoding}).
     */
    long a20Mask = -1L;
    /** The {@link GuestMemory#legacyDecodeChanges()} the TLB's host buffers were filled under. */
    private long legacyDecodeChanges;
    final CodeCache codeCache;
    private long fetchKey;
    private long fetchPhysPage;
    private CodeCache.Page fetchPage;
    /**
     * The fetch window (see {@link #fetchAt(int)}): EIP {@code fetchIpBase + d} is offset {@code d} of
     * the fetch page, whose decodes for the current code size are {@code fetchSlots}; an
     * instruction whose last byte is below {@code fetchIpBase + fetchIpCount} may be served from
     * it. Closed (no slots) whenever the fetch page, CS, CPL or the TLB change.
     */
    private Instruction[] fetchSlots = NO_SLOTS;
    private static final Instruction[] NO_SLOTS = new Instruction[0];
    private int fetchIpBase;
    private int fetchIpCount;
    /** Slow-path fetch state (used while decoding). */
    private long fetchLinear;
    private boolean fetchUncacheable;
    private final Instruction scratch = new Instruction();

    /** Set while a locked read-modify-write runs ({@link Executor#executeLocked}). */
    boolean locking;
    final LockedAccess lockedAccess;

    long tlbMisses;
    long exceptions;
    long interruptsDelivered;
    long portIo;
    long mmioAccesses;

    Cpu(VcpuContext context) {
        this.context = context;
        this.memory = context.memory();
        this.ports = context.ports();
        this.mmio = context.mmio();
        this.interrupts = context.interrupts() == null ? InterruptSource.NONE : context.interrupts();
        this.mmu = currentMmu();
        this.codeCache = new CodeCache(memory);
        this.lockedAccess = new LockedAccess(this);
    }

    // =====================================================================================
    // Flags
    // =====================================================================================

    int getFlags() {
        return flags | lazy.get();
    }

    void setFlags(int value) {
        flags = (value & EFLAGS_VALID & ~Eflags.ARITH) | Eflags.FIXED;
        lazy.setAll(value);
    }

    boolean cf() {
        return lazy.cf();
    }

    void setCf(boolean c) {
        int f = lazy.get();
        lazy.setAll(c ? f | Eflags.CF : f & ~Eflags.CF);
    }

    int iopl() {
        return (flags & Eflags.IOPL) >>> Eflags.IOPL_SHIFT;
    }

    boolean v86() {
        return (flags & Eflags.VM) != 0;
    }

    // =====================================================================================
    // Registers
    // =====================================================================================

    int reg(int size, int n) {
        if (size == 4) {
            return r[n];
        }
        if (size == 2) {
            return r[n] & 0xFFFF;
        }
        return n < 4 ? r[n] & 0xFF : (r[n - 4] >>> 8) & 0xFF;
    }

    void setReg(int size, int n, int v) {
        if (size == 4) {
            r[n] = v;
        } else if (size == 2) {
            r[n] = (r[n] & 0xFFFF_0000) | (v & 0xFFFF);
        } else if (n < 4) {
            r[n] = (r[n] & 0xFFFF_FF00) | (v & 0xFF);
        } else {
            r[n - 4] = (r[n - 4] & 0xFFFF_00FF) | ((v & 0xFF) << 8);
        }
    }

    // =====================================================================================
    // Operands of decoded instructions
    // =====================================================================================

    int ea(Instruction in) {
        int a = in.disp();
        int base = in.memBase();
        if (base >= 0) {
            a += r[base];
        }
        int index = in.memIndex();
        if (index >= 0) {
            a += r[index] << in.memScale();
        }
        return in.addrSize() == 2 ? a & 0xFFFF : a;
    }

    int readOp(Instruction in, int i) {
        switch (in.kind(i)) {
            case Instruction.KIND_REG:
                return reg(in.size(i), in.reg(i));
            case Instruction.KIND_MEM:
                return read(in.segment(), ea(in), in.size(i));
            case Instruction.KIND_IMM:
                return in.reg(i) == 0 ? in.imm() : in.imm2();
            case Instruction.KIND_SREG:
                return segSel[in.reg(i)];
            default:
                throw new IllegalStateException("cannot read operand " + i + " of " + in);
        }
    }

    void writeOp(Instruction in, int i, int v) {
        switch (in.kind(i)) {
            case Instruction.KIND_REG:
                setReg(in.size(i), in.reg(i), v);
                return;
            case Instruction.KIND_MEM:
                write(in.segment(), ea(in), in.size(i), v);
                return;
            default:
                throw new IllegalStateException("cannot write operand " + i + " of " + in);
        }
    }

    // =====================================================================================
    // Segmented access
    // =====================================================================================

    private X86Exception segFault(int seg) {
        return seg == SS ? X86Exception.stackFault(0) : X86Exception.generalProtection(0);
    }

    long linearRead(int seg, int off, int size) {
        long o = off & 0xFFFF_FFFFL;
        if (o < readLo[seg] || o + size - 1 > readHi[seg]) {
            throw segFault(seg);
        }
        return (segBase[seg] + o) & 0xFFFF_FFFFL;
    }

    long linearWrite(int seg, int off, int size) {
        long o = off & 0xFFFF_FFFFL;
        if (o < writeLo[seg] || o + size - 1 > writeHi[seg]) {
            throw segFault(seg);
        }
        return (segBase[seg] + o) & 0xFFFF_FFFFL;
    }

    int read(int seg, int off, int size) {
        if (locking) {
            return lockedAccess.read(linearRead(seg, off, size), size, cpl == 3);
        }
        return readLinear(linearRead(seg, off, size), size, cpl == 3);
    }

    void write(int seg, int off, int size, int v) {
        if (locking) {
            lockedAccess.write(linearWrite(seg, off, size), size, v, cpl == 3);
            return;
        }
        writeLinear(linearWrite(seg, off, size), size, v, cpl == 3);
    }

    int read8(int seg, int off) {
        return read(seg, off, 1);
    }

    int read16(int seg, int off) {
        return read(seg, off, 2);
    }

    int read32(int seg, int off) {
        return read(seg, off, 4);
    }

    /** Recomputes a segment's offset windows from its cached limit and attributes. */
    void refreshSegment(int seg) {
        segmentGeneration++;
        int attr = segAttr[seg];
        long limit = segLimit[seg] & 0xFFFF_FFFFL;
        long lo = 0;
        long hi = limit;
        boolean readable = true;
        boolean writable = true;
        if (pe && !v86()) {
            if ((attr & SegmentRegister.UNUSABLE) != 0 || (attr & SegmentRegister.S) == 0) {
                readable = false;
                writable = false;
            } else if ((attr & SegmentRegister.TYPE_CODE) != 0) {
                readable = (attr & SegmentRegister.TYPE_RW) != 0 || seg == CS;
                writable = false;
            } else {
                writable = (attr & SegmentRegister.TYPE_RW) != 0;
                if ((attr & SegmentRegister.TYPE_CE) != 0) { // expand-down
                    lo = limit + 1;
                    hi = (attr & SegmentRegister.DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
                }
            }
        }
        readLo[seg] = readable ? lo : 1;
        readHi[seg] = readable ? hi : 0;
        writeLo[seg] = writable ? lo : 1;
        writeHi[seg] = writable ? hi : 0;
        if (seg == CS) {
            code32 = pe && !v86() && (attr & SegmentRegister.DB) != 0;
            closeFetchWindow(); // base, limit or code size may have changed
        } else if (seg == SS) {
            stack32 = (attr & SegmentRegister.DB) != 0;
        }
    }

    void setSegment(int seg, int selector, long base, int limit, int attr) {
        segSel[seg] = selector & 0xFFFF;
        segBase[seg] = (int) base;
        segLimit[seg] = limit;
        segAttr[seg] = attr;
        refreshSegment(seg);
    }

    void refreshAllSegments() {
        for (int s = 0; s < 6; s++) {
            refreshSegment(s);
        }
    }

    // =====================================================================================
    // Descriptor tables
    // =====================================================================================

    /** Reads the 8-byte descriptor a selector names; #GP(selector) if outside its table. */
    long readDescriptor(int selector, boolean external) {
        long base;
        int limit;
        if ((selector & Descriptors.SELECTOR_TI) != 0) {
            if (!ldtr.usable()) {
                throw X86Exception.generalProtection(Descriptors.selectorError(selector, external));
            }
            base = ldtr.base();
            limit = ldtr.limit();
        } else {
            base = gdtBase;
            limit = gdtLimit;
        }
        int index = selector & 0xFFF8;
        if (index + 7 > (limit & 0xFFFF_FFFFL)) {
            throw X86Exception.generalProtection(Descriptors.selectorError(selector, external));
        }
        long addr = base + index;
        int lo = readLinear(addr, 4, false);
        int hi = readLinear(addr + 4, 4, false);
        return (hi & 0xFFFF_FFFFL) << 32 | (lo & 0xFFFF_FFFFL);
    }

    long descriptorAddress(int selector) {
        return ((selector & Descriptors.SELECTOR_TI) != 0 ? ldtr.base() : gdtBase) + (selector & 0xFFF8);
    }

    /** Sets the accessed bit of a code/data descriptor in memory if it is clear. */
    void markAccessed(int selector, long desc) {
        int hi = (int) (desc >>> 32);
        if ((hi & 0x100) == 0) {
            writeLinear(descriptorAddress(selector) + 4, 4, hi | 0x100, false);
        }
    }

    /** MOV/POP/LxS to a data or stack segment register, with the protected-mode checks. */
    void loadSegment(int seg, int selector) {
        selector &= 0xFFFF;
        if (!pe || v86()) {
            int keep = segAttr[seg] & (SegmentRegister.DB | SegmentRegister.G);
            int attr = (seg == CS ? SegmentRegister.REAL_MODE_CODE : SegmentRegister.REAL_MODE_DATA) | keep;
            if (v86()) {
                attr = (seg == CS ? SegmentRegister.REAL_MODE_CODE : SegmentRegister.REAL_MODE_DATA) | (3 << SegmentRegister.DPL_SHIFT);
                setSegment(seg, selector, (long) selector << 4, 0xFFFF, attr);
                return;
            }
            setSegment(seg, selector, (long) selector << 4, segLimit[seg], attr);
            return;
        }
        if (seg == SS) {
            if ((selector & 0xFFFC) == 0) {
                throw X86Exception.generalProtection(0);
            }
            long d = readDescriptor(selector, false);
            int attr = Descriptors.attributes((int) (d >>> 32));
            Descriptors.checkStackSegmentLoad(selector, attr, cpl);
            markAccessed(selector, d);
            setSegment(SS, selector, Descriptors.base((int) d, (int) (d >>> 32)),
                    Descriptors.limit((int) d, (int) (d >>> 32)), attr | SegmentRegister.TYPE_ACCESSED);
            return;
        }
        if ((selector & 0xFFFC) == 0) {
            setSegment(seg, selector, 0, 0, SegmentRegister.UNUSABLE);
            return;
        }
        long d = readDescriptor(selector, false);
        int attr = Descriptors.attributes((int) (d >>> 32));
        Descriptors.checkDataSegmentLoad(selector, attr, cpl);
        markAccessed(selector, d);
        setSegment(seg, selector, Descriptors.base((int) d, (int) (d >>> 32)),
                Descriptors.limit((int) d, (int) (d >>> 32)), attr | SegmentRegister.TYPE_ACCESSED);
    }

    /** Loads CS from a checked descriptor (or real-mode selector) and sets CPL. */
    void loadCodeSegment(int selector, long desc, int newCpl) {
        if (!pe || v86()) {
            int attr = SegmentRegister.REAL_MODE_CODE | (v86() ? 3 << SegmentRegister.DPL_SHIFT : 0);
            setSegment(CS, selector, (long) (selector & 0xFFFF) << 4, v86() ? 0xFFFF : segLimit[CS], attr);
            cpl = v86() ? 3 : 0;
            return;
        }
        int lo = (int) desc;
        int hi = (int) (desc >>> 32);
        markAccessed(selector, desc);
        setCpl(newCpl);
        setSegment(CS, (selector & ~3) | newCpl, Descriptors.base(lo, hi), Descriptors.limit(lo, hi),
                Descriptors.attributes(hi) | SegmentRegister.TYPE_ACCESSED);
    }

    void setCpl(int newCpl) {
        if (newCpl != cpl) {
            cpl = newCpl;
            invalidateFetch();
        }
    }

    /** After a return to an outer ring: data segments the new CPL may not use become null. */
    void nullifyDataSegments() {
        for (int seg : new int[] {ES, DS, FS, GS}) {
            int attr = segAttr[seg];
            if ((attr & SegmentRegister.UNUSABLE) == 0 && (Descriptors.isData(attr) || !Descriptors.isConforming(attr))
                    && Descriptors.dpl(attr) < cpl) {
                setSegment(seg, 0, 0, 0, SegmentRegister.UNUSABLE);
            }
        }
    }

    // =====================================================================================
    // Stack
    // =====================================================================================

    int sp() {
        return stack32 ? r[ESP] : r[ESP] & 0xFFFF;
    }

    void setSp(int v) {
        if (stack32) {
            r[ESP] = v;
        } else {
            r[ESP] = (r[ESP] & 0xFFFF_0000) | (v & 0xFFFF);
        }
    }

    void push(int size, int v) {
        int sp = (sp() - size) & (stack32 ? -1 : 0xFFFF);
        write(SS, sp, size, v);
        setSp(sp);
    }

    int pop(int size) {
        int sp = sp();
        int v = read(SS, sp, size);
        setSp(sp + size);
        return v;
    }

    /** Reads a stack slot {@code offset} bytes above the stack pointer, without popping. */
    int peek(int offset, int size) {
        return read(SS, (sp() + offset) & (stack32 ? -1 : 0xFFFF), size);
    }

    // =====================================================================================
    // Linear and physical access
    // =====================================================================================

    private long translate(long linear, boolean write, boolean user) {
        int idx = Tlb.index(linear);
        long key = Tlb.key(linear, user);
        if (write) {
            if (tlb.writeTag[idx] == key) {
                return tlb.writePhys[idx];
            }
        } else if (tlb.readTag[idx] == key) {
            return tlb.readPhys[idx];
        }
        return fill(linear, write ? Access.WRITE : Access.READ, user);
    }

    /** Translates a linear address for a write (a locked destination); the entry may carry {@link Tlb#MMIO}. */
    long translateForWrite(long linear, boolean user) {
        return translate(linear, true, user);
    }

    /**
     * Translates for an instruction fetch: served by the read TLB unless its entry is a no-execute
     * page, else an {@link Access#EXECUTE} translation (which raises #PF with I/D for XD pages).
     */
    private long translateFetch(long linear, boolean user) {
        int idx = Tlb.index(linear);
        if (tlb.readTag[idx] == Tlb.key(linear, user) && !tlb.readNoExec[idx]) {
            return tlb.readPhys[idx];
        }
        return fill(linear, Access.EXECUTE, user);
    }

    private long fill(long linear, Access access, boolean user) {
        tlbMisses++;
        long res;
        boolean write = access == Access.WRITE;
        try {
            if (mmu != null) {
                // Also with paging off: a nested table (slat) applies to guest-physical addresses.
                res = mmu.translate(context.vcpuId(), pagingMode, linear, access, user);
            } else if (!paging) {
                res = (linear & 0xFFFF_F000L) | Translation.WRITABLE | Translation.DIRTY;
            } else {
                res = PageWalker.walk(memory, pagingMode, linear, access, user);
            }
        } catch (PageFault pf) {
            throw X86Exception.pageFault(linear, pf.errorCode());
        }
        // The A20 gate masks physical addresses; folded into the fill so a TLB hit needs nothing.
        long physPage = Translation.page(res) & a20Mask;
        long entry = memory.isMemory(physPage) ? physPage : physPage | Tlb.MMIO;
        int idx = Tlb.index(linear);
        long key = Tlb.key(linear, user);
        boolean global = Translation.global(res) && (cr4 & ControlRegisters.CR4_PGE) != 0;
        MemoryRegion region = (entry & Tlb.MMIO) != 0 ? null : soleRegion(physPage, write);
        if (write) {
            if (Translation.cachesWrites(res)) {
                tlb.writeTag[idx] = key;
                tlb.writePhys[idx] = entry;
                tlb.writeGlobal[idx] = global;
                boolean ram = region != null && region.kind() == MemoryRegion.Kind.RAM && !region.backing().isReadOnly();
                tlb.writeBuf[idx] = ram ? region.backing() : null;
                tlb.writeOff[idx] = ram ? (int) (physPage - region.guestBase()) : 0;
            }
        } else {
            tlb.readTag[idx] = key;
            tlb.readPhys[idx] = entry;
            tlb.readGlobal[idx] = global;
            tlb.readNoExec[idx] = Translation.noExecute(res);
            tlb.readBuf[idx] = region == null ? null : region.backing();
            tlb.readOff[idx] = region == null ? 0 : (int) (physPage - region.guestBase());
        }
        return entry;
    }

    /**
     * The region whose buffer holds a whole guest-physical page, when exactly one region maps it (a
     * memory may lay ROM over RAM; such pages keep going through {@link GuestMemory}, which knows
     * which one wins), and the buffer is little-endian as {@link MemoryRegion} asks. Pages of the
     * legacy window decode as the chipset set them ({@link GuestMemory#decodedRegion}), read and
     * write apart (ROM read, shadow RAM written, say); {@link #syncDecoding} drops them when that moves.
     */
    private MemoryRegion soleRegion(long physPage, boolean write) {
        if (physPage >= GuestMemory.LEGACY_WINDOW_START && physPage < GuestMemory.LEGACY_WINDOW_END) {
            MemoryRegion r = memory.decodedRegion(physPage, write);
            return r == null || r.backing().order() != ByteOrder.LITTLE_ENDIAN ? null : r;
        }
        MemoryRegion found = null;
        for (MemoryRegion r : memory.regions()) {
            if (r.contains(physPage)) {
                if (found != null) {
                    return null;
                }
                found = r;
            }
        }
        return found == null || found.backing().order() != ByteOrder.LITTLE_ENDIAN ? null : found;
    }

    void flushTlb() {
        tlb.flush();
        invalidateFetch();
    }

    void updatePagingMode() {
        boolean p = (cr0 & ControlRegisters.CR0_PG) != 0 && pe;
        PagingMode old = pagingMode;
        paging = p;
        pagingMode = new PagingMode(cr0 & 0xFFFF_FFFFL, cr3 & 0xFFFF_FFFFL, cr4 & 0xFFFF_FFFFL, efer);
        if (old != null && p && (cr4 & ControlRegisters.CR4_PGE) != 0 && old.cr0() == pagingMode.cr0()
                && old.cr4() == pagingMode.cr4() && old.efer() == pagingMode.efer()) {
            tlb.flushNonGlobal(); // only CR3 changed: global pages stay
            invalidateFetch();
        } else {
            flushTlb();
        }
        if (mmu != null) {
            mmu.pagingChanged(context.vcpuId(), pagingMode);
        }
    }

    private Mmu currentMmu() {
        Optional<Mmu> m = context.mmu();
        return m == null ? null : m.orElse(null);
    }

    /**
     * At the start of a run: picks up an MMU swapped in while the vCPU was paused, and drops the
     * TLB when the MMU voided what it handed out ({@link Mmu#tlbEpoch}).
     */
    void syncMmu() {
        Mmu m = currentMmu();
        if (m != mmu) {
            mmu = m;
            flushTlb();
            if (m != null) {
                mmuEpoch = m.tlbEpoch(context.vcpuId());
                m.pagingChanged(context.vcpuId(), pagingMode);
            }
        } else if (m != null) {
            long e = m.tlbEpoch(context.vcpuId());
            if (e != mmuEpoch) {
                mmuEpoch = e;
                flushTlb();
            }
        }
    }

    /**
     * At the start of a run and after the vCPU's own port writes: picks up a change of the A20 gate
     * ({@link VcpuContext#a20Mask()}) and of the legacy window's decoding
     * ({@link GuestMemory#legacyDecodeChanges()}, the chipset's PAM registers). TLB entries hold
     * masked physical pages and host buffers of window pages, so they go; the code cache is by
     * physical page and hears of window switches as writes.
     */
    void syncDecoding() {
        long m = context.a20Mask();
        long d = memory.legacyDecodeChanges();
        if (m != a20Mask || d != legacyDecodeChanges) {
            a20Mask = m;
            legacyDecodeChanges = d;
            flushTlb();
        }
    }

    int readLinear(long linear, int size, boolean user) {
        // TLB hit on a page one region backs, not crossing into the next page: straight to the buffer.
        int idx = Tlb.index(linear);
        int off = (int) linear & 0xFFF;
        if (tlb.readTag[idx] == Tlb.key(linear, user) && off <= 4096 - size) {
            ByteBuffer b = tlb.readBuf[idx];
            if (b != null) {
                int at = tlb.readOff[idx] + off;
                switch (size) {
                    case 1: return b.get(at) & 0xFF;
                    case 2: return b.getShort(at) & 0xFFFF;
                    default: return b.getInt(at);
                }
            }
        }
        return readLinearSlow(linear, size, user);
    }

    private int readLinearSlow(long linear, int size, boolean user) {
        if (((int) linear & 0xFFF) + size > 4096) {
            return readSplit(linear, size, user);
        }
        long p = translate(linear, false, user);
        long phys = (p & ~Tlb.MMIO) | (linear & 0xFFF);
        if ((p & Tlb.MMIO) != 0) {
            mmioAccesses++;
            pollIrq = true; // e.g. a local APIC register
            return (int) mmio.read(phys, size);
        }
        switch (size) {
            case 1: return memory.readByte(phys);
            case 2: return memory.readWord(phys);
            default: return memory.readDword(phys);
        }
    }

    private int readSplit(long linear, int size, boolean user) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            v |= readLinear((linear + i) & 0xFFFF_FFFFL, 1, user) << (8 * i);
        }
        return v;
    }

    void writeLinear(long linear, int size, int v, boolean user) {
        // TLB hit on a RAM page one region backs and no watch traces (the code cache, a shadow MMU):
        // straight to the buffer. Watches are checked at every write, so one set up after the fill counts.
        int idx = Tlb.index(linear);
        int off = (int) linear & 0xFFF;
        if (tlb.writeTag[idx] == Tlb.key(linear, user) && off <= 4096 - size) {
            ByteBuffer b = tlb.writeBuf[idx];
            if (b != null && !memory.isWatched(tlb.writePhys[idx])) {
                int at = tlb.writeOff[idx] + off;
                switch (size) {
                    case 1 -> b.put(at, (byte) v);
                    case 2 -> b.putShort(at, (short) v);
                    default -> b.putInt(at, v);
                }
                return;
            }
        }
        writeLinearSlow(linear, size, v, user);
    }

    private void writeLinearSlow(long linear, int size, int v, boolean user) {
        if (((int) linear & 0xFFF) + size > 4096) {
            // Check both pages before writing anything, so a fault leaves memory untouched.
            translate(linear, true, user);
            translate((linear + size - 1) & 0xFFFF_FFFFL, true, user);
            for (int i = 0; i < size; i++) {
                writeLinear((linear + i) & 0xFFFF_FFFFL, 1, v >>> (8 * i), user);
            }
            return;
        }
        long p = translate(linear, true, user);
        long phys = (p & ~Tlb.MMIO) | (linear & 0xFFF);
        if ((p & Tlb.MMIO) != 0) {
            mmioAccesses++;
            pollIrq = true; // e.g. an EOI or a self-IPI through the local APIC
            mmio.write(phys, size, v & 0xFFFF_FFFFL & (size == 4 ? -1L : (1L << (size * 8)) - 1));
            return;
        }
        switch (size) {
            case 1 -> memory.writeByte(phys, v);
            case 2 -> memory.writeWord(phys, v);
            default -> memory.writeDword(phys, v);
        }
    }

    /** Checks that a linear range is writable without writing it (multi-part stores). */
    void probeWrite(long linear, int size, boolean user) {
        translate(linear & 0xFFFF_FFFFL, true, user);
        translate((linear + size - 1) & 0xFFFF_FFFFL, true, user);
    }

    // =====================================================================================
    // Instruction fetch
    // =====================================================================================

    /**
     * Returns the decoded instruction at CS:EIP, from the cache when possible. The fast path serves
     * EIPs inside the fetch window: the code page last looked up, as far as the CS limit allows,
     * so a hit needs neither the linear address nor the TLB.
     */
    Instruction fetchAt(int ip) {
        int d = ip - fetchIpBase;
        Instruction[] slots = fetchSlots;
        if (d >= 0 && d < slots.length) {
            Instruction in = slots[d];
            if (in != null && Integer.compareUnsigned(d + in.length() - 1, fetchIpCount) < 0) {
                return in;
            }
        }
        return fetchSlow(ip);
    }

    private Instruction fetchSlow(int ip) {
        long linear = (segBase[CS] + (ip & 0xFFFF_FFFFL)) & 0xFFFF_FFFFL;
        boolean user = cpl == 3;
        long key = Tlb.key(linear, user);
        CodeCache.Page page;
        if (key == fetchKey) {
            page = fetchPage;
        } else {
            invalidateFetch();
            long p = translateFetch(linear, user);
            page = (p & Tlb.MMIO) != 0 ? null : codeCache.page(p >>> 12);
            fetchKey = key;
            fetchPhysPage = p;
            fetchPage = page;
        }
        int offset = (int) linear & 0xFFF;
        if (page != null) {
            Instruction[] slots = page.slots(code32);
            openFetchWindow(ip, offset, slots);
            Instruction in = slots[offset];
            if (in != null) {
                if (Integer.compareUnsigned(ip + in.length() - 1, segLimit[CS]) > 0
                        || Integer.compareUnsigned(ip, segLimit[CS]) > 0) {
                    throw X86Exception.generalProtection(0);
                }
                return in;
            }
        }
        codeCache.decodes++;
        fetchLinear = linear;
        fetchUncacheable = page == null;
        Instruction in = page == null ? scratch : new Instruction();
        Decoder.decode(this, code32, in);
        in.tag(Executor.form(in));
        if (!fetchUncacheable) {
            page.put(offset, in);
        }
        return in;
    }

    /**
     * Opens the fetch window on the current code page, for the current code size: the EIPs from the
     * one at the page start up to the page end or the CS limit, whichever comes first. A page that
     * starts below offset 0 of CS, or whose EIPs would wrap around 4 GiB, gets no window (its
     * fetches all take the slow path).
     */
    private void openFetchWindow(int ip, int offset, Instruction[] slots) {
        long base = (ip & 0xFFFF_FFFFL) - offset;
        long high = Math.min(base + 4095, segLimit[CS] & 0xFFFF_FFFFL);
        if (base < 0 || high < base) {
            return;
        }
        fetchIpBase = (int) base;
        fetchIpCount = (int) (high - base + 1);
        fetchSlots = slots;
    }

    /** {@link CodeFetcher} for the decoder: one byte at CS:EIP+offset, with limit and paging checks. */
    @Override
    public int fetch(int offset) {
        if (Integer.compareUnsigned(eip + offset, segLimit[CS]) > 0) {
            throw X86Exception.generalProtection(0);
        }
        long linear = (fetchLinear + offset) & 0xFFFF_FFFFL;
        if (((fetchLinear ^ linear) & ~0xFFFL) != 0) {
            fetchUncacheable = true;
        }
        long p = translateFetch(linear, cpl == 3);
        long phys = (p & ~Tlb.MMIO) | (linear & 0xFFF);
        if ((p & Tlb.MMIO) != 0) {
            fetchUncacheable = true;
            return (int) mmio.read(phys, 1) & 0xFF;
        }
        return memory.readByte(phys);
    }

    void invalidateFetch() {
        fetchKey = 0;
        closeFetchWindow();
    }

    private void closeFetchWindow() {
        fetchSlots = NO_SLOTS;
        fetchIpCount = 0;
    }
}
