package org.polyvisor.kvm;

import java.util.List;
import org.polyvisor.kvm.internal.KvmAbi;
import org.polyvisor.kvm.internal.LibC;
import org.polyvisor.kvm.internal.NativeBuffer;

/**
 * The KVM system handle: an open {@code /dev/kvm}. Makes VMs and answers questions about the host's
 * KVM (extensions, supported CPUID, MSRs). Thread-safe; close it after every VM it made.
 */
public final class Kvm implements AutoCloseable {

    /** Where KVM lives. */
    public static final String DEVICE = "/dev/kvm";

    /** KVM_CAP_IRQCHIP. */
    public static final int CAP_IRQCHIP = 0x0;
    /** KVM_CAP_HLT. */
    public static final int CAP_HLT = 0x1;
    /** KVM_CAP_USER_MEMORY. */
    public static final int CAP_USER_MEMORY = 0x3;
    /** KVM_CAP_SET_TSS_ADDR. */
    public static final int CAP_SET_TSS_ADDR = 0x4;
    /** KVM_CAP_EXT_CPUID. */
    public static final int CAP_EXT_CPUID = 0x7;
    /** KVM_CAP_NR_VCPUS (recommended vCPU count). */
    public static final int CAP_NR_VCPUS = 0x9;
    /** KVM_CAP_NR_MEMSLOTS. */
    public static final int CAP_NR_MEMSLOTS = 0xA;
    /** KVM_CAP_MP_STATE. */
    public static final int CAP_MP_STATE = 0xE;
    /** KVM_CAP_SET_IDENTITY_MAP_ADDR. */
    public static final int CAP_SET_IDENTITY_MAP_ADDR = 0x25;
    /** KVM_CAP_VCPU_EVENTS. */
    public static final int CAP_VCPU_EVENTS = 0x29;
    /** KVM_CAP_DEBUGREGS. */
    public static final int CAP_DEBUGREGS = 0x32;
    /** KVM_CAP_XSAVE. */
    public static final int CAP_XSAVE = 0x37;
    /** KVM_CAP_MAX_VCPUS. */
    public static final int CAP_MAX_VCPUS = 0x42;
    /** KVM_CAP_READONLY_MEM. */
    public static final int CAP_READONLY_MEM = 0x51;
    /** KVM_CAP_IMMEDIATE_EXIT. */
    public static final int CAP_IMMEDIATE_EXIT = 0x88;
    /** KVM_CAP_EXIT_HYPERCALL (a VM capability: which hypercalls exit to userspace, as a bit mask). */
    public static final int CAP_EXIT_HYPERCALL = 201;

    private final String path;
    private final int fd;
    private final int apiVersion;
    private final int vcpuMmapSize;
    private volatile boolean closed;

    private Kvm(String path, int fd, int apiVersion, int vcpuMmapSize) {
        this.path = path;
        this.fd = fd;
        this.apiVersion = apiVersion;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /**
     * Opens {@code /dev/kvm}.
     *
     * @return the handle
     * @throws KvmException if it is missing, cannot be opened, or speaks another API version
     */
    public static Kvm open() {
        return open(DEVICE);
    }

    /**
     * Opens a KVM device.
     *
     * @param path the device, normally {@code /dev/kvm}
     * @return the handle
     * @throws KvmException if it is missing, cannot be opened, or speaks another API version
     */
    public static Kvm open(String path) {
        // Safe: the path is copied to a temporary C string by JNA for the duration of the call.
        int fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0) {
            int err = LibC.errno();
            throw new KvmException("cannot open " + path + ": " + LibC.describe(err), err);
        }
        // Safe: integer-only ioctls on the descriptor just opened.
        int version = LibC.ioctl(fd, KvmAbi.KVM_GET_API_VERSION, 0);
        int versionErr = version < 0 ? LibC.errno() : 0;
        String versionProblem = checkApiVersion(path, version, versionErr);
        if (versionProblem != null) {
            LibC.close(fd);
            throw new KvmException(versionProblem, versionErr);
        }
        int mmapSize = LibC.ioctl(fd, KvmAbi.KVM_GET_VCPU_MMAP_SIZE, 0);
        if (mmapSize < KvmAbi.RUN_SIZE) {
            int err = LibC.errno();
            LibC.close(fd);
            throw new KvmException(path + ": KVM_GET_VCPU_MMAP_SIZE answered " + mmapSize, err);
        }
        return new Kvm(path, fd, version, mmapSize);
    }

    /**
     * Judges the answer to KVM_GET_API_VERSION.
     *
     * @param path    the device
     * @param version what the ioctl returned
     * @param errno   its error number when it returned -1, else 0
     * @return null if this binding can use the device, else why not
     */
    static String checkApiVersion(String path, int version, int errno) {
        if (version < 0) {
            return path + " does not answer KVM_GET_API_VERSION (not a KVM device?): " + LibC.describe(errno);
        }
        if (version != KvmAbi.API_VERSION) {
            return path + " speaks KVM API version " + version + ", this binding needs " + KvmAbi.API_VERSION
                    + (version < KvmAbi.API_VERSION ? " (a pre-release KVM)" : "");
        }
        return null;
    }

    /** @return the device path */
    public String path() {
        return path;
    }

    /** @return the KVM API version (12) */
    public int apiVersion() {
        return apiVersion;
    }

    /** @return the size of a vCPU's shared run area in bytes */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /**
     * Asks whether KVM has an extension (KVM_CHECK_EXTENSION).
     *
     * @param capability a {@code CAP_*} number
     * @return 0 if absent, else a positive value (often a count)
     */
    public int checkExtension(int capability) {
        ensureOpen();
        // Safe: integer argument only.
        int r = LibC.ioctl(fd, KvmAbi.KVM_CHECK_EXTENSION, capability);
        return Math.max(r, 0);
    }

    /**
     * Returns the CPUID leaves KVM can give a guest (KVM_GET_SUPPORTED_CPUID).
     *
     * @return the entries
     */
    public List<CpuidEntry> supportedCpuid() {
        ensureOpen();
        for (int n = 64; n <= 4096; n *= 2) {
            NativeBuffer b = new NativeBuffer(8 + n * KvmAbi.CPUID_ENTRY_SIZE);
            b.buffer().putInt(0, n);
            // Safe: b holds a struct kvm_cpuid2 header with room for n entries, as nent says.
            int r = LibC.ioctl(fd, KvmAbi.KVM_GET_SUPPORTED_CPUID, b.address());
            if (r < 0) {
                int err = LibC.errno();
                if (err == LibC.E2BIG) {
                    continue;
                }
                throw new KvmException("KVM_GET_SUPPORTED_CPUID: " + LibC.describe(err), err);
            }
            return Structs.readCpuid(b.buffer());
        }
        throw new KvmException("KVM_GET_SUPPORTED_CPUID: more than 4096 entries", LibC.E2BIG);
    }

    /**
     * Lists the MSRs KVM saves and restores for a guest (KVM_GET_MSR_INDEX_LIST).
     *
     * @return MSR numbers
     */
    public int[] msrIndexList() {
        ensureOpen();
        for (int n = 256; n <= 16384; n *= 2) {
            NativeBuffer b = new NativeBuffer(4 + n * 4);
            b.buffer().putInt(0, n);
            // Safe: b holds a struct kvm_msr_list with room for n indices, as nmsrs says.
            int r = LibC.ioctl(fd, KvmAbi.KVM_GET_MSR_INDEX_LIST, b.address());
            if (r < 0) {
                int err = LibC.errno();
                if (err == LibC.E2BIG) {
                    continue;
                }
                throw new KvmException("KVM_GET_MSR_INDEX_LIST: " + LibC.describe(err), err);
            }
            int count = b.buffer().getInt(0);
            int[] out = new int[count];
            for (int i = 0; i < count; i++) {
                out[i] = b.buffer().getInt(4 + 4 * i);
            }
            return out;
        }
        throw new KvmException("KVM_GET_MSR_INDEX_LIST: too many MSRs", LibC.E2BIG);
    }

    /**
     * Creates a VM (KVM_CREATE_VM, default machine type).
     *
     * @return the VM
     */
    public VmFd createVm() {
        ensureOpen();
        // Safe: integer argument only; the result is a new descriptor owned by the VmFd.
        int vm = LibC.ioctl(fd, KvmAbi.KVM_CREATE_VM, 0);
        if (vm < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_CREATE_VM: " + LibC.describe(err), err);
        }
        return new VmFd(this, vm);
    }

    private void ensureOpen() {
        if (closed) {
            throw new KvmException(path + " handle is closed", 0);
        }
    }

    /** Closes the descriptor; VMs made from it stay usable (the kernel keeps its own reference). */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            // Safe: closes our own descriptor exactly once.
            LibC.close(fd);
        }
    }
}
