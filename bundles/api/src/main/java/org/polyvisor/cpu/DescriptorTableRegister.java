package org.polyvisor.cpu;

/**
 * GDTR or IDTR: the linear base and the byte limit of a descriptor table.
 *
 * @param base  linear base address
 * @param limit limit in bytes (the table holds {@code limit + 1} bytes)
 */
public record DescriptorTableRegister(long base, int limit) {

    @Override
    public String toString() {
        return String.format("base=%08x limit=%04x", base, limit);
    }
}
