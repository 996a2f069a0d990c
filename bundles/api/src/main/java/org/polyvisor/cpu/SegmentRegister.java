package org.polyvisor.cpu;

/**
 * A segment register with its hidden descriptor cache, as the CPU holds it (not as the GDT does).
 *
 * <p>{@code attributes} use the VMX access-rights layout (SDM Vol. 3C, 24.4.1), which KVM uses too:
 * bits 3:0 type, 4 S (code/data), 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
 *
 * @param selector   the visible 16-bit selector
 * @param base       the cached linear base address
 * @param limit      the cached limit in bytes (already scaled by G), e.g. 0xFFFF or 0xFFFF_FFFF
 * @param attributes the cached access rights
 */
public record SegmentRegister(int selector, long base, int limit, int attributes) {

    /** Type bit 0: accessed. */
    public static final int TYPE_ACCESSED = 0x1;
    /** Type bit 1: readable (code) or writable (data). */
    public static final int TYPE_RW = 0x2;
    /** Type bit 2: conforming (code) or expand-down (data). */
    public static final int TYPE_CE = 0x4;
    /** Type bit 3: code segment. */
    public static final int TYPE_CODE = 0x8;
    /** S: code or data segment (as opposed to a system segment). */
    public static final int S = 1 << 4;
    /** Shift of the descriptor privilege level. */
    public static final int DPL_SHIFT = 5;
    /** P: present. */
    public static final int P = 1 << 7;
    /** AVL: available to software. */
    public static final int AVL = 1 << 12;
    /** L: 64-bit code segment. */
    public static final int L = 1 << 13;
    /** D/B: default operation size 32 bits (code) or big stack (data). */
    public static final int DB = 1 << 14;
    /** G: limit granularity 4 KiB. */
    public static final int G = 1 << 15;
    /** Unusable: loaded with a null selector (VMX convention). */
    public static final int UNUSABLE = 1 << 16;

    /** Attributes of a real-mode read/write data segment (present, accessed). */
    public static final int REAL_MODE_DATA = P | S | TYPE_RW | TYPE_ACCESSED;
    /** Attributes of a real-mode code segment (present, readable, accessed). */
    public static final int REAL_MODE_CODE = P | S | TYPE_CODE | TYPE_RW | TYPE_ACCESSED;

    /**
     * Returns a data segment as real mode loads it: base = selector * 16, limit 64 KiB.
     *
     * @param selector the selector
     * @return the segment
     */
    public static SegmentRegister realMode(int selector) {
        return new SegmentRegister(selector & 0xFFFF, (selector & 0xFFFFL) << 4, 0xFFFF, REAL_MODE_DATA);
    }

    /**
     * Returns the descriptor privilege level.
     *
     * @return 0..3
     */
    public int dpl() {
        return (attributes >>> DPL_SHIFT) & 3;
    }

    /**
     * Tells whether the segment is usable (not loaded with a null selector).
     *
     * @return true if usable
     */
    public boolean usable() {
        return (attributes & UNUSABLE) == 0;
    }

    @Override
    public String toString() {
        return String.format("%04x base=%08x limit=%08x attr=%05x", selector, base, limit, attributes);
    }
}
