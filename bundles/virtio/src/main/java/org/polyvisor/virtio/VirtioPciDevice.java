package org.polyvisor.virtio;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.part.SavedState;
import org.polyvisor.pci.PciBuses;
import org.polyvisor.pci.PciConfigSpace;
import org.polyvisor.pci.PciFunction;
import org.polyvisor.pci.PciSlot;

/**
 * A virtio 1.x device over PCI, modern interface only (virtio 1.1, section 4.1): vendor 0x1AF4,
 * device ID 0x1040 + the virtio device ID, revision 1, one 32-bit memory BAR 0 holding the common
 * configuration, ISR status, device-specific configuration and notification structures, each
 * described by a vendor-specific capability, plus the VIRTIO_PCI_CAP_PCI_CFG window. Interrupts are
 * INTx only (no MSI-X capability, so drivers fall back to the ISR); split virtqueues; features
 * VIRTIO_F_VERSION_1 and VIRTIO_F_INDIRECT_DESC on top of the device's own.
 *
 * <p>Subclasses implement one device type: they process a queue on the device's own worker thread
 * ({@link #processQueue}), never on a vCPU, so a vCPU never waits for disk or network.
 *
 * <p>Threads and locks: register accesses come from vCPU threads and take this object's lock; the
 * worker takes it only briefly (to raise an interrupt). A device reset waits, without holding the
 * lock, for the request in progress to finish, so no DMA happens after the driver saw the reset.
 * Lock order: this device, then the PCI bus, then the interrupt controller.
 */
public abstract class VirtioPciDevice implements Device, PciFunction, MmioDevice {

    /** Red Hat, Inc., the virtio PCI vendor. */
    public static final int VENDOR_VIRTIO = 0x1AF4;
    /** Modern device IDs are 0x1040 + the virtio device ID (4.1.2.1). */
    public static final int DEVICE_ID_BASE = 0x1040;

    /** Device status: the guest noticed the device. */
    public static final int STATUS_ACKNOWLEDGE = 1;
    /** Device status: the guest has a driver. */
    public static final int STATUS_DRIVER = 2;
    /** Device status: the driver is ready. */
    public static final int STATUS_DRIVER_OK = 4;
    /** Device status: feature negotiation is complete. */
    public static final int STATUS_FEATURES_OK = 8;
    /** Device status: the device hit an error and needs a reset (2.1.1). */
    public static final int STATUS_NEEDS_RESET = 64;
    /** Device status: the driver gave up. */
    public static final int STATUS_FAILED = 128;

    /** Feature: indirect descriptors (2.6.5.3). */
    public static final long F_INDIRECT_DESC = 1L << 28;
    /** Feature: compliance with virtio 1.x, required of a modern device (6.1). */
    public static final long F_VERSION_1 = 1L << 32;

    /** ISR bit 0: a queue has used buffers. */
    static final int ISR_QUEUE = 1;
    /** ISR bit 1: the device configuration changed. */
    static final int ISR_CONFIG = 2;

    /** BAR 0 size and layout. */
    static final int BAR_SIZE = 0x4000;
    static final int COMMON_OFFSET = 0x0000;
    static final int COMMON_SIZE = 0x38;
    static final int ISR_OFFSET = 0x1000;
    static final int DEVICE_OFFSET = 0x2000;
    static final int DEVICE_WINDOW = 0x1000;
    static final int NOTIFY_OFFSET = 0x3000;
    /** notify_off_multiplier: queue q is notified at NOTIFY_OFFSET + 4 * q. */
    static final int NOTIFY_MULTIPLIER = 4;

    /** virtio_pci_cap cfg_type values (4.1.4). */
    static final int CAP_COMMON = 1;
    static final int CAP_NOTIFY = 2;
    static final int CAP_ISR = 3;
    static final int CAP_DEVICE = 4;
    static final int CAP_PCI_CFG = 5;

    /** MSI-X "no vector": there is no MSI-X. */
    static final int NO_VECTOR = 0xFFFF;

    /** One queue's registers and, once enabled, its ring. */
    private static final class Queue {
        final int maxSize;
        int size;
        boolean enabled;
        long desc;
        long driver;
        long device;
        Virtqueue ring;
        final AtomicBoolean scheduled = new AtomicBoolean();

        Queue(int maxSize) {
            this.maxSize = maxSize;
            this.size = maxSize;
        }
    }

    private final String name;
    private final String vmName;
    /** Reaches the VM's PCI bus (a per-VM service). */
    private final DeviceContext context;
    private final String typeName;
    private final int virtioId;
    private final long offered;
    private final GuestMemory memory;
    private final MmioBus mmio;
    private final int requestedSlot;
    private final String stateType;
    private final Queue[] queues;
    private final PciConfigSpace pci;
    private final int pciCfgCap;
    private PciSlot slot;
    private Registration bar;
    private ExecutorService worker;

    private int status;
    private long driverFeatures;
    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private int queueSelect;
    private int configGeneration;
    private int isr;
    private boolean broken;
    private String lastError = "";
    private int capBar;
    private int capOffset;
    private int capLength;
    private boolean closed;

    private final AtomicLong notifications = new AtomicLong();
    private final AtomicLong interrupts = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong protocolErrors = new AtomicLong();
    private final AtomicLong barMapFailures = new AtomicLong();

    /**
     * Creates the transport; the subclass calls {@link #start()} at the end of its constructor.
     *
     * @param context        the device context
     * @param typeName       the model name, e.g. {@code virtio-blk}
     * @param virtioId       the virtio device ID (1 net, 2 block, 3 console)
     * @param pciClass       the 24-bit PCI class code
     * @param queueSizes     the maximum size of each queue
     * @param deviceFeatures the device-specific feature bits offered
     * @param requestedSlot  the PCI device number wanted, or {@link PciBuses#ANY_DEVICE}
     */
    protected VirtioPciDevice(DeviceContext context, String typeName, int virtioId, int pciClass, int[] queueSizes,
                              long deviceFeatures, int requestedSlot) {
        this.context = context;
        this.name = context.instanceName();
        this.vmName = context.vmName();
        this.typeName = typeName;
        this.virtioId = virtioId;
        this.offered = deviceFeatures | F_VERSION_1 | F_INDIRECT_DESC;
        this.memory = context.memory();
        this.mmio = context.mmio();
        this.requestedSlot = requestedSlot;
        this.stateType = typeName + "-pci";
        this.queues = new Queue[queueSizes.length];
        for (int i = 0; i < queues.length; i++) {
            queues[i] = new Queue(queueSizes[i]);
        }
        // Subsystem ID 0x40+: "any PCI subsystem ID"; 0x1100 is QEMU's; drivers ignore it.
        this.pci = new PciConfigSpace(VENDOR_VIRTIO, DEVICE_ID_BASE + virtioId, 1, pciClass, VENDOR_VIRTIO, 0x40);
        pci.defineMemoryBar(0, BAR_SIZE);
        pci.addCapability(PciConfigSpace.CAP_VENDOR_SPECIFIC, cap(CAP_COMMON, COMMON_OFFSET, COMMON_SIZE, 16, -1));
        pci.addCapability(PciConfigSpace.CAP_VENDOR_SPECIFIC,
                cap(CAP_NOTIFY, NOTIFY_OFFSET, NOTIFY_MULTIPLIER * queueSizes.length, 20, NOTIFY_MULTIPLIER));
        pci.addCapability(PciConfigSpace.CAP_VENDOR_SPECIFIC, cap(CAP_ISR, ISR_OFFSET, 1, 16, -1));
        pci.addCapability(PciConfigSpace.CAP_VENDOR_SPECIFIC, cap(CAP_DEVICE, DEVICE_OFFSET, DEVICE_WINDOW, 16, -1));
        this.pciCfgCap = pci.addCapability(PciConfigSpace.CAP_VENDOR_SPECIFIC, cap(CAP_PCI_CFG, 0, 0, 20, 0));
        pci.setListener(this::barChanged);
    }

    /** A virtio_pci_cap body (without the ID and next bytes). */
    private static byte[] cap(int type, int offset, int length, int capLen, int extra) {
        byte[] b = new byte[capLen - 2];
        b[0] = (byte) capLen;  // cap_len
        b[1] = (byte) type;    // cfg_type
        b[2] = 0;              // bar
        putInt(b, 6, offset);  // offset at +8 of the capability
        putInt(b, 10, length); // length at +12
        if (capLen == 20 && extra >= 0) {
            putInt(b, 14, extra); // notify_off_multiplier, or pci_cfg_data
        }
        return b;
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) (v >>> 16);
        b[at + 3] = (byte) (v >>> 24);
    }

    /** Attaches the function to the VM's PCI bus and starts the worker; the end of a subclass constructor. */
    protected final void start() {
        worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, typeName + " " + vmName + "/" + name);
            t.setDaemon(true);
            return t;
        });
        try {
            slot = PciBuses.attach(context, name, this, requestedSlot);
        } catch (RuntimeException e) {
            worker.shutdownNow();
            throw e;
        }
    }

    // ---- what subclasses implement ---------------------------------------------------------

    /**
     * Processes the available chains of a queue, on the device's worker thread. Take chains with
     * {@link Virtqueue#pop()} until it returns null (or until the device cannot proceed, e.g. no
     * frame to receive), and return each with {@link #complete}.
     *
     * @param queue the queue index
     * @param ring  the queue
     * @throws VirtioException if the guest broke the protocol (the device then needs a reset)
     */
    protected abstract void processQueue(int queue, Virtqueue ring) throws VirtioException;

    /**
     * Returns the device-specific configuration structure as it reads now.
     *
     * @return its bytes (little-endian fields)
     */
    protected abstract byte[] deviceConfig();

    /**
     * Handles a driver write to the device-specific configuration; ignored by default.
     *
     * @param offset offset in the structure
     * @param size   access size
     * @param value  the value
     */
    protected void writeDeviceConfig(int offset, int size, long value) {
    }

    /** Called on a vCPU thread when the driver sets DRIVER_OK. */
    protected void driverReady() {
    }

    /** Called after a device reset (driver writes 0 to the status, or system reset), worker idle. */
    protected void deviceReset() {
    }

    /**
     * Adds device-specific fields to the saved state.
     *
     * @param b the builder
     */
    protected void saveDevice(SavedState.Builder b) {
    }

    /**
     * Restores device-specific fields.
     *
     * @param s the saved state
     */
    protected void restoreDevice(SavedState s) {
    }

    /** Releases device-specific resources (files, ports) after the worker stopped. */
    protected void closeDevice() {
    }

    /**
     * Returns device-specific counters.
     *
     * @return counter names to values
     */
    protected Map<String, Long> deviceStats() {
        return Map.of();
    }

    /**
     * Returns device-specific resource lines for {@code vm:info}.
     *
     * @return e.g. the image path
     */
    protected List<String> deviceResources() {
        return List.of();
    }

    // ---- services to subclasses ------------------------------------------------------------

    /**
     * Returns guest memory, for the buffers of a chain.
     *
     * @return guest memory
     */
    protected final GuestMemory memory() {
        return memory;
    }

    /**
     * Returns the features the driver accepted.
     *
     * @return the feature bits
     */
    protected final synchronized long negotiatedFeatures() {
        return driverFeatures;
    }

    /**
     * Returns a chain to the driver and interrupts it unless it asked not to be.
     *
     * @param ring    the queue
     * @param chain   the chain
     * @param written bytes written into the chain's writable buffers
     */
    protected final void complete(Virtqueue ring, DescriptorChain chain, long written) {
        requests.incrementAndGet();
        ring.push(chain, written);
        if (ring.interruptWanted()) {
            raise(ISR_QUEUE);
        }
    }

    /**
     * Asks the worker to process a queue (from any thread); coalesced while one is pending.
     *
     * @param queue the queue index
     */
    protected final void schedule(int queue) {
        Queue q = queues[queue];
        if (!q.scheduled.compareAndSet(false, true)) {
            return;
        }
        try {
            worker.execute(() -> run(queue));
        } catch (RejectedExecutionException e) {
            q.scheduled.set(false); // closed
        }
    }

    /** Tells the driver the device configuration changed (configuration change interrupt). */
    protected final void configChanged() {
        synchronized (this) {
            configGeneration = (configGeneration + 1) & 0xFF;
        }
        raise(ISR_CONFIG);
    }

    /**
     * Tells whether the driver has set DRIVER_OK and the device works.
     *
     * @return true if queues may be processed
     */
    protected final synchronized boolean running() {
        return (status & STATUS_DRIVER_OK) != 0 && !broken && pci.busMaster() && !closed;
    }

    private void run(int queue) {
        Queue q = queues[queue];
        q.scheduled.set(false);
        Virtqueue ring;
        synchronized (this) {
            if (!running()) {
                return;
            }
            ring = q.ring;
        }
        if (ring == null) {
            return;
        }
        try {
            processQueue(queue, ring);
        } catch (VirtioException e) {
            fail(typeName + " queue " + queue + ": " + e.getMessage());
        } catch (RuntimeException e) {
            fail(typeName + " queue " + queue + ": internal error: " + e);
        }
    }

    /** Enters DEVICE_NEEDS_RESET: stop every queue and tell the driver. */
    private void fail(String reason) {
        boolean notify;
        synchronized (this) {
            protocolErrors.incrementAndGet();
            lastError = reason;
            if (broken) {
                return;
            }
            broken = true;
            for (Queue q : queues) {
                if (q.ring != null) {
                    q.ring.stop();
                }
            }
            notify = (status & STATUS_DRIVER_OK) != 0;
            status |= STATUS_NEEDS_RESET;
        }
        if (notify) {
            raise(ISR_CONFIG); // 2.1.2: after DEVICE_NEEDS_RESET the device sends a configuration change
        }
    }

    private synchronized void raise(int bits) {
        if (closed) {
            return;
        }
        if ((isr & bits) != bits) {
            interrupts.incrementAndGet();
        }
        isr |= bits;
        updateIntx();
    }

    private void updateIntx() {
        boolean level = pci.interruptLevel(isr != 0);
        if (slot != null) {
            slot.setInterrupt(level);
        }
    }

    // ---- PCI configuration space ---------------------------------------------------------------

    @Override
    public int configRead(int offset, int size) {
        int barAccess;
        int barIndex;
        long at;
        synchronized (this) {
            int data = pciCfgCap + 16;
            if (offset < data || offset >= data + 4) {
                int v = pci.read(offset, size);
                if (offset <= pciCfgCap + 15 && offset + size > pciCfgCap + 4) {
                    v = patchCapFields(offset, size, v);
                }
                return v;
            }
            barAccess = capLength;
            barIndex = capBar;
            at = capOffset & 0xFFFF_FFFFL;
        }
        // VIRTIO_PCI_CAP_PCI_CFG data (4.1.4.7): an access to BAR capBar at capOffset, capLength wide
        if (barIndex != 0 || (barAccess != 1 && barAccess != 2 && barAccess != 4) || (at & (barAccess - 1)) != 0) {
            return 0;
        }
        return (int) read(at, barAccess);
    }

    private int patchCapFields(int offset, int size, int v) {
        int out = 0;
        for (int i = 0; i < size; i++) {
            int o = offset + i - pciCfgCap;
            int b = (v >>> (8 * i)) & 0xFF;
            if (o == 4) {
                b = capBar;
            } else if (o >= 8 && o < 12) {
                b = capOffset >>> (8 * (o - 8)) & 0xFF;
            } else if (o >= 12 && o < 16) {
                b = capLength >>> (8 * (o - 12)) & 0xFF;
            }
            out |= b << (8 * i);
        }
        return out;
    }

    @Override
    public void configWrite(int offset, int size, int value) {
        int barAccess;
        int barIndex;
        long at;
        synchronized (this) {
            int data = pciCfgCap + 16;
            if (offset < data || offset >= data + 4) {
                if (offset >= pciCfgCap && offset < data) {
                    for (int i = 0; i < size; i++) {
                        int o = offset + i - pciCfgCap;
                        int b = value >>> (8 * i) & 0xFF;
                        if (o == 4) {
                            capBar = b;
                        } else if (o >= 8 && o < 12) {
                            int s = 8 * (o - 8);
                            capOffset = capOffset & ~(0xFF << s) | b << s;
                        } else if (o >= 12 && o < 16) {
                            int s = 8 * (o - 12);
                            capLength = capLength & ~(0xFF << s) | b << s;
                        }
                    }
                    return;
                }
                boolean wasMaster = pci.busMaster();
                pci.write(offset, size, value);
                updateIntx(); // the Interrupt Disable bit may have changed
                if (!wasMaster && pci.busMaster()) {
                    scheduleAll();
                }
                return;
            }
            barAccess = capLength;
            barIndex = capBar;
            at = capOffset & 0xFFFF_FFFFL;
        }
        if (barIndex != 0 || (barAccess != 1 && barAccess != 2 && barAccess != 4) || (at & (barAccess - 1)) != 0) {
            return;
        }
        write(at, barAccess, value);
    }

    @Override
    public int interruptPin() {
        return 1; // INTA#
    }

    /** BAR 0 moved or stopped decoding: remap the window. Called with this lock held. */
    private void barChanged(int index, long base) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        if (base >= 0 && !closed) {
            try {
                bar = mmio.map(base, BAR_SIZE, name, this);
            } catch (IllegalArgumentException e) {
                // The guest placed the BAR over RAM or another window: it decodes nothing, as a
                // conflicting BAR on a real bus would give undefined results; we choose "none".
                barMapFailures.incrementAndGet();
                lastError = "BAR0 at 0x" + Long.toHexString(base) + " not mapped: " + e.getMessage();
            }
        }
    }

    // ---- BAR 0 -------------------------------------------------------------------------------

    @Override
    public long read(long offset, int size) {
        if (offset >= COMMON_OFFSET && offset < COMMON_OFFSET + COMMON_SIZE) {
            return commonRead((int) offset - COMMON_OFFSET, size);
        }
        if (offset >= ISR_OFFSET && offset < ISR_OFFSET + 4) {
            synchronized (this) {
                int v = isr; // reading ISR status clears it and deasserts INTx (4.1.4.5)
                isr = 0;
                updateIntx();
                return offset == ISR_OFFSET ? v : 0;
            }
        }
        if (offset >= DEVICE_OFFSET && offset < DEVICE_OFFSET + DEVICE_WINDOW) {
            byte[] c = deviceConfig();
            int o = (int) offset - DEVICE_OFFSET;
            long v = 0;
            for (int i = 0; i < size; i++) {
                int b = o + i < c.length ? c[o + i] & 0xFF : 0;
                v |= (long) b << (8 * i);
            }
            return v;
        }
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset >= COMMON_OFFSET && offset < COMMON_OFFSET + COMMON_SIZE) {
            commonWrite((int) offset - COMMON_OFFSET, size, value);
        } else if (offset >= DEVICE_OFFSET && offset < DEVICE_OFFSET + DEVICE_WINDOW) {
            writeDeviceConfig((int) offset - DEVICE_OFFSET, size, value);
        } else if (offset >= NOTIFY_OFFSET && offset < NOTIFY_OFFSET + (long) NOTIFY_MULTIPLIER * queues.length) {
            int q = (int) (offset - NOTIFY_OFFSET) / NOTIFY_MULTIPLIER;
            notifications.incrementAndGet();
            if (running()) {
                schedule(q);
            }
        }
    }

    private synchronized long commonRead(int off, int size) {
        byte[] img = new byte[COMMON_SIZE];
        put32(img, 0x00, deviceFeatureSelect);
        put32(img, 0x04, deviceFeatureSelect == 0 ? (int) offered : deviceFeatureSelect == 1 ? (int) (offered >>> 32) : 0);
        put32(img, 0x08, driverFeatureSelect);
        put32(img, 0x0C, driverFeatureSelect == 0 ? (int) driverFeatures
                : driverFeatureSelect == 1 ? (int) (driverFeatures >>> 32) : 0);
        put16(img, 0x10, NO_VECTOR);
        put16(img, 0x12, queues.length);
        img[0x14] = (byte) status;
        img[0x15] = (byte) configGeneration;
        put16(img, 0x16, queueSelect);
        Queue q = queueSelect < queues.length ? queues[queueSelect] : null;
        if (q != null) {
            put16(img, 0x18, q.size);
            put16(img, 0x1A, NO_VECTOR);
            put16(img, 0x1C, q.enabled ? 1 : 0);
            put16(img, 0x1E, queueSelect); // queue_notify_off
            put64(img, 0x20, q.desc);
            put64(img, 0x28, q.driver);
            put64(img, 0x30, q.device);
        }
        long v = 0;
        for (int i = 0; i < size && off + i < COMMON_SIZE; i++) {
            v |= (long) (img[off + i] & 0xFF) << (8 * i);
        }
        return v;
    }

    private void commonWrite(int off, int size, long value) {
        int v = (int) value;
        if (off == 0x14 && size == 1) {
            writeStatus(v & 0xFF);
            return;
        }
        boolean enable = false;
        synchronized (this) {
            Queue q = queueSelect < queues.length ? queues[queueSelect] : null;
            switch (off << 4 | size) {
                case 0x00 << 4 | 4 -> deviceFeatureSelect = v;
                case 0x08 << 4 | 4 -> driverFeatureSelect = v;
                case 0x0C << 4 | 4 -> {
                    if ((status & STATUS_FEATURES_OK) == 0) {
                        if (driverFeatureSelect == 0) {
                            driverFeatures = driverFeatures & 0xFFFF_FFFF_0000_0000L | (v & 0xFFFF_FFFFL);
                        } else if (driverFeatureSelect == 1) {
                            driverFeatures = driverFeatures & 0xFFFF_FFFFL | (long) v << 32;
                        }
                    }
                }
                case 0x16 << 4 | 2 -> queueSelect = v & 0xFFFF;
                case 0x18 << 4 | 2 -> {
                    if (q != null && !q.enabled) {
                        q.size = v & 0xFFFF; // checked when the queue is enabled
                    }
                }
                case 0x1C << 4 | 2 -> enable = q != null && !q.enabled && (v & 0xFFFF) == 1;
                case 0x20 << 4 | 4, 0x24 << 4 | 4, 0x20 << 4 | 8 -> {
                    if (q != null && !q.enabled) {
                        q.desc = merge(q.desc, off - 0x20, size, value);
                    }
                }
                case 0x28 << 4 | 4, 0x2C << 4 | 4, 0x28 << 4 | 8 -> {
                    if (q != null && !q.enabled) {
                        q.driver = merge(q.driver, off - 0x28, size, value);
                    }
                }
                case 0x30 << 4 | 4, 0x34 << 4 | 4, 0x30 << 4 | 8 -> {
                    if (q != null && !q.enabled) {
                        q.device = merge(q.device, off - 0x30, size, value);
                    }
                }
                default -> {
                    // msix_config / queue_msix_vector (no MSI-X), read-only fields, odd widths: ignored
                }
            }
            if (enable) {
                enableQueue(q);
            }
        }
    }

    private static long merge(long old, int half, int size, long value) {
        if (size == 8) {
            return value;
        }
        return half == 0 ? old & 0xFFFF_FFFF_0000_0000L | (value & 0xFFFF_FFFFL)
                : old & 0xFFFF_FFFFL | (value & 0xFFFF_FFFFL) << 32;
    }

    /** Called with the lock held. */
    private void enableQueue(Queue q) {
        q.enabled = true;
        if (broken) {
            return;
        }
        if (q.size > q.maxSize) {
            q.ring = null;
            failLater("queue size " + q.size + " is larger than the maximum " + q.maxSize);
            return;
        }
        try {
            q.ring = new Virtqueue(memory, q.size, q.desc, q.driver, q.device,
                    (driverFeatures & F_INDIRECT_DESC) != 0, 0, 0);
        } catch (VirtioException e) {
            failLater(e.getMessage());
        }
    }

    private void failLater(String reason) {
        // fail() raises an interrupt, which we may do under the lock (lock order device -> bus)
        fail(typeName + ": " + reason);
    }

    private void writeStatus(int value) {
        if (value == 0) {
            resetDevice();
            return;
        }
        boolean ready = false;
        synchronized (this) {
            int old = status;
            int v = value;
            if ((v & STATUS_FEATURES_OK) != 0 && (old & STATUS_FEATURES_OK) == 0) {
                // 3.1.1: the device refuses features it did not offer, and a modern device requires VERSION_1
                if ((driverFeatures & ~offered) != 0 || (driverFeatures & F_VERSION_1) == 0) {
                    v &= ~STATUS_FEATURES_OK;
                }
            }
            if ((v & STATUS_DRIVER_OK) != 0 && (old & STATUS_DRIVER_OK) == 0) {
                if ((v & STATUS_FEATURES_OK) == 0) {
                    v &= ~STATUS_DRIVER_OK;
                    status = v | (old & STATUS_NEEDS_RESET);
                    failLater("DRIVER_OK without FEATURES_OK");
                    return;
                }
                ready = true;
            }
            status = v | (old & STATUS_NEEDS_RESET);
        }
        if (ready) {
            driverReady();
            scheduleAll();
        }
    }

    private void scheduleAll() {
        for (int i = 0; i < queues.length; i++) {
            if (queues[i].ring != null) {
                schedule(i);
            }
        }
    }

    /** Stops the queues, waits for the request in progress, then clears the registers (4.1.4.3.2). */
    private void resetDevice() {
        synchronized (this) {
            for (Queue q : queues) {
                if (q.ring != null) {
                    q.ring.stop();
                }
            }
        }
        drain();
        synchronized (this) {
            status = 0;
            driverFeatures = 0;
            deviceFeatureSelect = 0;
            driverFeatureSelect = 0;
            queueSelect = 0;
            isr = 0;
            broken = false;
            capBar = 0;
            capOffset = 0;
            capLength = 0;
            for (Queue q : queues) {
                q.ring = null;
                q.enabled = false;
                q.size = q.maxSize;
                q.desc = 0;
                q.driver = 0;
                q.device = 0;
            }
            updateIntx();
        }
        deviceReset();
    }

    /** Waits until the worker has finished what it was doing (never called on the worker). */
    private void drain() {
        ExecutorService w = worker;
        if (w == null || w.isShutdown()) {
            return;
        }
        try {
            Future<?> f = w.submit(() -> { });
            f.get(30, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            // closed meanwhile
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // a request stuck for 30 s (a hung file system): proceed; the queues are stopped
        }
    }

    // ---- Device ------------------------------------------------------------------------------

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final void reset() {
        resetDevice();
        synchronized (this) {
            pci.reset();
            updateIntx();
        }
    }

    @Override
    public final SavedState saveState() {
        synchronized (this) {
            for (Queue q : queues) {
                if (q.ring != null) {
                    q.ring.stop();
                }
            }
        }
        drain(); // no request is half done in the state we take
        synchronized (this) {
            try {
                int n = queues.length;
                int[] sizes = new int[n];
                int[] enabled = new int[n];
                long[] desc = new long[n];
                long[] driver = new long[n];
                long[] device = new long[n];
                int[] lastAvail = new int[n];
                int[] usedIdx = new int[n];
                for (int i = 0; i < n; i++) {
                    Queue q = queues[i];
                    sizes[i] = q.size;
                    enabled[i] = q.enabled ? 1 : 0;
                    desc[i] = q.desc;
                    driver[i] = q.driver;
                    device[i] = q.device;
                    lastAvail[i] = q.ring == null ? 0 : q.ring.lastAvailIndex();
                    usedIdx[i] = q.ring == null ? 0 : q.ring.usedIndex();
                }
                SavedState.Builder b = SavedState.builder(stateType, 1)
                        .put("pci-device", slot == null ? -1 : slot.device())
                        .put("pci-registers", pci.saveRegisters())
                        .put("status", status)
                        .put("driver-features", driverFeatures)
                        .put("device-feature-select", deviceFeatureSelect)
                        .put("driver-feature-select", driverFeatureSelect)
                        .put("queue-select", queueSelect)
                        .put("config-generation", configGeneration)
                        .put("isr", isr)
                        .put("broken", broken)
                        .put("pci-cfg-window", new int[] {capBar, capOffset, capLength})
                        .put("queue-size", sizes)
                        .put("queue-enabled", enabled)
                        .put("queue-desc", desc)
                        .put("queue-driver", driver)
                        .put("queue-device", device)
                        .put("queue-last-avail", lastAvail)
                        .put("queue-used-idx", usedIdx);
                saveDevice(b);
                return b.build();
            } finally {
                if (!broken) {
                    for (Queue q : queues) {
                        if (q.ring != null) {
                            q.ring.resume();
                        }
                    }
                }
            }
        }
    }

    @Override
    public final void restoreState(SavedState s) {
        s.require(stateType, 1, 1);
        int n = queues.length;
        int[] sizes = s.getInts("queue-size");
        int[] enabled = s.getInts("queue-enabled");
        long[] desc = s.getLongs("queue-desc");
        long[] driver = s.getLongs("queue-driver");
        long[] device = s.getLongs("queue-device");
        int[] lastAvail = s.getInts("queue-last-avail");
        int[] usedIdx = s.getInts("queue-used-idx");
        int[] window = s.getInts("pci-cfg-window");
        if (sizes.length != n || enabled.length != n || desc.length != n || driver.length != n
                || device.length != n || lastAvail.length != n || usedIdx.length != n || window.length != 3) {
            throw new IllegalArgumentException(stateType + " state: queue arrays do not match " + n + " queues");
        }
        int savedDevice = s.getInt("pci-device");
        restoreDevice(s);
        synchronized (this) {
            if (savedDevice > 0 && slot != null && slot.device() != savedDevice) {
                // keep the PCI address the guest enumerated (a rebuild may have come in another order)
                PciSlot moved = PciBuses.attach(context, name, this, savedDevice);
                slot.close();
                slot = moved;
            }
            status = s.getInt("status") & 0xFF;
            driverFeatures = s.getLong("driver-features") & offered;
            deviceFeatureSelect = s.getInt("device-feature-select");
            driverFeatureSelect = s.getInt("driver-feature-select");
            queueSelect = s.getInt("queue-select") & 0xFFFF;
            configGeneration = s.getInt("config-generation") & 0xFF;
            isr = s.getInt("isr") & (ISR_QUEUE | ISR_CONFIG);
            broken = s.getBoolean("broken");
            lastError = broken ? "restored in the needs-reset state" : "";
            capBar = window[0] & 0xFF;
            capOffset = window[1];
            capLength = window[2];
            for (int i = 0; i < n; i++) {
                Queue q = queues[i];
                q.size = sizes[i] & 0xFFFF;
                q.enabled = enabled[i] != 0;
                q.desc = desc[i];
                q.driver = driver[i];
                q.device = device[i];
                q.ring = null;
                if (q.enabled && !broken && q.size <= q.maxSize) {
                    try {
                        q.ring = new Virtqueue(memory, q.size, q.desc, q.driver, q.device,
                                (driverFeatures & F_INDIRECT_DESC) != 0, lastAvail[i], usedIdx[i]);
                    } catch (VirtioException e) {
                        failLater(e.getMessage());
                    }
                }
            }
            pci.restore(s.getInts("pci-registers"), null);
            updateIntx();
        }
        scheduleAll(); // requests the guest made available while the device was away
    }

    @Override
    public final List<String> resources() {
        List<String> out = new ArrayList<>();
        synchronized (this) {
            if (slot != null) {
                out.add("pci " + slot.address() + " " + String.format("%04x:%04x", VENDOR_VIRTIO, DEVICE_ID_BASE + virtioId));
            }
            long base = pci.barBase(0);
            out.add(base < 0 ? "mmio BAR0 (not decoding)" : String.format("mmio 0x%x-0x%x", base, base + BAR_SIZE - 1));
            if (broken) {
                out.add("needs-reset: " + lastError);
            } else if (!lastError.isEmpty()) {
                out.add("last error: " + lastError);
            }
        }
        out.addAll(deviceResources());
        return out;
    }

    @Override
    public final Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("notifications", notifications.get());
        m.put("interrupts", interrupts.get());
        m.put("requests", requests.get());
        m.put("protocol-errors", protocolErrors.get());
        m.put("bar-map-failures", barMapFailures.get());
        m.putAll(deviceStats());
        return m;
    }

    /**
     * Returns the device status register (for tests and diagnostics).
     *
     * @return the status bits
     */
    public final synchronized int status() {
        return status;
    }

    /**
     * Returns the PCI address, e.g. {@code 00:03.0}.
     *
     * @return the address, or empty when detached
     */
    public final synchronized String pciAddress() {
        return slot == null ? "" : slot.address();
    }

    @Override
    public final void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            for (Queue q : queues) {
                if (q.ring != null) {
                    q.ring.stop();
                }
            }
        }
        ExecutorService w = worker;
        if (w != null) {
            w.shutdown();
            try {
                w.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            closed = true;
            if (bar != null) {
                bar.close();
                bar = null;
            }
            if (slot != null) {
                slot.close(); // its INTx level goes with it
                slot = null;
            }
        }
        closeDevice();
    }

    private static void put16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
    }

    private static void put32(byte[] b, int at, int v) {
        putInt(b, at, v);
    }

    private static void put64(byte[] b, int at, long v) {
        putInt(b, at, (int) v);
        putInt(b, at + 4, (int) (v >>> 32));
    }
}
