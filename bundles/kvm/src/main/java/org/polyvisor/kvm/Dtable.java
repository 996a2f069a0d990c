package org.polyvisor.kvm;

/**
 * A descriptor-table register as {@code struct kvm_dtable} holds it.
 *
 * @param base  linear base
 * @param limit 16-bit limit
 */
public record Dtable(long base, int limit) {
}
