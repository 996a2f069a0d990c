package org.polyvisor.pci;

import java.util.Arrays;

/**
 * A type 0 (device) configuration header as a register machine, for PCI device bundles: identity,
 * command and status, up to six BARs with sizing, a capability list and optional plain read-write
 * bytes. Not thread-safe: the owning device serialises access.
 *
 * <p>BAR semantics follow the PCI Local Bus Specification 3.0, section 6.2.5.1: the low bits of a
 * BAR that fall inside its size read as zero, so writing all ones and reading back gives the size;
 * bit 0 tells I/O (1) from memory (0). A BAR decodes when its space is enabled in the command
 * register, its base is not zero and, for a 32-bit memory BAR, its window ends below 4 GiB - 1 (the
 * all-ones sizing pattern thus never decodes; QEMU's {@code pci_bar_address} does the same).
 */
public final class PciConfigSpace {

    /** Vendor ID, 16 bits. */
    public static final int VENDOR_ID = 0x00;
    /** Command register, 16 bits. */
    public static final int COMMAND = 0x04;
    /** Status register, 16 bits. */
    public static final int STATUS = 0x06;
    /** First BAR; BAR n is at {@code BAR0 + 4 * n}. */
    public static final int BAR0 = 0x10;
    /** Capabilities pointer, 8 bits. */
    public static final int CAPABILITIES_POINTER = 0x34;
    /** First byte after the standard header, where capabilities go. */
    public static final int DEVICE_SPECIFIC = 0x40;

    /** Command: I/O space enable. */
    public static final int COMMAND_IO = 1 << 0;
    /** Command: memory space enable. */
    public static final int COMMAND_MEMORY = 1 << 1;
    /** Command: bus master enable (DMA allowed). */
    public static final int COMMAND_MASTER = 1 << 2;
    /** Command: parity error response. */
    public static final int COMMAND_PARITY = 1 << 6;
    /** Command: SERR# enable. */
    public static final int COMMAND_SERR = 1 << 8;
    /** Command: INTx emulation disable (PCI 2.3). */
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    /** The command bits a guest can set; the others are hardwired to zero here. */
    static final int COMMAND_WRITABLE = COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | COMMAND_PARITY
            | COMMAND_SERR | COMMAND_INTX_DISABLE;

    /** Status: INTx asserted (PCI 2.3), read-only. */
    public static final int STATUS_INTERRUPT = 1 << 3;
    /** Status: a capability list is present, read-only. */
    public static final int STATUS_CAPABILITIES = 1 << 4;

    /** Capability ID of a vendor-specific capability (used by virtio). */
    public static final int CAP_VENDOR_SPECIFIC = 0x09;

    /** BAR count of a type 0 header. */
    public static final int BARS = 6;

    /** Told when what a BAR decodes changes. */
    @FunctionalInterface
    public interface BarListener {
        /**
         * Called after a BAR started, stopped or moved decoding.
         *
         * @param index the BAR 0..5
         * @param base  the new base address, or -1 when the BAR no longer decodes
         */
        void barChanged(int index, long base);
    }

    private final byte[] fixed = new byte[256];
    private final boolean[] writable = new boolean[256];
    private final int[] barSize = new int[BARS];
    private final boolean[] barIo = new boolean[BARS];
    private final int[] barValue = new int[BARS];
    private final long[] decoded = new long[BARS];
    private int command;
    private int cacheLineLatency;
    private boolean interruptStatus;
    private int lastCapability;
    private int nextFree = DEVICE_SPECIFIC;
    private BarListener listener = (i, b) -> { };

    /**
     * Creates a header.
     *
     * @param vendorId        vendor ID
     * @param deviceId        device ID
     * @param revision        revision ID
     * @param classCode       24-bit class code (base class, subclass, programming interface)
     * @param subsystemVendor subsystem vendor ID
     * @param subsystemId     subsystem ID
     */
    public PciConfigSpace(int vendorId, int deviceId, int revision, int classCode, int subsystemVendor, int subsystemId) {
        put16(0x00, vendorId);
        put16(0x02, deviceId);
        fixed[0x08] = (byte) revision;
        fixed[0x09] = (byte) classCode;
        fixed[0x0A] = (byte) (classCode >>> 8);
        fixed[0x0B] = (byte) (classCode >>> 16);
        fixed[0x0E] = 0x00; // header type 0, single function
        put16(0x2C, subsystemVendor);
        put16(0x2E, subsystemId);
        Arrays.fill(decoded, -1);
    }

    /**
     * Declares a 32-bit non-prefetchable memory BAR.
     *
     * @param index 0..5
     * @param size  a power of two, at least 16 bytes
     */
    public void defineMemoryBar(int index, int size) {
        if (size < 16 || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("memory BAR size " + size + " is not a power of two >= 16");
        }
        barSize[index] = size;
        barIo[index] = false;
    }

    /**
     * Declares an I/O BAR.
     *
     * @param index 0..5
     * @param size  a power of two, 4..256 ports
     */
    public void defineIoBar(int index, int size) {
        if (size < 4 || size > 256 || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("I/O BAR size " + size + " is not a power of two in 4..256");
        }
        barSize[index] = size;
        barIo[index] = true;
        barValue[index] = 1;
    }

    /**
     * Appends a capability to the list.
     *
     * @param id   the capability ID
     * @param body the bytes after the ID and next-pointer bytes
     * @return the capability's offset in configuration space
     */
    public int addCapability(int id, byte[] body) {
        int offset = (nextFree + 3) & ~3;
        if (offset + 2 + body.length > 256) {
            throw new IllegalArgumentException("capabilities do not fit in configuration space");
        }
        fixed[offset] = (byte) id;
        fixed[offset + 1] = 0;
        System.arraycopy(body, 0, fixed, offset + 2, body.length);
        if (lastCapability == 0) {
            fixed[CAPABILITIES_POINTER] = (byte) offset;
        } else {
            fixed[lastCapability + 1] = (byte) offset;
        }
        lastCapability = offset;
        nextFree = offset + 2 + body.length;
        return offset;
    }

    /**
     * Makes bytes plain read-write storage (chipset registers, scratch), saved with the state.
     *
     * @param from first offset
     * @param to   offset after the last
     */
    public void makeWritable(int from, int to) {
        for (int i = from; i < to; i++) {
            writable[i] = true;
        }
    }

    /**
     * Sets who is told about BAR decoding changes.
     *
     * @param listener the listener
     */
    public void setListener(BarListener listener) {
        this.listener = listener;
    }

    /**
     * Reads like a configuration cycle; any offset and size, unaligned accesses compose bytes.
     *
     * @param offset 0..255
     * @param size   1, 2 or 4
     * @return the value
     */
    public int read(int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            int b = o < 256 ? (dword(o & ~3) >>> (8 * (o & 3))) & 0xFF : 0xFF;
            v |= b << (8 * i);
        }
        return v;
    }

    private int dword(int off) {
        if (off == COMMAND) {
            int status = (lastCapability != 0 ? STATUS_CAPABILITIES : 0) | (interruptStatus ? STATUS_INTERRUPT : 0);
            return command | status << 16;
        } else if (off == 0x0C) {
            return cacheLineLatency | get32(off) & 0xFFFF_0000;
        } else if (off >= BAR0 && off < BAR0 + 4 * BARS) {
            return barValue[(off - BAR0) / 4];
        }
        return get32(off);
    }

    /**
     * Writes like a configuration cycle; bytes of read-only registers are ignored.
     *
     * @param offset 0..255
     * @param size   1, 2 or 4
     * @param value  the value
     */
    public void write(int offset, int size, int value) {
        if (offset < 0 || offset + size > 256) {
            return;
        }
        int first = offset & ~3;
        int last = (offset + size - 1) & ~3;
        if (first != last) {
            for (int i = 0; i < size; i++) {
                write(offset + i, 1, value >>> (8 * i));
            }
            return;
        }
        int shift = 8 * (offset & 3);
        int mask = (size == 4 ? -1 : (1 << (8 * size)) - 1) << shift;
        int merged = (dword(first) & ~mask) | ((value << shift) & mask);
        writeDword(first, merged, mask);
    }

    private void writeDword(int off, int value, int mask) {
        if (off == COMMAND) {
            if ((mask & 0xFFFF) != 0) {
                command = value & COMMAND_WRITABLE;
                updateDecoding();
            }
            // status: the error bits are write-one-to-clear and never set by this model
        } else if (off == 0x0C) {
            cacheLineLatency = value & 0xFFFF;
        } else if (off >= BAR0 && off < BAR0 + 4 * BARS) {
            int i = (off - BAR0) / 4;
            if (barSize[i] != 0) {
                barValue[i] = barIo[i] ? (value & -barSize[i]) | 1 : value & -barSize[i];
                updateDecoding();
            }
        } else {
            for (int b = 0; b < 4; b++) {
                if ((mask >>> (8 * b) & 0xFF) != 0 && writable[off + b]) {
                    fixed[off + b] = (byte) (value >>> (8 * b));
                }
            }
        }
    }

    private void updateDecoding() {
        for (int i = 0; i < BARS; i++) {
            long now = decodedBase(i);
            if (now != decoded[i]) {
                decoded[i] = now;
                listener.barChanged(i, now);
            }
        }
    }

    private long decodedBase(int i) {
        if (barSize[i] == 0) {
            return -1;
        }
        if (barIo[i]) {
            long base = barValue[i] & 0xFFFF_FFFCL;
            boolean on = (command & COMMAND_IO) != 0 && base != 0 && base + barSize[i] <= 0x1_0000L;
            return on ? base : -1;
        }
        long base = barValue[i] & 0xFFFF_FFF0L;
        boolean on = (command & COMMAND_MEMORY) != 0 && base != 0 && base + barSize[i] - 1 < 0xFFFF_FFFFL;
        return on ? base : -1;
    }

    /**
     * Returns where a BAR decodes.
     *
     * @param index 0..5
     * @return its base, or -1 when not decoding
     */
    public long barBase(int index) {
        return decoded[index];
    }

    /**
     * Returns the command register.
     *
     * @return the command bits
     */
    public int command() {
        return command;
    }

    /**
     * Tells whether the function may master the bus (do DMA).
     *
     * @return the bus master enable bit
     */
    public boolean busMaster() {
        return (command & COMMAND_MASTER) != 0;
    }

    /**
     * Records the function's interrupt request in the status register and tells whether INTx# is
     * to be asserted (the request, unless the command register disables INTx).
     *
     * @param pending whether the function requests an interrupt
     * @return the INTx# level to drive
     */
    public boolean interruptLevel(boolean pending) {
        interruptStatus = pending;
        return pending && (command & COMMAND_INTX_DISABLE) == 0;
    }

    /**
     * Returns the guest-programmable registers and storage, for saved states.
     *
     * @return command, cache line/latency, then the six BAR values; then writable bytes follow
     *         separately through {@link #saveWritableBytes()}
     */
    public int[] saveRegisters() {
        int[] r = new int[2 + BARS];
        r[0] = command;
        r[1] = cacheLineLatency;
        System.arraycopy(barValue, 0, r, 2, BARS);
        return r;
    }

    /**
     * Returns the configuration bytes (only those made writable matter on restore).
     *
     * @return a copy of the 256 bytes
     */
    public byte[] saveWritableBytes() {
        return fixed.clone();
    }

    /**
     * Restores what {@link #saveRegisters()} and {@link #saveWritableBytes()} gave, then tells
     * the listener about BARs whose decoding changed.
     *
     * @param registers the registers
     * @param bytes     the configuration bytes, or null
     * @throws IllegalArgumentException if the array has the wrong length
     */
    public void restore(int[] registers, byte[] bytes) {
        if (registers.length != 2 + BARS || (bytes != null && bytes.length != 256)) {
            throw new IllegalArgumentException("PCI configuration state has " + registers.length
                    + " registers, expected " + (2 + BARS));
        }
        command = registers[0] & COMMAND_WRITABLE;
        cacheLineLatency = registers[1] & 0xFFFF;
        for (int i = 0; i < BARS; i++) {
            if (barSize[i] != 0) {
                barValue[i] = barIo[i] ? (registers[2 + i] & -barSize[i]) | 1 : registers[2 + i] & -barSize[i];
            }
        }
        if (bytes != null) {
            for (int i = 0; i < 256; i++) {
                if (writable[i]) {
                    fixed[i] = bytes[i];
                }
            }
        }
        updateDecoding();
    }

    /** Puts the registers in their power-on state (BARs and command zero), telling the listener. */
    public void reset() {
        command = 0;
        cacheLineLatency = 0;
        interruptStatus = false;
        for (int i = 0; i < BARS; i++) {
            barValue[i] = barSize[i] != 0 && barIo[i] ? 1 : 0;
        }
        for (int i = 0; i < 256; i++) {
            if (writable[i]) {
                fixed[i] = 0;
            }
        }
        updateDecoding();
    }

    private void put16(int off, int v) {
        fixed[off] = (byte) v;
        fixed[off + 1] = (byte) (v >>> 8);
    }

    private int get32(int off) {
        return (fixed[off] & 0xFF) | (fixed[off + 1] & 0xFF) << 8 | (fixed[off + 2] & 0xFF) << 16
                | (fixed[off + 3] & 0xFF) << 24;
    }
}
