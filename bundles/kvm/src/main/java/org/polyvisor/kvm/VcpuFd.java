package org.polyvisor.kvm;

import java.nio.ByteBuffer;
import java.util.List;
import org.polyvisor.kvm.internal.Kicker;
import org.polyvisor.kvm.internal.KvmAbi;
import org.polyvisor.kvm.internal.LibC;
import org.polyvisor.kvm.internal.NativeBuffer;

/**
 * A KVM vCPU: its registers, its shared {@code kvm_run} area (mapped once, read and written in
 * place), and {@link #run()}.
 *
 * <p>Threading: everything except {@link #kick()} must be called from one thread at a time, the
 * thread that runs the vCPU ({@link #bindToCurrentThread()} names it). {@link #kick()} may be called
 * from any thread and makes a {@code KVM_RUN} in progress return {@link KvmExit.Intr} promptly; a
 * kick that arrives between runs makes the next run return at once.
 */
public final class VcpuFd implements AutoCloseable {

    private static final KvmExit HLT = new KvmExit.Hlt();
    private static final KvmExit IRQ_WINDOW = new KvmExit.IrqWindowOpen();
    private static final KvmExit SHUTDOWN = new KvmExit.Shutdown();
    private static final KvmExit INTR = new KvmExit.Intr();

    private static final int CLOCK_MONOTONIC = 1;
    private static final int SIGEV_THREAD_ID = 4;

    private final VmFd vm;
    private final int fd;
    private final int id;
    private final long runAddress;
    private final int runSize;
    /** The kvm_run mapping; valid until close, which waits for kicks in progress. */
    private final ByteBuffer run;
    private final NativeBuffer scratch = new NativeBuffer(KvmAbi.XSAVE_SIZE);
    private final NativeBuffer signalScratch = new NativeBuffer(64);
    private final Object kickLock = new Object();
    private boolean closed;
    private int boundTid;
    private boolean kickable;
    private int timerId = -1;
    private long exits;

    VcpuFd(VmFd vm, int fd, int id, int mmapSize) {
        this.vm = vm;
        this.fd = fd;
        this.id = id;
        // Safe: maps the vCPU's kvm_run area of the size KVM_GET_VCPU_MMAP_SIZE gave, shared with
        // the kernel, read/write; unmapped exactly once in close().
        long addr = LibC.mmap(0, mmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (addr == LibC.MAP_FAILED) {
            int err = LibC.errno();
            throw new KvmException("mmap of vCPU " + id + " run area: " + LibC.describe(err), err);
        }
        this.runAddress = addr;
        this.runSize = mmapSize;
        this.run = NativeBuffer.wrap(addr, mmapSize);
    }

    /** @return the vCPU id */
    public int id() {
        return id;
    }

    /** @return the VM */
    public VmFd vm() {
        return vm;
    }

    /** @return how many times {@link #run()} has returned */
    public long exits() {
        return exits;
    }

    // ---- running ------------------------------------------------------------------------------

    /**
     * Enters the guest (KVM_RUN) until the next exit.
     *
     * @return why it returned
     * @throws KvmException if KVM_RUN failed for another reason than a signal
     */
    public KvmExit run() {
        // Safe: KVM_RUN takes no argument; it reads and writes the kvm_run area, which stays
        // mapped until close() (only called on this thread, never during a run).
        int r = LibC.ioctl(fd, KvmAbi.KVM_RUN, 0);
        exits++;
        if (r < 0) {
            int err = LibC.errno();
            if (err == LibC.EINTR || err == LibC.EAGAIN) {
                return INTR;
            }
            throw new KvmException("KVM_RUN on vCPU " + id + ": " + LibC.describe(err), err);
        }
        return decode(run);
    }

    /**
     * Decodes the exit a {@code kvm_run} area describes.
     *
     * @param b the area
     * @return the exit
     */
    static KvmExit decode(ByteBuffer b) {
        int reason = b.getInt(KvmAbi.RUN_EXIT_REASON);
        int d = KvmAbi.RUN_EXIT_DATA;
        switch (reason) {
            case KvmExit.IO:
                return new KvmExit.Io(b.get(d) != 0, b.get(d + 1), b.getShort(d + 2) & 0xFFFF, b.getInt(d + 4),
                        (int) b.getLong(d + 8));
            case KvmExit.MMIO: {
                boolean write = b.get(d + 20) != 0;
                int len = b.getInt(d + 16);
                return new KvmExit.Mmio(b.getLong(d), len, write, write ? readLe(b, d + 8, len) : 0);
            }
            case KvmExit.HLT:
                return HLT;
            case KvmExit.IRQ_WINDOW_OPEN:
                return IRQ_WINDOW;
            case KvmExit.SHUTDOWN:
                return SHUTDOWN;
            case KvmExit.INTR:
                return INTR;
            case KvmExit.UNKNOWN:
                return new KvmExit.Unknown(b.getLong(d));
            case KvmExit.EXCEPTION:
                return new KvmExit.Exception(b.getInt(d), b.getInt(d + 4));
            case KvmExit.HYPERCALL: {
                long[] args = new long[6];
                for (int i = 0; i < 6; i++) {
                    args[i] = b.getLong(d + 8 + 8 * i);
                }
                return new KvmExit.Hypercall(b.getLong(d), args);
            }
            case KvmExit.DEBUG:
                return new KvmExit.Debug(b.getInt(d), b.getLong(d + 8), b.getLong(d + 16), b.getLong(d + 24));
            case KvmExit.FAIL_ENTRY:
                return new KvmExit.FailEntry(b.getLong(d), b.getInt(d + 8));
            case KvmExit.INTERNAL_ERROR: {
                int n = Math.min(16, Math.max(0, b.getInt(d + 4)));
                long[] data = new long[n];
                for (int i = 0; i < n; i++) {
                    data[i] = b.getLong(d + 8 + 8 * i);
                }
                return new KvmExit.InternalError(b.getInt(d), data);
            }
            case KvmExit.SYSTEM_EVENT: {
                int n = Math.min(16, Math.max(0, b.getInt(d + 4)));
                long[] data = new long[n];
                for (int i = 0; i < n; i++) {
                    data[i] = b.getLong(d + 8 + 8 * i);
                }
                return new KvmExit.SystemEvent(b.getInt(d), data);
            }
            default:
                return new KvmExit.Other(reason);
        }
    }

    private static long readLe(ByteBuffer b, int offset, int len) {
        long v = 0;
        for (int i = 0; i < len && i < 8; i++) {
            v |= (b.get(offset + i) & 0xFFL) << (8 * i);
        }
        return v;
    }

    private static void writeLe(ByteBuffer b, int offset, int len, long value) {
        for (int i = 0; i < len && i < 8; i++) {
            b.put(offset + i, (byte) (value >>> (8 * i)));
        }
    }

    /**
     * Reads the data of one repetition of an OUT exit.
     *
     * @param io    the exit
     * @param index repetition 0..count-1
     * @return the value (size bytes)
     */
    public int ioData(KvmExit.Io io, int index) {
        return (int) readLe(run, checkIo(io, index), io.size());
    }

    /**
     * Answers one repetition of an IN exit.
     *
     * @param io    the exit
     * @param index repetition 0..count-1
     * @param value the value read from the port
     */
    public void setIoData(KvmExit.Io io, int index, int value) {
        writeLe(run, checkIo(io, index), io.size(), value);
    }

    private int checkIo(KvmExit.Io io, int index) {
        int off = io.dataOffset() + index * io.size();
        if (index < 0 || index >= io.count() || off < 0 || off + io.size() > runSize) {
            throw new IndexOutOfBoundsException("I/O data " + index + " of " + io);
        }
        return off;
    }

    /**
     * Answers an MMIO read exit.
     *
     * @param value the value read, little-endian in the exit's length
     */
    public void setMmioData(long value) {
        int d = KvmAbi.RUN_EXIT_DATA;
        writeLe(run, d + 8, Math.min(8, run.getInt(d + 16)), value);
    }

    /**
     * Answers a {@link KvmExit.Hypercall}: the value the guest finds in RAX when the next
     * {@code KVM_RUN} completes the hypercall (kvm_run.hypercall.ret).
     *
     * @param value the result
     */
    public void setHypercallResult(long value) {
        run.putLong(KvmAbi.RUN_HYPERCALL_RET, value);
    }

    /**
     * Asks KVM to exit with {@link KvmExit.IrqWindowOpen} as soon as the guest can take an
     * interrupt (kvm_run.request_interrupt_window).
     *
     * @param on whether to ask
     */
    public void requestInterruptWindow(boolean on) {
        run.put(KvmAbi.RUN_REQUEST_INTERRUPT_WINDOW, (byte) (on ? 1 : 0));
    }

    /** @return kvm_run.ready_for_interrupt_injection as of the last exit */
    public boolean readyForInterruptInjection() {
        return run.get(KvmAbi.RUN_READY_FOR_INTERRUPT_INJECTION) != 0;
    }

    /** @return kvm_run.if_flag (the guest's RFLAGS.IF) as of the last exit */
    public boolean interruptFlag() {
        return run.get(KvmAbi.RUN_IF_FLAG) != 0;
    }

    /** @return kvm_run.cr8 as of the last exit */
    public long cr8() {
        return run.getLong(KvmAbi.RUN_CR8);
    }

    /**
     * Sets kvm_run.immediate_exit: while set, KVM_RUN completes a pending I/O or MMIO exit and
     * returns {@link KvmExit.Intr} without entering the guest.
     *
     * @param on the value
     */
    public void setImmediateExit(boolean on) {
        run.put(KvmAbi.RUN_IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    // ---- kicking -----------------------------------------------------------------------------

    /**
     * Prepares the calling thread to run this vCPU and be kicked: blocks the kick signal on it,
     * tells KVM to unblock it while running (KVM_SET_SIGNAL_MASK), and makes the time-slice timer
     * target it. Cheap when already bound to this thread.
     */
    public void bindToCurrentThread() {
        int tid = Kicker.gettid();
        if (tid == boundTid) {
            return;
        }
        long runMask = Kicker.blockOnCurrentThread(signalScratch);
        ByteBuffer b = scratch.buffer();
        b.putInt(0, Kicker.SIGSET_SIZE);
        b.putLong(4, runMask);
        // Safe: scratch holds a struct kvm_signal_mask (len 8, then the 8-byte sigset).
        if (LibC.ioctl(fd, KvmAbi.KVM_SET_SIGNAL_MASK, scratch.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_SET_SIGNAL_MASK on vCPU " + id + ": " + LibC.describe(err), err);
        }
        synchronized (kickLock) {
            deleteTimer();
            NativeBuffer ev = signalScratch;
            ev.clear(64);
            ev.buffer().putInt(8, Kicker.SIGNAL); // sigev_signo
            ev.buffer().putInt(12, SIGEV_THREAD_ID); // sigev_notify
            ev.buffer().putInt(16, tid); // sigev_notify_thread_id
            ev.buffer().putInt(60, 0);
            NativeBuffer idOut = new NativeBuffer(8);
            // Safe: ev holds a 64-byte struct sigevent, idOut receives the timer id (an int).
            if (LibC.syscall(LibC.SYS_TIMER_CREATE, CLOCK_MONOTONIC, ev.address(), idOut.address(), 0) != 0) {
                int err = LibC.errno();
                throw new KvmException("timer_create for vCPU " + id + ": " + LibC.describe(err), err);
            }
            timerId = idOut.buffer().getInt(0);
            boundTid = tid;
        }
    }

    /**
     * Says whether a {@link #kick()} should signal the bound thread (true while it is inside the
     * code that runs the vCPU, so a signal never reaches a thread that has not blocked it).
     *
     * @param on true on entry to the run loop, false on leaving it
     */
    public void setKickable(boolean on) {
        synchronized (kickLock) {
            kickable = on && boundTid != 0;
        }
    }

    /**
     * Makes a KVM_RUN in progress return {@link KvmExit.Intr} soon, or the next one return at once.
     * Thread-safe.
     */
    public void kick() {
        synchronized (kickLock) {
            if (closed) {
                return;
            }
            setImmediateExit(true);
            if (kickable) {
                Kicker.kick(boundTid);
            }
        }
    }

    /**
     * Forgets earlier kicks: clears immediate_exit and takes the pending kick signals, so the next
     * run enters the guest. Call on the bound thread before deciding whether a kick is still owed.
     */
    public void acknowledgeKicks() {
        setImmediateExit(false);
        if (boundTid != 0) {
            Kicker.drain(signalScratch);
        }
    }

    /**
     * Starts kicking the bound thread periodically, so a guest that never exits still returns to
     * the VMM every {@code periodNanos} (a time slice), or stops with 0.
     *
     * @param periodNanos the period, or 0 to stop
     */
    public void timeSlice(long periodNanos) {
        synchronized (kickLock) {
            if (timerId < 0) {
                return;
            }
            NativeBuffer ts = new NativeBuffer(32);
            long sec = periodNanos / 1_000_000_000L;
            long nsec = periodNanos % 1_000_000_000L;
            ts.buffer().putLong(0, sec).putLong(8, nsec).putLong(16, sec).putLong(24, nsec);
            // Safe: ts holds a struct itimerspec (interval, value); the old value is not wanted.
            LibC.syscall(LibC.SYS_TIMER_SETTIME, timerId, 0, ts.address(), 0);
        }
    }

    private void deleteTimer() {
        if (timerId >= 0) {
            // Safe: deletes our own POSIX timer exactly once.
            LibC.syscall(LibC.SYS_TIMER_DELETE, timerId, 0, 0, 0);
            timerId = -1;
        }
    }

    // ---- registers ----------------------------------------------------------------------------

    private void call(long request, String what) {
        // Safe: every caller has marshalled the structure the request names into scratch, which
        // is large enough for all of them (4096 bytes, the largest being struct kvm_xsave).
        if (LibC.ioctl(fd, request, scratch.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException(what + " on vCPU " + id + ": " + LibC.describe(err), err);
        }
    }

    /** @return the general registers (KVM_GET_REGS) */
    public Regs getRegs() {
        call(KvmAbi.KVM_GET_REGS, "KVM_GET_REGS");
        return Structs.readRegs(scratch.buffer());
    }

    /** @param regs the general registers to set (KVM_SET_REGS) */
    public void setRegs(Regs regs) {
        Structs.writeRegs(scratch.buffer(), regs);
        call(KvmAbi.KVM_SET_REGS, "KVM_SET_REGS");
    }

    /** @return the system registers (KVM_GET_SREGS) */
    public Sregs getSregs() {
        call(KvmAbi.KVM_GET_SREGS, "KVM_GET_SREGS");
        return Structs.readSregs(scratch.buffer());
    }

    /** @param sregs the system registers to set (KVM_SET_SREGS) */
    public void setSregs(Sregs sregs) {
        Structs.writeSregs(scratch.buffer(), sregs);
        call(KvmAbi.KVM_SET_SREGS, "KVM_SET_SREGS");
    }

    /** @return the x87/SSE state (KVM_GET_FPU) */
    public Fpu getFpu() {
        call(KvmAbi.KVM_GET_FPU, "KVM_GET_FPU");
        return Structs.readFpu(scratch.buffer());
    }

    /** @param fpu the x87/SSE state to set (KVM_SET_FPU) */
    public void setFpu(Fpu fpu) {
        Structs.writeFpu(scratch.buffer(), fpu);
        call(KvmAbi.KVM_SET_FPU, "KVM_SET_FPU");
    }

    /** @return pending events, interrupt shadow and NMI state (KVM_GET_VCPU_EVENTS) */
    public VcpuEvents getVcpuEvents() {
        call(KvmAbi.KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS");
        return Structs.readEvents(scratch.buffer());
    }

    /** @param events the events to set (KVM_SET_VCPU_EVENTS) */
    public void setVcpuEvents(VcpuEvents events) {
        Structs.writeEvents(scratch.buffer(), events);
        call(KvmAbi.KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS");
    }

    /** @return DR0-3, DR6, DR7 (KVM_GET_DEBUGREGS) */
    public DebugRegs getDebugRegs() {
        call(KvmAbi.KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
        return Structs.readDebugRegs(scratch.buffer());
    }

    /** @param regs DR0-3, DR6, DR7 to set (KVM_SET_DEBUGREGS) */
    public void setDebugRegs(DebugRegs regs) {
        Structs.writeDebugRegs(scratch.buffer(), regs);
        call(KvmAbi.KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS");
    }

    /**
     * Reads MSRs (KVM_GET_MSRS); KVM stops at the first one it does not know.
     *
     * @param indices MSR numbers (at most 250)
     * @param values  receives the values, same order
     * @return how many were read (a prefix of {@code indices})
     */
    public int getMsrs(int[] indices, long[] values) {
        ByteBuffer b = msrHeader(indices);
        // Safe: scratch holds a struct kvm_msrs with nmsrs entries, within its 4096 bytes.
        int r = LibC.ioctl(fd, KvmAbi.KVM_GET_MSRS, scratch.address());
        if (r < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_GET_MSRS on vCPU " + id + ": " + LibC.describe(err), err);
        }
        for (int i = 0; i < r; i++) {
            values[i] = b.getLong(8 + 16 * i + 8);
        }
        return r;
    }

    /**
     * Writes MSRs (KVM_SET_MSRS); KVM stops at the first one it refuses.
     *
     * @param indices MSR numbers (at most 250)
     * @param values  their values
     * @return how many were written (a prefix of {@code indices})
     */
    public int setMsrs(int[] indices, long[] values) {
        ByteBuffer b = msrHeader(indices);
        for (int i = 0; i < indices.length; i++) {
            b.putLong(8 + 16 * i + 8, values[i]);
        }
        // Safe: scratch holds a struct kvm_msrs with nmsrs entries, within its 4096 bytes.
        int r = LibC.ioctl(fd, KvmAbi.KVM_SET_MSRS, scratch.address());
        if (r < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_SET_MSRS on vCPU " + id + ": " + LibC.describe(err), err);
        }
        return r;
    }

    private ByteBuffer msrHeader(int[] indices) {
        if (indices.length > (KvmAbi.XSAVE_SIZE - 8) / KvmAbi.MSR_ENTRY_SIZE) {
            throw new IllegalArgumentException("too many MSRs at once: " + indices.length);
        }
        ByteBuffer b = scratch.buffer();
        b.putInt(0, indices.length).putInt(4, 0);
        for (int i = 0; i < indices.length; i++) {
            b.putInt(8 + 16 * i, indices[i]).putInt(8 + 16 * i + 4, 0).putLong(8 + 16 * i + 8, 0);
        }
        return b;
    }

    /**
     * Sets the CPUID the guest sees (KVM_SET_CPUID2). Needed before the first run; KVM also
     * checks long mode against it.
     *
     * @param entries the leaves
     */
    public void setCpuid(List<CpuidEntry> entries) {
        NativeBuffer b = new NativeBuffer(8 + entries.size() * KvmAbi.CPUID_ENTRY_SIZE);
        Structs.writeCpuid(b.buffer(), entries);
        // Safe: b holds a struct kvm_cpuid2 with exactly nent entries.
        if (LibC.ioctl(fd, KvmAbi.KVM_SET_CPUID2, b.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_SET_CPUID2 (" + entries.size() + " leaves) on vCPU " + id + ": "
                    + LibC.describe(err), err);
        }
    }

    /**
     * Queues an external interrupt (KVM_INTERRUPT); only without an in-kernel irqchip, and only when
     * {@link #readyForInterruptInjection()} said so.
     *
     * @param vector 0..255
     */
    public void interrupt(int vector) {
        scratch.buffer().putInt(0, vector);
        call(KvmAbi.KVM_INTERRUPT, "KVM_INTERRUPT " + vector);
    }

    /** Queues an NMI (KVM_NMI). */
    public void nmi() {
        // Safe: no argument.
        if (LibC.ioctl(fd, KvmAbi.KVM_NMI, 0) < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_NMI on vCPU " + id + ": " + LibC.describe(err), err);
        }
    }

    /** @return KVM_MP_STATE_* (KVM_GET_MP_STATE) */
    public int getMpState() {
        call(KvmAbi.KVM_GET_MP_STATE, "KVM_GET_MP_STATE");
        return scratch.buffer().getInt(0);
    }

    /** @param state KVM_MP_STATE_* (KVM_SET_MP_STATE; most states need the in-kernel local APIC) */
    public void setMpState(int state) {
        scratch.buffer().putInt(0, state);
        call(KvmAbi.KVM_SET_MP_STATE, "KVM_SET_MP_STATE");
    }

    /** @return the in-kernel local APIC's registers, 1024 bytes (KVM_GET_LAPIC) */
    public byte[] getLapic() {
        call(KvmAbi.KVM_GET_LAPIC, "KVM_GET_LAPIC");
        byte[] out = new byte[KvmAbi.LAPIC_SIZE];
        scratch.buffer().get(0, out);
        return out;
    }

    /** @param regs the local APIC's registers, 1024 bytes (KVM_SET_LAPIC) */
    public void setLapic(byte[] regs) {
        scratch.buffer().put(0, regs, 0, KvmAbi.LAPIC_SIZE);
        call(KvmAbi.KVM_SET_LAPIC, "KVM_SET_LAPIC");
    }

    /** @return the XSAVE area, 4096 bytes (KVM_GET_XSAVE) */
    public byte[] getXsave() {
        call(KvmAbi.KVM_GET_XSAVE, "KVM_GET_XSAVE");
        byte[] out = new byte[KvmAbi.XSAVE_SIZE];
        scratch.buffer().get(0, out);
        return out;
    }

    /** @param area the XSAVE area, 4096 bytes (KVM_SET_XSAVE) */
    public void setXsave(byte[] area) {
        scratch.buffer().put(0, area, 0, KvmAbi.XSAVE_SIZE);
        call(KvmAbi.KVM_SET_XSAVE, "KVM_SET_XSAVE");
    }

    /** Unmaps the run area, deletes the time-slice timer and closes the vCPU. Idempotent. */
    @Override
    public void close() {
        synchronized (kickLock) {
            if (closed) {
                return;
            }
            closed = true;
            kickable = false;
            deleteTimer();
            // Safe: unmaps our own mapping exactly once; kick() (the only other user) checks
            // `closed` under the same lock, and the vCPU thread does not run during close.
            LibC.munmap(runAddress, runSize);
            // Safe: closes our own descriptor exactly once.
            LibC.close(fd);
        }
        vm.forget(this);
    }
}
