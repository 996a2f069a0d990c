package org.polyvisor.mmu;

/**
 * A guest page fault found by a translation: the guest's business, delivered as #PF (vector 14),
 * never a host error. Thrown without a stack trace, since it is control flow.
 */
public final class PageFault extends Exception {

    private static final long serialVersionUID = 1L;

    /** Error code bit 0: the page was present (protection violation). */
    public static final int P = 1;
    /** Error code bit 1: the access was a write. */
    public static final int W = 1 << 1;
    /** Error code bit 2: the access was from user mode (CPL 3). */
    public static final int U = 1 << 2;
    /** Error code bit 3: a reserved bit was set in a paging structure. */
    public static final int RSVD = 1 << 3;
    /** Error code bit 4: the access was an instruction fetch. */
    public static final int ID = 1 << 4;

    private final long linearAddress;
    private final int errorCode;

    /**
     * Creates a page fault.
     *
     * @param linearAddress the faulting linear address (goes to CR2)
     * @param errorCode     the error code pushed for #PF
     */
    public PageFault(long linearAddress, int errorCode) {
        super(null, null, false, false);
        this.linearAddress = linearAddress;
        this.errorCode = errorCode;
    }

    /** @return the faulting linear address */
    public long linearAddress() {
        return linearAddress;
    }

    /** @return the #PF error code */
    public int errorCode() {
        return errorCode;
    }

    @Override
    public String getMessage() {
        return String.format("#PF at %08x error %x", linearAddress, errorCode);
    }
}
