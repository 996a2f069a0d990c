package org.polyvisor.kvm.internal;

/**
 * The signal that makes a running {@code KVM_RUN} return (-EINTR), and the per-thread setup it
 * needs, done the way QEMU does it ({@code SIG_IPI} with {@code KVM_SET_SIGNAL_MASK}): the signal
 * is blocked on the vCPU thread, so it never reaches a handler (a JVM thread must not run one of
 * ours); KVM unblocks it only while inside {@code KVM_RUN}, where a pending one makes the run
 * return; afterwards the thread takes pending instances with {@code rt_sigtimedwait}. Its
 * disposition is set to ignore, so a stray instance can never terminate the process: the kernel
 * still queues a blocked signal even when ignored (kernel/signal.c, {@code sig_ignored()} checks
 * {@code blocked} and {@code real_blocked}, the latter being the mask KVM saves while it runs).
 */
public final class Kicker {

    /** The signal number: SIGRTMIN + 6 (glibc's SIGRTMIN accounts for the two NPTL reserves). */
    public static final int SIGNAL = LibC.__libc_current_sigrtmin() + 6;
    /** The kernel's sigset size on x86_64. */
    public static final int SIGSET_SIZE = 8;
    private static final long BIT = 1L << (SIGNAL - 1);
    private static final int SIG_BLOCK = 0;
    private static final long SYS_RT_SIGACTION = 13;
    private static final long SIG_IGN = 1;

    private static final ThreadLocal<Boolean> BLOCKED = new ThreadLocal<>();

    static {
        NativeBuffer act = new NativeBuffer(32); // struct kernel_sigaction: handler, flags, restorer, mask
        act.buffer().putLong(0, SIG_IGN);
        // Safe: act is a zeroed struct kernel_sigaction (SIG_IGN, no flags, empty mask) owned here;
        // the old action is not asked for (NULL).
        LibC.syscall(SYS_RT_SIGACTION, SIGNAL, act.address(), 0, SIGSET_SIZE);
    }

    private Kicker() {
    }

    /**
     * Blocks the kick signal on the calling thread (once per thread) and returns the thread's
     * mask without it: the mask KVM should use while running.
     *
     * @param scratch at least 16 bytes of native memory owned by the caller
     * @return the mask to give KVM_SET_SIGNAL_MASK
     */
    public static long blockOnCurrentThread(NativeBuffer scratch) {
        scratch.buffer().putLong(0, BIT);
        scratch.buffer().putLong(8, 0);
        // Safe: scratch[0..8) is the set to block, scratch[8..16) receives the old mask; both are
        // kernel sigsets of SIGSET_SIZE bytes inside memory the caller keeps alive.
        if (LibC.syscall(LibC.SYS_RT_SIGPROCMASK, SIG_BLOCK, scratch.address(), scratch.address() + 8,
                SIGSET_SIZE) != 0) {
            int err = LibC.errno();
            throw new IllegalStateException("cannot block the KVM kick signal: " + LibC.describe(err));
        }
        BLOCKED.set(Boolean.TRUE);
        return scratch.buffer().getLong(8) & ~BIT;
    }

    /**
     * Returns the calling thread's kernel id.
     *
     * @return the tid
     */
    public static int gettid() {
        // Safe: no arguments.
        return (int) LibC.syscall(LibC.SYS_GETTID, 0, 0, 0, 0);
    }

    /**
     * Sends the kick signal to a thread of this process.
     *
     * @param tid the thread, which must have blocked the signal (it does from its first run on)
     */
    public static void kick(int tid) {
        // Safe: integer arguments; the target is one of our own vCPU threads, which keeps the
        // signal blocked for the rest of its life, and the signal is ignored process-wide.
        LibC.syscall(LibC.SYS_TGKILL, LibC.getpid(), tid, SIGNAL, 0);
    }

    /**
     * Takes every pending instance of the kick signal on the calling thread without waiting.
     *
     * @param scratch at least 32 bytes of native memory owned by the caller
     * @return how many were taken
     */
    public static int drain(NativeBuffer scratch) {
        scratch.buffer().putLong(0, BIT);
        scratch.buffer().putLong(8, 0); // timespec {0, 0}: do not wait
        scratch.buffer().putLong(16, 0);
        int n = 0;
        // Safe: scratch[0..8) is the sigset, scratch[8..24) a zero timespec; siginfo is not
        // wanted (NULL). The signal is blocked on this thread, so it is only ever dequeued here.
        while (LibC.syscall(LibC.SYS_RT_SIGTIMEDWAIT, scratch.address(), 0, scratch.address() + 8,
                SIGSET_SIZE) == SIGNAL) {
            n++;
        }
        return n;
    }
}
