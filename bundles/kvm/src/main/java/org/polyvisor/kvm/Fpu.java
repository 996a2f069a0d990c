package org.polyvisor.kvm;

import java.util.Arrays;
import java.util.Objects;

/**
 * The x87/SSE state as {@code struct kvm_fpu} holds it (the FXSAVE image, 64-bit form).
 *
 * @param fpr        the eight x87 registers ST(0)..ST(7), 16 bytes each (10 used), 128 bytes
 * @param fcw        control word
 * @param fsw        status word
 * @param ftwx       abridged tag word (one bit per physical register, 1 = not empty)
 * @param lastOpcode last x87 opcode
 * @param lastIp     last x87 instruction pointer (64-bit form)
 * @param lastDp     last x87 operand pointer (64-bit form)
 * @param xmm        XMM0..XMM15, 16 bytes each, 256 bytes
 * @param mxcsr      MXCSR
 */
public record Fpu(byte[] fpr, int fcw, int fsw, int ftwx, int lastOpcode, long lastIp, long lastDp, byte[] xmm,
                  int mxcsr) {

    /** Validates and copies. */
    public Fpu {
        Objects.requireNonNull(fpr, "fpr");
        Objects.requireNonNull(xmm, "xmm");
        if (fpr.length != 128 || xmm.length != 256) {
            throw new IllegalArgumentException("fpr needs 128 bytes and xmm 256");
        }
        fpr = fpr.clone();
        xmm = xmm.clone();
    }

    /** @return a copy of the x87 registers */
    @Override
    public byte[] fpr() {
        return fpr.clone();
    }

    /** @return a copy of the XMM registers */
    @Override
    public byte[] xmm() {
        return xmm.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Fpu f && Arrays.equals(fpr, f.fpr) && fcw == f.fcw && fsw == f.fsw && ftwx == f.ftwx
                && lastOpcode == f.lastOpcode && lastIp == f.lastIp && lastDp == f.lastDp
                && Arrays.equals(xmm, f.xmm) && mxcsr == f.mxcsr;
    }

    @Override
    public int hashCode() {
        return Objects.hash(fcw, fsw, ftwx, mxcsr, Arrays.hashCode(fpr), Arrays.hashCode(xmm));
    }
}
