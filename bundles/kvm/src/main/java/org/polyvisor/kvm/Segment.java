package org.polyvisor.kvm;

/**
 * A segment register as {@code struct kvm_segment} holds it: the cached descriptor fields one by
 * one (where VMX packs them into one access-rights word).
 *
 * @param base     cached base
 * @param limit    cached limit in bytes (already scaled by G)
 * @param selector visible selector
 * @param type     descriptor type (4 bits)
 * @param present  P
 * @param dpl      descriptor privilege level
 * @param db       D/B
 * @param s        S (code/data as opposed to system)
 * @param l        L (64-bit code)
 * @param g        G (granularity)
 * @param avl      AVL
 * @param unusable loaded with a null selector
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl, boolean db,
                      boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /**
     * Unpacks a VMX access-rights word (SDM Vol. 3C, 24.4.1: bits 3:0 type, 4 S, 6:5 DPL, 7 P,
     * 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable).
     *
     * @param selector   the selector
     * @param base       the base
     * @param limit      the limit
     * @param ar         the access rights
     * @return the segment
     */
    public static Segment fromAccessRights(int selector, long base, int limit, int ar) {
        return new Segment(base, limit, selector & 0xFFFF, ar & 0xF, (ar & 0x80) != 0, (ar >>> 5) & 3,
                (ar & 0x4000) != 0, (ar & 0x10) != 0, (ar & 0x2000) != 0, (ar & 0x8000) != 0,
                (ar & 0x1000) != 0, (ar & 0x1_0000) != 0);
    }

    /**
     * Packs the fields into a VMX access-rights word.
     *
     * @return the access rights
     */
    public int accessRights() {
        return (type & 0xF) | (s ? 0x10 : 0) | (dpl & 3) << 5 | (present ? 0x80 : 0) | (avl ? 0x1000 : 0)
                | (l ? 0x2000 : 0) | (db ? 0x4000 : 0) | (g ? 0x8000 : 0) | (unusable ? 0x1_0000 : 0);
    }
}
