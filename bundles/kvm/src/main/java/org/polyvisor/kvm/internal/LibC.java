package org.polyvisor.kvm.internal;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * The few libc entry points the binding needs, bound with JNA direct mapping
 * ({@link Native#register}), so a call costs one JNI transition and no reflection: KVM_RUN and
 * the I/O exit round trip are on the hot path.
 *
 * <p>Why these calls are safe in general: every argument is either a plain integer (a file
 * descriptor, an ioctl number, a length) or the address of native memory that the caller owns
 * and keeps alive for the duration of the call (a direct buffer held in a field, or the kvm_run
 * mapping); no Java heap object is ever passed by address, and no call retains a pointer after
 * it returns except {@code mmap}, whose result the caller unmaps exactly once. Each call site
 * says what it passes.
 */
public final class LibC {

    /** open(2) flag: read and write. */
    public static final int O_RDWR = 0x2;
    /** open(2) flag: close on exec, so a forked helper never inherits KVM descriptors. */
    public static final int O_CLOEXEC = 0x8_0000;
    /** mmap(2) protection: readable. */
    public static final int PROT_READ = 0x1;
    /** mmap(2) protection: writable. */
    public static final int PROT_WRITE = 0x2;
    /** mmap(2) flag: shared with the kernel object behind the descriptor. */
    public static final int MAP_SHARED = 0x1;
    /** mmap(2) failure value. */
    public static final long MAP_FAILED = -1L;

    /** errno: interrupted system call. */
    public static final int EINTR = 4;
    /** errno: try again. */
    public static final int EAGAIN = 11;
    /** errno: argument list too long (KVM: buffer too small). */
    public static final int E2BIG = 7;

    /** x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
    public static final long SYS_RT_SIGPROCMASK = 14;
    /** rt_sigtimedwait. */
    public static final long SYS_RT_SIGTIMEDWAIT = 128;
    /** gettid. */
    public static final long SYS_GETTID = 186;
    /** timer_create. */
    public static final long SYS_TIMER_CREATE = 222;
    /** timer_settime. */
    public static final long SYS_TIMER_SETTIME = 223;
    /** timer_delete. */
    public static final long SYS_TIMER_DELETE = 226;
    /** tgkill. */
    public static final long SYS_TGKILL = 234;

    static {
        Native.register(LibC.class, NativeLibrary.getInstance("c"));
    }

    private LibC() {
    }

    /** open(2); {@code path} is converted by JNA to a temporary NUL-terminated C string. */
    public static native int open(String path, int flags);

    /** close(2). */
    public static native int close(int fd);

    /**
     * ioctl(2) with one integer-or-pointer argument. ioctl is variadic in C; on x86_64 a variadic
     * callee reads the third argument from the same register as a fixed one, so binding it with a
     * fixed signature is sound (glibc's wrapper only forwards it to the system call).
     */
    public static native int ioctl(int fd, long request, long arg);

    /** mmap(2). */
    public static native long mmap(long addr, long length, int prot, int flags, int fd, long offset);

    /** munmap(2). */
    public static native int munmap(long addr, long length);

    /** getpid(2). */
    public static native int getpid();

    /**
     * syscall(2) with up to four integer arguments. Variadic in C, but glibc's implementation
     * moves its first seven integer registers into the kernel's argument registers regardless,
     * so unused trailing arguments are harmless.
     */
    public static native long syscall(long number, long a1, long a2, long a3, long a4);

    /** glibc's first real-time signal number available to applications (34 on NPTL). */
    public static native int __libc_current_sigrtmin();

    /**
     * Returns the errno of the last native call on this thread (JNA preserves it per thread).
     *
     * @return errno
     */
    public static int errno() {
        return Native.getLastError();
    }

    /**
     * Describes an errno, e.g. {@code "Permission denied (errno 13)"}.
     *
     * @param errno the error number
     * @return a description
     */
    public static String describe(int errno) {
        String name = switch (errno) {
            case 1 -> "Operation not permitted";
            case 2 -> "No such file or directory";
            case 4 -> "Interrupted system call";
            case 7 -> "Argument list too long";
            case 9 -> "Bad file descriptor";
            case 11 -> "Resource temporarily unavailable";
            case 12 -> "Cannot allocate memory";
            case 13 -> "Permission denied";
            case 14 -> "Bad address";
            case 16 -> "Device or resource busy";
            case 17 -> "File exists";
            case 19 -> "No such device";
            case 22 -> "Invalid argument";
            case 24 -> "Too many open files";
            case 25 -> "Inappropriate ioctl for device";
            case 28 -> "No space left on device";
            case 30 -> "Read-only file system";
            default -> "error";
        };
        return name + " (errno " + errno + ")";
    }
}
