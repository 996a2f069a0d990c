package org.polyvisor.x86.paging;

import org.polyvisor.memory.GuestMemory;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.x86.ControlRegisters;

/**
 * Walks the guest's page tables the way the CPU does (SDM Vol. 3A, 4.3 "32-bit paging" and
 * 4.4 "PAE paging"): checks present, writable and user bits along the way, sets the accessed and
 * dirty bits atomically, and reports a {@link PageFault} with the architectural error code.
 *
 * <p>The result of {@link #walk} packs the guest-physical address with the effective permissions
 * of the whole walk, so an engine can fill its software TLB: use {@link #address(long)},
 * {@link #writable(long)}, {@link #user(long)}, {@link #global(long)}, {@link #large(long)} and
 * {@link #noExecute(long)}. A read of a no-execute page succeeds and says so in the result, so an
 * engine that serves instruction fetches from its read TLB can tell which entries a fetch may use.
 */
public final class PageWalker {

    private static final long P = 1;
    private static final long RW = 1 << 1;
    private static final long US = 1 << 2;
    private static final long A = 1 << 5;
    private static final long D = 1 << 6;
    private static final long PS = 1 << 7;
    private static final long G = 1 << 8;
    private static final long NX = 1L << 63;

    /** Result bit: the page is writable at the access's privilege (after CR0.WP). */
    public static final long RESULT_WRITABLE = 1L << 52;
    /** Result bit: the page is accessible from CPL 3. */
    public static final long RESULT_USER = 1L << 53;
    /** Result bit: the dirty bit is set (a later write needs no walk). */
    public static final long RESULT_DIRTY = 1L << 54;
    /** Result bit: global page. */
    public static final long RESULT_GLOBAL = 1L << 55;
    /** Result bit: a large page (4 MiB, or 2 MiB with PAE). */
    public static final long RESULT_LARGE = 1L << 56;
    /** Result bit: instruction fetches from the page fault (XD in PAE tables with EFER.NXE). */
    public static final long RESULT_NO_EXECUTE = 1L << 58;
    private static final long ADDRESS_MASK = (1L << 52) - 1;

    private PageWalker() {
    }

    /**
     * Translates a linear address.
     *
     * @param memory where the page tables are
     * @param mode   CR0, CR3, CR4, EFER
     * @param linear the linear address (32 bits)
     * @param access read, write or instruction fetch
     * @param user   true for a CPL 3 access (implicit supervisor accesses pass false)
     * @return the guest-physical address with {@code RESULT_*} bits
     * @throws PageFault if the access is not allowed
     */
    public static long walk(GuestMemory memory, PagingMode mode, long linear, Access access, boolean user)
            throws PageFault {
        linear &= 0xFFFF_FFFFL;
        if ((mode.cr4() & ControlRegisters.CR4_PAE) != 0) {
            return walkPae(memory, mode, linear, access, user);
        }
        boolean write = access == Access.WRITE;
        int baseError = (write ? PageFault.W : 0) | (user ? PageFault.U : 0);
        long pdeAddr = (mode.cr3() & 0xFFFF_F000L) + ((linear >>> 22) << 2);
        long pde = memory.readDword(pdeAddr) & 0xFFFF_FFFFL;
        if ((pde & P) == 0) {
            throw new PageFault(linear, baseError);
        }
        boolean pse = (mode.cr4() & ControlRegisters.CR4_PSE) != 0;
        if (pse && (pde & PS) != 0) {
            if ((pde & 0x003F_E000L) != 0) { // bits 21:13 reserved (no PSE-36 here)
                throw new PageFault(linear, baseError | PageFault.P | PageFault.RSVD);
            }
            long perms = check(mode, pde, pde, linear, write, user, baseError);
            setBits(memory, pdeAddr, pde, write ? A | D : A);
            long phys = (pde & 0xFFC0_0000L) | (linear & 0x003F_FFFFL);
            return phys | perms | RESULT_LARGE | ((pde & G) != 0 ? RESULT_GLOBAL : 0)
                    | (write || (pde & D) != 0 ? RESULT_DIRTY : 0);
        }
        long pteAddr = (pde & 0xFFFF_F000L) + (((linear >>> 12) & 0x3FF) << 2);
        long pte = memory.readDword(pteAddr) & 0xFFFF_FFFFL;
        if ((pte & P) == 0) {
            throw new PageFault(linear, baseError);
        }
        long perms = check(mode, pde, pte, linear, write, user, baseError);
        setBits(memory, pdeAddr, pde, A);
        setBits(memory, pteAddr, pte, write ? A | D : A);
        long phys = (pte & 0xFFFF_F000L) | (linear & 0xFFF);
        return phys | perms | ((pte & G) != 0 ? RESULT_GLOBAL : 0)
                | (write || (pte & D) != 0 ? RESULT_DIRTY : 0);
    }

    private static long walkPae(GuestMemory memory, PagingMode mode, long linear, Access access, boolean user)
            throws PageFault {
        boolean write = access == Access.WRITE;
        boolean nxe = (mode.efer() & ControlRegisters.EFER_NXE) != 0;
        int baseError = (write ? PageFault.W : 0) | (user ? PageFault.U : 0)
                | (access == Access.EXECUTE && nxe ? PageFault.ID : 0);
        long rsvdHigh = nxe ? 0x7FF0_0000_0000_0000L : 0xFFF0_0000_0000_0000L;
        long pdpteAddr = (mode.cr3() & 0xFFFF_FFE0L) + ((linear >>> 30) << 3);
        long pdpte = memory.readQword(pdpteAddr);
        if ((pdpte & P) == 0) {
            throw new PageFault(linear, baseError);
        }
        if ((pdpte & (0x1E6L | 0xFFF0_0000_0000_0000L)) != 0) {
            throw new PageFault(linear, baseError | PageFault.P | PageFault.RSVD);
        }
        long pdeAddr = (pdpte & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 21) & 0x1FF) << 3);
        long pde = memory.readQword(pdeAddr);
        if ((pde & P) == 0) {
            throw new PageFault(linear, baseError);
        }
        if ((pde & rsvdHigh) != 0 || (pde & PS) != 0 && (pde & 0x001F_E000L) != 0) {
            throw new PageFault(linear, baseError | PageFault.P | PageFault.RSVD);
        }
        if ((pde & PS) != 0) {
            long perms = check(mode, pde, pde, linear, write, user, baseError);
            checkNx(pde, 0, access, nxe, linear, baseError);
            setBits(memory, pdeAddr, pde, write ? A | D : A);
            long phys = (pde & 0x000F_FFFF_FFE0_0000L) | (linear & 0x1F_FFFFL);
            return phys | perms | RESULT_LARGE | ((pde & G) != 0 ? RESULT_GLOBAL : 0)
                    | (write || (pde & D) != 0 ? RESULT_DIRTY : 0)
                    | (nxe && (pde & NX) != 0 ? RESULT_NO_EXECUTE : 0);
        }
        long pteAddr = (pde & 0x000F_FFFF_FFFF_F000L) + (((linear >>> 12) & 0x1FF) << 3);
        long pte = memory.readQword(pteAddr);
        if ((pte & P) == 0) {
            throw new PageFault(linear, baseError);
        }
        if ((pte & rsvdHigh) != 0) {
            throw new PageFault(linear, baseError | PageFault.P | PageFault.RSVD);
        }
        long perms = check(mode, pde, pte, linear, write, user, baseError);
        checkNx(pde, pte, access, nxe, linear, baseError);
        setBits(memory, pdeAddr, pde, A);
        setBits(memory, pteAddr, pte, write ? A | D : A);
        long phys = (pte & 0x000F_FFFF_FFFF_F000L) | (linear & 0xFFF);
        return phys | perms | ((pte & G) != 0 ? RESULT_GLOBAL : 0)
                | (write || (pte & D) != 0 ? RESULT_DIRTY : 0)
                | (nxe && ((pde | pte) & NX) != 0 ? RESULT_NO_EXECUTE : 0);
    }

    private static void checkNx(long pde, long pte, Access access, boolean nxe, long linear, int baseError)
            throws PageFault {
        if (nxe && access == Access.EXECUTE && ((pde | pte) & NX) != 0) {
            throw new PageFault(linear, baseError | PageFault.P);
        }
    }

    /** Combines the permissions of both levels (the more restrictive wins) and checks the access. */
    private static long check(PagingMode mode, long pde, long pte, long linear, boolean write, boolean user,
                              int baseError) throws PageFault {
        boolean userOk = (pde & US) != 0 && (pte & US) != 0;
        boolean rw = (pde & RW) != 0 && (pte & RW) != 0;
        if (user && !userOk) {
            throw new PageFault(linear, baseError | PageFault.P);
        }
        boolean wp = (mode.cr0() & ControlRegisters.CR0_WP) != 0;
        boolean writable = rw || !user && !wp;
        if (write && !writable) {
            throw new PageFault(linear, baseError | PageFault.P);
        }
        return (writable ? RESULT_WRITABLE : 0) | (userOk ? RESULT_USER : 0);
    }

    /** Sets accessed/dirty bits with a compare-and-swap, as the hardware's locked update does. */
    private static void setBits(GuestMemory memory, long addr, long entry, long bits) {
        if ((entry & bits) == bits) {
            return;
        }
        int old = (int) entry;
        for (int tries = 0; tries < 16; tries++) {
            if (memory.compareAndSwapInt(addr, old, old | (int) bits)) {
                return;
            }
            old = memory.readDword(addr);
            if ((old & bits) == bits) {
                return;
            }
        }
        memory.writeDword(addr, old | (int) bits);
    }

    /**
     * @param result a {@link #walk} result
     * @return the guest-physical address
     */
    public static long address(long result) {
        return result & ADDRESS_MASK;
    }

    /**
     * @param result a {@link #walk} result
     * @return whether writes are allowed at the walked privilege
     */
    public static boolean writable(long result) {
        return (result & RESULT_WRITABLE) != 0;
    }

    /**
     * @param result a {@link #walk} result
     * @return whether CPL 3 may access the page
     */
    public static boolean user(long result) {
        return (result & RESULT_USER) != 0;
    }

    /**
     * @param result a {@link #walk} result
     * @return whether the dirty bit is set
     */
    public static boolean dirty(long result) {
        return (result & RESULT_DIRTY) != 0;
    }

    /**
     * @param result a {@link #walk} result
     * @return whether the page is global
     */
    public static boolean global(long result) {
        return (result & RESULT_GLOBAL) != 0;
    }

    /**
     * @param result a {@link #walk} result
     * @return whether the translation came from a large page (4 MiB, or 2 MiB with PAE)
     */
    public static boolean large(long result) {
        return (result & RESULT_LARGE) != 0;
    }

    /**
     * @param result a {@link #walk} result
     * @return whether instruction fetches from the page fault (XD with EFER.NXE)
     */
    public static boolean noExecute(long result) {
        return (result & RESULT_NO_EXECUTE) != 0;
    }
}
