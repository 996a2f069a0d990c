package org.polyvisor.kvm;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.polyvisor.kvm.internal.KvmAbi;
import org.polyvisor.kvm.internal.LibC;
import org.polyvisor.kvm.internal.NativeBuffer;

/**
 * A KVM virtual machine: its guest-physical memory slots, optional in-kernel devices, and vCPUs.
 * Closing it closes its vCPUs first. Thread-safe.
 */
public final class VmFd implements AutoCloseable {

    /** Memory slot flag: log dirty pages (KVM_MEM_LOG_DIRTY_PAGES). */
    public static final int MEM_LOG_DIRTY_PAGES = 0x1;
    /** Memory slot flag: guest writes exit as MMIO (KVM_MEM_READONLY). */
    public static final int MEM_READONLY = 0x2;

    private static final int PAGE = 4096;

    private final Kvm kvm;
    private final int fd;
    private final NativeBuffer scratch = new NativeBuffer(64);
    /** The host memory behind each slot, held so it cannot be freed while KVM maps it. */
    private final Map<Integer, ByteBuffer> slots = new TreeMap<>();
    private final List<VcpuFd> vcpus = new ArrayList<>();
    private boolean closed;

    VmFd(Kvm kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    /** @return the system handle this VM came from */
    public Kvm kvm() {
        return kvm;
    }

    /**
     * Asks whether this VM has an extension (KVM_CHECK_EXTENSION on the VM).
     *
     * @param capability a {@code Kvm.CAP_*} number
     * @return 0 if absent, else a positive value
     */
    public synchronized int checkExtension(int capability) {
        ensureOpen();
        // Safe: integer argument only.
        return Math.max(0, LibC.ioctl(fd, KvmAbi.KVM_CHECK_EXTENSION, capability));
    }

    /**
     * Maps host memory into the guest-physical address space (KVM_SET_USER_MEMORY_REGION), without
     * copying: the guest then reads and writes {@code backing} itself.
     *
     * @param slot    slot number (0..KVM_CAP_NR_MEMSLOTS-1)
     * @param flags   {@link #MEM_READONLY}, {@link #MEM_LOG_DIRTY_PAGES}
     * @param gpa     guest-physical base, page aligned
     * @param backing a direct, page-aligned buffer whose capacity is a multiple of the page size
     */
    public synchronized void setUserMemoryRegion(int slot, int flags, long gpa, ByteBuffer backing) {
        ensureOpen();
        long host = NativeBuffer.addressOf(backing);
        long size = backing.capacity();
        if ((host & (PAGE - 1)) != 0 || (gpa & (PAGE - 1)) != 0 || (size & (PAGE - 1)) != 0 || size == 0) {
            throw new IllegalArgumentException(String.format(
                    "slot %d: guest 0x%x host 0x%x size 0x%x must be page aligned", slot, gpa, host, size));
        }
        setRegion(slot, flags, gpa, size, host);
        slots.put(slot, backing);
    }

    /**
     * Removes a memory slot.
     *
     * @param slot the slot
     */
    public synchronized void deleteUserMemoryRegion(int slot) {
        ensureOpen();
        if (slots.remove(slot) != null) {
            setRegion(slot, 0, 0, 0, 0);
        }
    }

    private void setRegion(int slot, int flags, long gpa, long size, long host) {
        java.nio.ByteBuffer b = scratch.buffer();
        b.putInt(0, slot).putInt(4, flags).putLong(8, gpa).putLong(16, size).putLong(24, host);
        // Safe: scratch holds a struct kvm_userspace_memory_region; the host range it names is a
        // direct buffer that this VmFd keeps referenced (slots) until the slot is deleted or the
        // VM is closed, so the kernel never maps freed memory.
        if (LibC.ioctl(fd, KvmAbi.KVM_SET_USER_MEMORY_REGION, scratch.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException(String.format("KVM_SET_USER_MEMORY_REGION slot %d at 0x%x size 0x%x: %s",
                    slot, gpa, size, LibC.describe(err)), err);
        }
    }

    /**
     * Places the three pages KVM needs for real mode on VMX without unrestricted guest
     * (KVM_SET_TSS_ADDR).
     *
     * @param gpa guest-physical address of three unused pages below 4 GiB
     */
    public synchronized void setTssAddr(long gpa) {
        ensureOpen();
        // Safe: integer argument only.
        if (LibC.ioctl(fd, KvmAbi.KVM_SET_TSS_ADDR, gpa) < 0) {
            int err = LibC.errno();
            throw new KvmException(String.format("KVM_SET_TSS_ADDR 0x%x: %s", gpa, LibC.describe(err)), err);
        }
    }

    /**
     * Places the identity page table KVM needs on VMX with EPT but without unrestricted guest
     * (KVM_SET_IDENTITY_MAP_ADDR).
     *
     * @param gpa guest-physical address of one unused page
     */
    public synchronized void setIdentityMapAddr(long gpa) {
        ensureOpen();
        scratch.buffer().putLong(0, gpa);
        // Safe: scratch holds the __u64 the ioctl reads.
        if (LibC.ioctl(fd, KvmAbi.KVM_SET_IDENTITY_MAP_ADDR, scratch.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException(String.format("KVM_SET_IDENTITY_MAP_ADDR 0x%x: %s", gpa, LibC.describe(err)), err);
        }
    }

    /**
     * Enables a VM capability (KVM_ENABLE_CAP), e.g. {@link Kvm#CAP_EXIT_HYPERCALL} with the mask of
     * hypercalls that should exit to userspace.
     *
     * @param capability a {@code Kvm.CAP_*} number
     * @param args       up to four arguments (missing ones are 0)
     */
    public synchronized void enableCap(int capability, long... args) {
        ensureOpen();
        if (args.length > 4) {
            throw new IllegalArgumentException("KVM_ENABLE_CAP takes at most 4 arguments, not " + args.length);
        }
        NativeBuffer b = new NativeBuffer(KvmAbi.ENABLE_CAP_SIZE);
        b.buffer().putInt(0, capability).putInt(4, 0);
        for (int i = 0; i < args.length; i++) {
            b.buffer().putLong(8 + 8 * i, args[i]);
        }
        // Safe: b holds a zeroed struct kvm_enable_cap (cap, flags, args[4], pad[64]).
        if (LibC.ioctl(fd, KvmAbi.KVM_ENABLE_CAP, b.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_ENABLE_CAP " + capability + ": " + LibC.describe(err), err);
        }
    }

    /** Creates KVM's in-kernel PIC pair, IOAPIC and local APICs (KVM_CREATE_IRQCHIP). */
    public synchronized void createIrqchip() {
        ensureOpen();
        // Safe: no argument.
        if (LibC.ioctl(fd, KvmAbi.KVM_CREATE_IRQCHIP, 0) < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_CREATE_IRQCHIP: " + LibC.describe(err), err);
        }
    }

    /**
     * Sets the level of an in-kernel interrupt controller input (KVM_IRQ_LINE).
     *
     * @param gsi   the global system interrupt
     * @param level high or low
     */
    public synchronized void irqLine(int gsi, boolean level) {
        ensureOpen();
        scratch.buffer().putInt(0, gsi).putInt(4, level ? 1 : 0);
        // Safe: scratch holds a struct kvm_irq_level.
        if (LibC.ioctl(fd, KvmAbi.KVM_IRQ_LINE, scratch.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_IRQ_LINE " + gsi + ": " + LibC.describe(err), err);
        }
    }

    /**
     * Returns and resets the dirty-page bitmap of a slot registered with
     * {@link #MEM_LOG_DIRTY_PAGES} (KVM_GET_DIRTY_LOG).
     *
     * @param slot the slot
     * @return one bit per page of the slot, page 0 in bit 0 of the first long
     */
    public synchronized long[] getDirtyLog(int slot) {
        ensureOpen();
        ByteBuffer backing = slots.get(slot);
        if (backing == null) {
            throw new IllegalArgumentException("no memory slot " + slot);
        }
        int pages = backing.capacity() / PAGE;
        NativeBuffer bitmap = new NativeBuffer(Math.max(8, ((pages + 63) / 64) * 8));
        scratch.buffer().putInt(0, slot).putInt(4, 0).putLong(8, bitmap.address());
        // Safe: scratch holds a struct kvm_dirty_log pointing at bitmap, which has room for one
        // bit per page of the slot (rounded up to 64 bits, as KVM writes whole longs).
        if (LibC.ioctl(fd, KvmAbi.KVM_GET_DIRTY_LOG, scratch.address()) < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_GET_DIRTY_LOG slot " + slot + ": " + LibC.describe(err), err);
        }
        long[] out = new long[(pages + 63) / 64];
        for (int i = 0; i < out.length; i++) {
            out[i] = bitmap.buffer().getLong(8 * i);
        }
        return out;
    }

    /**
     * Creates a vCPU (KVM_CREATE_VCPU) and maps its run area.
     *
     * @param id the vCPU (APIC) id
     * @return the vCPU
     */
    public synchronized VcpuFd createVcpu(int id) {
        ensureOpen();
        // Safe: integer argument only; the result is a new descriptor owned by the VcpuFd.
        int vcpu = LibC.ioctl(fd, KvmAbi.KVM_CREATE_VCPU, id);
        if (vcpu < 0) {
            int err = LibC.errno();
            throw new KvmException("KVM_CREATE_VCPU " + id + ": " + LibC.describe(err), err);
        }
        VcpuFd v;
        try {
            v = new VcpuFd(this, vcpu, id, kvm.vcpuMmapSize());
        } catch (RuntimeException e) {
            LibC.close(vcpu);
            throw e;
        }
        vcpus.add(v);
        return v;
    }

    synchronized void forget(VcpuFd v) {
        vcpus.remove(v);
    }

    private void ensureOpen() {
        if (closed) {
            throw new KvmException("VM is closed", 0);
        }
    }

    /** Closes every vCPU, then the VM; the kernel then drops the memory slots. Idempotent. */
    @Override
    public void close() {
        List<VcpuFd> left;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            left = new ArrayList<>(vcpus);
            vcpus.clear();
        }
        for (VcpuFd v : left) {
            v.close();
        }
        synchronized (this) {
            // Safe: closes our own descriptor exactly once; the host memory stays referenced until
            // after the kernel has let go of it.
            LibC.close(fd);
            slots.clear();
        }
    }
}
