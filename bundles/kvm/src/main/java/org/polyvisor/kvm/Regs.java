package org.polyvisor.kvm;

import java.util.Objects;

/**
 * The general registers ({@code struct kvm_regs}), with the sixteen general registers in x86
 * encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15) rather than the kernel's.
 *
 * @param gpr    sixteen registers
 * @param rip    instruction pointer
 * @param rflags flags
 */
public record Regs(long[] gpr, long rip, long rflags) {

    /** Validates and copies. */
    public Regs {
        Objects.requireNonNull(gpr, "gpr");
        if (gpr.length != 16) {
            throw new IllegalArgumentException("16 general registers expected, got " + gpr.length);
        }
        gpr = gpr.clone();
    }

    /** @return a copy of the general registers */
    @Override
    public long[] gpr() {
        return gpr.clone();
    }

    /**
     * Returns one register.
     *
     * @param index encoding number 0..15
     * @return its value
     */
    public long gpr(int index) {
        return gpr[index];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Regs r && java.util.Arrays.equals(gpr, r.gpr) && rip == r.rip && rflags == r.rflags;
    }

    @Override
    public int hashCode() {
        return Objects.hash(java.util.Arrays.hashCode(gpr), rip, rflags);
    }
}
