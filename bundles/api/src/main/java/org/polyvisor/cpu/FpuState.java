package org.polyvisor.cpu;

import java.util.Arrays;
import java.util.Objects;

/**
 * x87, MMX and SSE state, laid out as FXSAVE stores it (SDM Vol. 1, 10.5.1).
 *
 * @param fcw   x87 control word
 * @param fsw   x87 status word (TOP in bits 13:11)
 * @param ftw   x87 tag word, full 16-bit form (2 bits per physical register, 11 = empty)
 * @param fop   last x87 opcode (11 bits)
 * @param fip   last x87 instruction pointer (offset)
 * @param fcs   last x87 instruction's code selector
 * @param fdp   last x87 operand pointer (offset)
 * @param fds   last x87 operand's data selector
 * @param st    the eight 80-bit registers in ST(0)..ST(7) order, 10 bytes each (80 bytes)
 * @param xmm   XMM0..XMM15 as 32 longs, low quadword first
 * @param mxcsr SSE control and status
 */
public record FpuState(int fcw, int fsw, int ftw, int fop, long fip, int fcs, long fdp, int fds,
                       byte[] st, long[] xmm, int mxcsr) {

    /** Bytes of one x87 register. */
    public static final int ST_BYTES = 10;

    /** Validates and copies the arrays. */
    public FpuState {
        Objects.requireNonNull(st, "st");
        Objects.requireNonNull(xmm, "xmm");
        if (st.length != 8 * ST_BYTES || xmm.length != 32) {
            throw new IllegalArgumentException("st needs 80 bytes and xmm 32 longs");
        }
        st = st.clone();
        xmm = xmm.clone();
    }

    /**
     * Returns the state after FNINIT and with MXCSR at its reset value.
     *
     * @return the initial state
     */
    public static FpuState initial() {
        return new FpuState(0x037F, 0, 0xFFFF, 0, 0, 0, 0, 0, new byte[80], new long[32], 0x1F80);
    }

    /** @return a copy of the x87 registers */
    @Override
    public byte[] st() {
        return st.clone();
    }

    /** @return a copy of the XMM registers */
    @Override
    public long[] xmm() {
        return xmm.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FpuState f && fcw == f.fcw && fsw == f.fsw && ftw == f.ftw && fop == f.fop
                && fip == f.fip && fcs == f.fcs && fdp == f.fdp && fds == f.fds && mxcsr == f.mxcsr
                && Arrays.equals(st, f.st) && Arrays.equals(xmm, f.xmm);
    }

    @Override
    public int hashCode() {
        return Objects.hash(fcw, fsw, ftw, fip, fdp, mxcsr, Arrays.hashCode(st), Arrays.hashCode(xmm));
    }

    @Override
    public String toString() {
        return String.format("fcw=%04x fsw=%04x ftw=%04x mxcsr=%08x", fcw, fsw, ftw, mxcsr);
    }
}
