package org.polyvisor.kvm;

import java.util.Arrays;
import java.util.Objects;

/**
 * Debug registers ({@code struct kvm_debugregs}).
 *
 * @param db    DR0..DR3
 * @param dr6   DR6
 * @param dr7   DR7
 * @param flags KVM flags (0)
 */
public record DebugRegs(long[] db, long dr6, long dr7, long flags) {

    /** Validates and copies. */
    public DebugRegs {
        Objects.requireNonNull(db, "db");
        if (db.length != 4) {
            throw new IllegalArgumentException("4 breakpoint registers expected");
        }
        db = db.clone();
    }

    /** @return a copy of DR0..DR3 */
    @Override
    public long[] db() {
        return db.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DebugRegs d && Arrays.equals(db, d.db) && dr6 == d.dr6 && dr7 == d.dr7 && flags == d.flags;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(db), dr6, dr7);
    }
}
