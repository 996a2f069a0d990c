package org.polyvisor.part;

import java.util.Locale;

/** The kinds of part a VM is assembled from. */
public enum PartKind {
    /** A CPU strategy, which makes one engine per vCPU. */
    CPU,
    /** An MMU strategy, which makes one MMU per VM. */
    MMU,
    /** An interrupt-controller strategy, which makes one interrupt chip per VM. */
    IRQCHIP,
    /** A device model, which makes device instances. */
    DEVICE;

    /**
     * Returns the name used in configuration and on the command line ({@code cpu}, {@code mmu},
     * {@code irqchip}, {@code device}).
     *
     * @return the lower-case key
     */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a key as returned by {@link #key()}.
     *
     * @param key the key, case-insensitive
     * @return the kind
     * @throws IllegalArgumentException naming the valid keys if none matches
     */
    public static PartKind fromKey(String key) {
        for (PartKind kind : values()) {
            if (kind.key().equalsIgnoreCase(key.trim())) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown part kind '" + key + "': expected cpu, mmu, irqchip or device");
    }
}
