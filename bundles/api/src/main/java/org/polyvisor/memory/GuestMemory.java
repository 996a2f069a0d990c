package org.polyvisor.memory;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A VM's guest-physical memory: RAM and ROM regions backed by off-heap host memory.
 *
 * <p>Accessors take guest-physical addresses and are little-endian. Reads of addresses outside
 * every region return all ones (an open bus, as on a PC) and writes there are dropped; writes to
 * ROM are dropped. Neither is an error, because a guest may do either; MMIO is not part of guest
 * memory (see {@code org.polyvisor.io.MmioBus}), so callers route non-memory addresses there first
 * with {@link #isMemory(long)}.
 *
 * <p>Accesses are not atomic with respect to other vCPUs beyond what the host gives naturally
 * aligned accesses; engines implementing LOCK use {@link #compareAndSwapInt}.
 */
@ProviderType
public interface GuestMemory {

    /**
     * Returns the regions in ascending address order.
     *
     * @return an unmodifiable list
     */
    List<MemoryRegion> regions();

    /**
     * Returns the amount of RAM (not counting ROM) in bytes.
     *
     * @return RAM size
     */
    long ramSize();

    /**
     * Tells whether an address is backed by RAM or ROM.
     *
     * @param gpa guest-physical address
     * @return true if some region contains it
     */
    boolean isMemory(long gpa);

    /**
     * Tells whether writes at an address reach memory now: RAM, including shadow RAM that a
     * chipset has opened for writing ({@link #setLegacyDecode}); not ROM, not unbacked space.
     * Devices check DMA targets with it.
     *
     * @param gpa guest-physical address
     * @return true if a write there is stored
     */
    default boolean isWritable(long gpa) {
        for (MemoryRegion r : regions()) {
            if (r.contains(gpa)) {
                return r.kind() == MemoryRegion.Kind.RAM;
            }
        }
        return false;
    }

    /**
     * Reads one byte.
     *
     * @param gpa guest-physical address
     * @return the unsigned byte value
     */
    int readByte(long gpa);

    /**
     * Reads a little-endian 16-bit value (may cross a page or region boundary).
     *
     * @param gpa guest-physical address
     * @return the unsigned value
     */
    int readWord(long gpa);

    /**
     * Reads a little-endian 32-bit value.
     *
     * @param gpa guest-physical address
     * @return the value
     */
    int readDword(long gpa);

    /**
     * Reads a little-endian 64-bit value.
     *
     * @param gpa guest-physical address
     * @return the value
     */
    long readQword(long gpa);

    /**
     * Writes one byte.
     *
     * @param gpa   guest-physical address
     * @param value the byte in the low 8 bits
     */
    void writeByte(long gpa, int value);

    /**
     * Writes a little-endian 16-bit value.
     *
     * @param gpa   guest-physical address
     * @param value the value in the low 16 bits
     */
    void writeWord(long gpa, int value);

    /**
     * Writes a little-endian 32-bit value.
     *
     * @param gpa   guest-physical address
     * @param value the value
     */
    void writeDword(long gpa, int value);

    /**
     * Writes a little-endian 64-bit value.
     *
     * @param gpa   guest-physical address
     * @param value the value
     */
    void writeQword(long gpa, long value);

    /**
     * Atomically replaces an aligned 32-bit RAM value if it equals the expected one (LOCK CMPXCHG,
     * accessed/dirty bit updates racing with other vCPUs).
     *
     * @param gpa      4-byte aligned guest-physical address in RAM
     * @param expected the expected value
     * @param value    the new value
     * @return true if replaced
     */
    boolean compareAndSwapInt(long gpa, int expected, int value);

    /**
     * Copies guest memory to a host array.
     *
     * @param gpa    first guest-physical address
     * @param dst    destination
     * @param offset first index in {@code dst}
     * @param length number of bytes
     */
    void read(long gpa, byte[] dst, int offset, int length);

    /**
     * Copies a host array into guest memory (as DMA or a loader would; ROM is written only by
     * {@link #loadRom}).
     *
     * @param gpa    first guest-physical address
     * @param src    source
     * @param offset first index in {@code src}
     * @param length number of bytes
     */
    void write(long gpa, byte[] src, int offset, int length);

    /**
     * Fills a ROM region with an image at VM assembly (the only way to write ROM).
     *
     * @param region the ROM region
     * @param offset offset in the region
     * @param image  bytes to place
     */
    void loadRom(MemoryRegion region, long offset, byte[] image);

    /**
     * Watches writes to a range of guest-physical pages.
     *
     * @param gpa      first address of the range (rounded down to a page)
     * @param length   length of the range (rounded up to whole pages)
     * @param listener told of every write into the range
     * @return a handle that stops watching when closed
     */
    WriteWatch watch(long gpa, long length, WriteListener listener);

    /**
     * Tells whether any watch covers the page holding {@code gpa}. Engines use it to keep
     * unwatched pages on their fast path.
     *
     * @param gpa guest-physical address
     * @return true if writes there are traced
     */
    boolean isWatched(long gpa);

    /** First address of the PC's legacy window whose decoding a chipset can switch: 768 KiB. */
    long LEGACY_WINDOW_START = 0xC_0000L;

    /** End of the legacy window: 1 MiB. */
    long LEGACY_WINDOW_END = 0x10_0000L;

    /**
     * Sets how part of the PC's legacy window 0xC0000-0xFFFFF is decoded, as a chipset's
     * programmable attribute map does (Intel 82441FX datasheet, PAM0-PAM6): reads come from the
     * shadow RAM under the window or from what lies behind it (the firmware ROM's alias, or
     * nothing: open bus), and writes go into the shadow RAM or are dropped. Firmware uses it to
     * copy itself into RAM, write its variables there, and write-protect the copy again.
     * Engines see the change at their next access; code cached from the range is invalidated as
     * after a write.
     *
     * @param gpa      first address, 4 KiB aligned, inside the window
     * @param length   bytes, a multiple of 4 KiB, ending inside the window
     * @param readRam  reads come from the shadow RAM (else from the ROM or open bus)
     * @param writeRam writes go into the shadow RAM (else they are dropped)
     * @return false, changing nothing, when this memory has no switchable window (no firmware
     *         is mapped, so the window is plain RAM)
     * @throws IllegalArgumentException if the range is not whole pages inside the window
     */
    default boolean setLegacyDecode(long gpa, long length, boolean readRam, boolean writeRam) {
        return false;
    }

    /**
     * Counts the calls of {@link #setLegacyDecode} that changed how a page decodes. An engine that
     * keeps host buffers of legacy-window pages (from {@link #decodedRegion}) compares it with the
     * count it filled them under, and drops them when it moved: after its own port or MMIO writes
     * (the chipset register writes that switch the window) and at the start of each run.
     *
     * @return changes so far; 0 for a memory without a switchable window
     */
    default long legacyDecodeChanges() {
        return 0;
    }

    /**
     * The region that reads (or writes) of a guest-physical page decode to now: for pages of the
     * legacy window, whatever {@link #setLegacyDecode} last chose (the ROM behind the window or
     * the shadow RAM under it), so an engine may access its buffer directly until
     * {@link #legacyDecodeChanges} moves.
     *
     * @param gpa   an address in the page
     * @param write the decoding of writes (null where they are dropped) rather than reads
     * @return the region, or null where nothing is decoded or the memory does not say
     */
    default MemoryRegion decodedRegion(long gpa, boolean write) {
        return null;
    }

    /** A registered write watch. */
    @ProviderType
    interface WriteWatch extends AutoCloseable {
        /** Stops watching; idempotent. */
        @Override
        void close();
    }
}
