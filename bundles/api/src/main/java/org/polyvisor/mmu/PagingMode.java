package org.polyvisor.mmu;

/**
 * The paging controls that decide a translation, as the CPU holds them.
 *
 * @param cr0  CR0 (PG, WP)
 * @param cr3  CR3 (the root)
 * @param cr4  CR4 (PSE, PAE, PGE)
 * @param efer EFER (NXE, LMA)
 */
public record PagingMode(long cr0, long cr3, long cr4, long efer) {

    /**
     * Tells whether paging is on.
     *
     * @return CR0.PG
     */
    public boolean enabled() {
        return (cr0 & 0x8000_0000L) != 0;
    }
}
