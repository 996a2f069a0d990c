package org.polyvisor.dev.uart16550.internal;

import static org.polyvisor.dev.uart16550.internal.Registers.DEFAULT_DIVISOR;
import static org.polyvisor.dev.uart16550.internal.Registers.FIFO_SIZE;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_CONNECTED;

import org.polyvisor.part.SavedState;

/**
 * The hardware state of a 16550A as a plain value: what a snapshot, a swap or a newer bundle
 * needs to continue exactly where the old device stopped. Convertible to and from the neutral
 * {@link SavedState} (type {@value #TYPE}, version {@value #VERSION}).
 *
 * <p>There is no transmitter FIFO here on purpose: the model's transmitter is infinitely fast, so
 * THR and the transmit FIFO are empty whenever the guest can look.
 *
 * @param divisor          divisor latch, DLM:DLL
 * @param ier              interrupt enable register
 * @param lcr              line control register
 * @param mcr              modem control register
 * @param fcr              FIFO control bits that persist (enable, DMA mode, trigger level)
 * @param lsrErrors        latched line status error bits (OE, PE, FE, BI)
 * @param msr              modem status register, inputs and deltas
 * @param scr              scratch register
 * @param rbr              last byte received (what an empty RBR reads as)
 * @param rx               receiver FIFO contents, oldest first (at most 16 bytes; 1 without FIFOs)
 * @param thrInterrupt     THR-empty interrupt latched and not yet cleared by an IIR read or THR write
 * @param timeoutInterrupt character timeout latched and not yet cleared by an RBR read
 */
record UartState(int divisor, int ier, int lcr, int mcr, int fcr, int lsrErrors, int msr, int scr,
                 int rbr, byte[] rx, boolean thrInterrupt, boolean timeoutInterrupt) {

    /** Saved-state type name; any implementation of a 16550A may restore it. */
    static final String TYPE = "uart16550";

    /** Current saved-state format version. */
    static final int VERSION = 1;

    /** Copies the FIFO contents. */
    UartState {
        rx = rx.clone();
    }

    /** Returns a copy of the receiver FIFO contents. */
    @Override
    public byte[] rx() {
        return rx.clone();
    }

    /**
     * Returns the state after power-on or master reset (PC16550D table IV, "UART reset
     * configuration"): all registers zero except LSR (THRE, TEMT) and IIR (no interrupt); the
     * divisor and scratch register are not reset by the chip, here 12 and 0.
     *
     * @return the power-on state
     */
    static UartState powerOn() {
        return new UartState(DEFAULT_DIVISOR, 0, 0, 0, 0, 0, MSR_CONNECTED, 0, 0, new byte[0], false, false);
    }

    /**
     * Converts to the neutral saved form.
     *
     * @return the saved state
     */
    SavedState toSaved() {
        return SavedState.builder(TYPE, VERSION)
                .put("divisor", divisor)
                .put("ier", ier)
                .put("lcr", lcr)
                .put("mcr", mcr)
                .put("fcr", fcr)
                .put("lsr-errors", lsrErrors)
                .put("msr", msr)
                .put("scr", scr)
                .put("rbr", rbr)
                .put("rx-fifo", rx)
                .put("thr-interrupt", thrInterrupt)
                .put("timeout-interrupt", timeoutInterrupt)
                .build();
    }

    /**
     * Reads a saved state, checking type, version and ranges so a bad value fails here and not
     * later inside a guest access.
     *
     * @param s the saved state
     * @return the value
     * @throws IllegalArgumentException naming the problem
     */
    static UartState fromSaved(SavedState s) {
        s.require(TYPE, 1, VERSION);
        byte[] rx = s.getBytes("rx-fifo");
        if (rx.length > FIFO_SIZE) {
            throw new IllegalArgumentException("uart16550 state: receiver FIFO holds " + rx.length
                    + " bytes; a 16550A holds at most " + FIFO_SIZE);
        }
        return new UartState(s.getInt("divisor") & 0xFFFF, s.getInt("ier") & Registers.IER_MASK,
                s.getInt("lcr") & 0xFF, s.getInt("mcr") & Registers.MCR_MASK, s.getInt("fcr") & 0xFF,
                s.getInt("lsr-errors") & Registers.LSR_ERRORS, s.getInt("msr") & 0xFF, s.getInt("scr") & 0xFF,
                s.getInt("rbr") & 0xFF, rx, s.getBoolean("thr-interrupt"), s.getBoolean("timeout-interrupt"));
    }
}
