package org.polyvisor.virtio.testing;

/**
 * A guest's virtio-pci driver, reduced to what tests need: finds the function through configuration
 * cycles, places BAR 0, reads the virtio capabilities, negotiates features, sets up split queues in
 * guest RAM, submits chains and waits for them in the used ring.
 */
public final class VirtioDriver {

    /** Device status bits. */
    public static final int ACK = 1;
    /** Driver loaded. */
    public static final int DRIVER = 2;
    /** Driver ready. */
    public static final int DRIVER_OK = 4;
    /** Features accepted. */
    public static final int FEATURES_OK = 8;
    /** Device needs reset. */
    public static final int NEEDS_RESET = 64;

    private final TestVm vm;
    /** The PCI device number. */
    public final int dev;
    /** Where BAR 0 was placed. */
    public final long bar;
    /** Offsets in BAR 0 of the structures, from the capabilities. */
    public long common;
    /** ISR offset. */
    public long isr;
    /** Device config offset. */
    public long device;
    /** Notify offset. */
    public long notify;
    /** notify_off_multiplier. */
    public int notifyMultiplier;
    /** Offset of the PCI_CFG capability in configuration space. */
    public int pciCfgCap;

    /**
     * Creates the driver and enables the function's BAR 0 and bus mastering.
     *
     * @param vm  the VM
     * @param dev the PCI device number
     * @param bar where to place BAR 0
     */
    public VirtioDriver(TestVm vm, int dev, long bar) {
        this.vm = vm;
        this.dev = dev;
        this.bar = bar;
        cfgWrite(0x10, 4, (int) bar);
        cfgWrite(0x04, 2, 0x6); // memory space + bus master
        for (int cap = cfgRead(0x34, 1); cap != 0; cap = cfgRead(cap + 1, 1)) {
            if (cfgRead(cap, 1) != 0x09) {
                continue;
            }
            int type = cfgRead(cap + 3, 1);
            long off = cfgRead(cap + 8, 4) & 0xFFFF_FFFFL;
            switch (type) {
                case 1 -> common = off;
                case 2 -> {
                    notify = off;
                    notifyMultiplier = cfgRead(cap + 16, 4);
                }
                case 3 -> isr = off;
                case 4 -> device = off;
                case 5 -> pciCfgCap = cap;
                default -> { }
            }
        }
    }

    /**
     * Reads configuration space.
     *
     * @param reg  register
     * @param size size
     * @return value
     */
    public int cfgRead(int reg, int size) {
        vm.ports.write(0xCF8, 4, 0x8000_0000 | dev << 11 | reg & 0xFC);
        return vm.ports.read(0xCFC + (reg & 3), size);
    }

    /**
     * Writes configuration space.
     *
     * @param reg   register
     * @param size  size
     * @param value value
     */
    public void cfgWrite(int reg, int size, int value) {
        vm.ports.write(0xCF8, 4, 0x8000_0000 | dev << 11 | reg & 0xFC);
        vm.ports.write(0xCFC + (reg & 3), size, value);
    }

    /**
     * Reads the common configuration.
     *
     * @param off  offset
     * @param size size
     * @return value
     */
    public long common(int off, int size) {
        return vm.mmio.read(bar + common + off, size);
    }

    /**
     * Writes the common configuration.
     *
     * @param off   offset
     * @param size  size
     * @param value value
     */
    public void common(int off, int size, long value) {
        vm.mmio.write(bar + common + off, size, value);
    }

    /**
     * Reads device-specific configuration.
     *
     * @param off  offset
     * @param size size
     * @return value
     */
    public long config(int off, int size) {
        return vm.mmio.read(bar + device + off, size);
    }

    /**
     * Returns the status register.
     *
     * @return status
     */
    public int status() {
        return (int) common(0x14, 1);
    }

    /**
     * Reads (and so clears) the ISR.
     *
     * @return ISR bits
     */
    public int readIsr() {
        return (int) vm.mmio.read(bar + isr, 1);
    }

    /**
     * Returns the 64 device feature bits.
     *
     * @return features
     */
    public long deviceFeatures() {
        common(0x00, 4, 0);
        long lo = common(0x04, 4) & 0xFFFF_FFFFL;
        common(0x00, 4, 1);
        long hi = common(0x04, 4) & 0xFFFF_FFFFL;
        return hi << 32 | lo;
    }

    /**
     * Runs the initialisation of 3.1.1 up to FEATURES_OK.
     *
     * @param features the features to accept
     * @return whether the device accepted them
     */
    public boolean negotiate(long features) {
        common(0x14, 1, 0);
        common(0x14, 1, ACK);
        common(0x14, 1, ACK | DRIVER);
        common(0x08, 4, 0);
        common(0x0C, 4, (int) features);
        common(0x08, 4, 1);
        common(0x0C, 4, (int) (features >>> 32));
        common(0x14, 1, ACK | DRIVER | FEATURES_OK);
        return (status() & FEATURES_OK) != 0;
    }

    /** Sets DRIVER_OK. */
    public void driverOk() {
        common(0x14, 1, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
    }

    /**
     * Sets up a queue with its rings at {@code base}.
     *
     * @param q    queue index
     * @param size queue size
     * @param base guest address (4 KiB aligned)
     * @return the queue
     */
    public Queue queue(int q, int size, long base) {
        Queue queue = new Queue(q, size, base);
        common(0x16, 2, q);
        common(0x18, 2, size);
        common(0x20, 4, queue.desc);
        common(0x24, 4, queue.desc >>> 32);
        common(0x28, 4, queue.avail);
        common(0x2C, 4, queue.avail >>> 32);
        common(0x30, 8, queue.used);
        common(0x1C, 2, 1);
        return queue;
    }

    /** A split queue as the driver keeps it. */
    public final class Queue {
        /** Queue index. */
        public final int index;
        /** Queue size. */
        public final int size;
        /** Ring addresses. */
        public final long desc;
        /** Available ring. */
        public final long avail;
        /** Used ring. */
        public final long used;
        private int nextDesc;
        private int availIdx;
        private int lastUsed;

        Queue(int index, int size, long base) {
            this.index = index;
            this.size = size;
            this.desc = base;
            this.avail = base + 16L * size;
            this.used = (avail + 6 + 2L * size + 4095) & ~4095L;
        }

        /**
         * Writes a descriptor.
         *
         * @param i     index
         * @param addr  buffer
         * @param len   length
         * @param flags flags
         * @param next  next
         */
        public void descriptor(int i, long addr, int len, int flags, int next) {
            long d = desc + 16L * i;
            vm.memory.writeQword(d, addr);
            vm.memory.writeDword(d + 8, len);
            vm.memory.writeWord(d + 12, flags);
            vm.memory.writeWord(d + 14, next);
        }

        /**
         * Adds a chain of buffers and publishes it (without notifying).
         *
         * @param addrs    buffer addresses
         * @param lens     lengths
         * @param writable which are device-writable
         * @return the head index
         */
        public int add(long[] addrs, int[] lens, boolean[] writable) {
            int head = nextDesc;
            for (int i = 0; i < addrs.length; i++) {
                int me = (nextDesc + i) % size;
                int next = (nextDesc + i + 1) % size;
                int flags = (writable[i] ? 2 : 0) | (i + 1 < addrs.length ? 1 : 0);
                descriptor(me, addrs[i], lens[i], flags, next);
            }
            nextDesc = (nextDesc + addrs.length) % size;
            publish(head);
            return head;
        }

        /**
         * Puts a head in the available ring and moves the index.
         *
         * @param head the head index
         */
        public void publish(int head) {
            vm.memory.writeWord(avail + 4 + 2L * (availIdx % size), head);
            availIdx = (availIdx + 1) & 0xFFFF;
            vm.memory.writeWord(avail + 2, availIdx);
        }

        /**
         * Sets the available ring's index directly (to fake a broken driver).
         *
         * @param idx the index
         */
        public void availIndex(int idx) {
            availIdx = idx & 0xFFFF;
            vm.memory.writeWord(avail + 2, availIdx);
        }

        /** Notifies the device. */
        public void kick() {
            vm.mmio.write(bar + notify + (long) notifyMultiplier * index, 2, index);
        }

        /**
         * Waits for the next used element.
         *
         * @param timeoutMs how long to wait
         * @return {id, len}, or null on timeout
         */
        public int[] waitUsed(long timeoutMs) {
            long end = System.nanoTime() + timeoutMs * 1_000_000;
            while (System.nanoTime() < end) {
                int idx = vm.memory.readWord(used + 2);
                if (idx != lastUsed) {
                    long e = used + 4 + 8L * (lastUsed % size);
                    lastUsed = (lastUsed + 1) & 0xFFFF;
                    return new int[] {vm.memory.readDword(e), vm.memory.readDword(e + 4)};
                }
                Thread.onSpinWait();
                try {
                    Thread.sleep(1);
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            return null;
        }

        /**
         * Returns the used ring's index.
         *
         * @return the index
         */
        public int usedIndex() {
            return vm.memory.readWord(used + 2);
        }
    }
}
