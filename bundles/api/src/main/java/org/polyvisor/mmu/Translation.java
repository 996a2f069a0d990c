package org.polyvisor.mmu;

/**
 * The result of {@link Mmu#translate}: a guest-physical address packed in one {@code long} with the
 * permissions an engine needs to fill its software TLB, so a TLB miss allocates nothing.
 *
 * <p>Bits 51:0 hold the guest-physical address of the translated byte; the bits above say what
 * the engine may cache. The bit positions are those of {@code org.polyvisor.x86.paging.PageWalker}'s
 * result, so the architectural walk's result is a valid translation too.
 *
 * <p>Fill rules for a software TLB (one entry per linear page and access privilege):
 * <ul>
 * <li>a translation for a read or an instruction fetch may serve later reads (and fetches, unless
 *     the page is {@link #NO_EXECUTE}) of the same page at the same privilege;</li>
 * <li>later writes may be served from the TLB only when both {@link #WRITABLE} and {@link #DIRTY}
 *     are set ({@link #cachesWrites}): the guest allows the write at this privilege, its dirty bit is
 *     already set, and the MMU does not need to see the write (an MMU that must, for nested write
 *     protection or dirty logging, leaves {@code WRITABLE} clear); otherwise the engine calls
 *     {@link Mmu#translate} with {@link Access#WRITE} for the write, which sets the dirty bit or
 *     raises the page fault;</li>
 * <li>entries with {@link #GLOBAL} survive a CR3 load while CR4.PGE is set (SDM Vol. 3A, 4.10.2.4);
 *     every entry goes on a CR0/CR4 paging change, INVLPG of the page, or when
 *     {@link Mmu#tlbEpoch} changes.</li>
 * </ul>
 */
public final class Translation {

    /** The guest-physical address bits. */
    public static final long ADDRESS_MASK = (1L << 52) - 1;
    /** Writes at the translated privilege are allowed (after CR0.WP) and the MMU need not see them. */
    public static final long WRITABLE = 1L << 52;
    /** The page is accessible from CPL 3. */
    public static final long USER = 1L << 53;
    /** The guest's dirty bit is set for the page. */
    public static final long DIRTY = 1L << 54;
    /** The guest marked the page global (G bit, effective with CR4.PGE). */
    public static final long GLOBAL = 1L << 55;
    /** The translation comes from a large page (4 MiB, or 2 MiB with PAE). */
    public static final long LARGE = 1L << 56;
    /** The guest-physical page is not memory: the access goes to the MMIO bus (a nested violation). */
    public static final long MMIO = 1L << 57;
    /** Instruction fetches from the page fault (XD/NX with EFER.NXE). */
    public static final long NO_EXECUTE = 1L << 58;

    private Translation() {
    }

    /**
     * @param translation a packed translation
     * @return the guest-physical address
     */
    public static long address(long translation) {
        return translation & ADDRESS_MASK;
    }

    /**
     * @param translation a packed translation
     * @return the 4 KiB guest-physical page frame address
     */
    public static long page(long translation) {
        return translation & ADDRESS_MASK & ~0xFFFL;
    }

    /**
     * @param translation a packed translation
     * @return whether writes are allowed and need not be seen by the MMU
     */
    public static boolean writable(long translation) {
        return (translation & WRITABLE) != 0;
    }

    /**
     * Tells whether a software TLB may serve later writes to the page without asking the MMU.
     *
     * @param translation a packed translation
     * @return {@link #WRITABLE} and {@link #DIRTY} both set
     */
    public static boolean cachesWrites(long translation) {
        return (translation & (WRITABLE | DIRTY)) == (WRITABLE | DIRTY);
    }

    /**
     * @param translation a packed translation
     * @return whether CPL 3 may access the page
     */
    public static boolean user(long translation) {
        return (translation & USER) != 0;
    }

    /**
     * @param translation a packed translation
     * @return whether the guest's dirty bit is set
     */
    public static boolean dirty(long translation) {
        return (translation & DIRTY) != 0;
    }

    /**
     * @param translation a packed translation
     * @return whether the page is global
     */
    public static boolean global(long translation) {
        return (translation & GLOBAL) != 0;
    }

    /**
     * @param translation a packed translation
     * @return whether the translation came from a large page
     */
    public static boolean large(long translation) {
        return (translation & LARGE) != 0;
    }

    /**
     * @param translation a packed translation
     * @return whether the page is not guest memory (MMIO)
     */
    public static boolean mmio(long translation) {
        return (translation & MMIO) != 0;
    }

    /**
     * @param translation a packed translation
     * @return whether instruction fetches from the page fault
     */
    public static boolean noExecute(long translation) {
        return (translation & NO_EXECUTE) != 0;
    }

    /**
     * Describes a translation for logs and test messages.
     *
     * @param translation a packed translation
     * @return e.g. {@code 0x00123456 [W U D]}
     */
    public static String toString(long translation) {
        StringBuilder b = new StringBuilder(String.format("0x%08x [", address(translation)));
        String[] names = {"W", "U", "D", "G", "L", "MMIO", "NX"};
        for (int i = 0; i < names.length; i++) {
            if ((translation & (1L << (52 + i))) != 0) {
                b.append(b.charAt(b.length() - 1) == '[' ? "" : " ").append(names[i]);
            }
        }
        return b.append(']').toString();
    }
}
