package org.polyvisor.dev.uart16550.internal;

import static org.polyvisor.dev.uart16550.internal.Registers.CLOCK_HZ;
import static org.polyvisor.dev.uart16550.internal.Registers.FCR_CLEAR_RX;
import static org.polyvisor.dev.uart16550.internal.Registers.FCR_CLEAR_TX;
import static org.polyvisor.dev.uart16550.internal.Registers.FCR_DMA_MODE;
import static org.polyvisor.dev.uart16550.internal.Registers.FCR_ENABLE;
import static org.polyvisor.dev.uart16550.internal.Registers.FCR_TRIGGER_MASK;
import static org.polyvisor.dev.uart16550.internal.Registers.FIFO_SIZE;
import static org.polyvisor.dev.uart16550.internal.Registers.IER;
import static org.polyvisor.dev.uart16550.internal.Registers.IER_EDSSI;
import static org.polyvisor.dev.uart16550.internal.Registers.IER_ELSI;
import static org.polyvisor.dev.uart16550.internal.Registers.IER_ERBFI;
import static org.polyvisor.dev.uart16550.internal.Registers.IER_ETBEI;
import static org.polyvisor.dev.uart16550.internal.Registers.IER_MASK;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_CTI;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_FCR;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_FIFOS_ENABLED;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_MSI;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_NO_INT;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_RDA;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_RLS;
import static org.polyvisor.dev.uart16550.internal.Registers.IIR_THRE;
import static org.polyvisor.dev.uart16550.internal.Registers.LCR;
import static org.polyvisor.dev.uart16550.internal.Registers.LCR_DLAB;
import static org.polyvisor.dev.uart16550.internal.Registers.LCR_PARITY;
import static org.polyvisor.dev.uart16550.internal.Registers.LCR_STOP_BITS;
import static org.polyvisor.dev.uart16550.internal.Registers.LCR_WORD_LENGTH;
import static org.polyvisor.dev.uart16550.internal.Registers.LSR;
import static org.polyvisor.dev.uart16550.internal.Registers.LSR_DR;
import static org.polyvisor.dev.uart16550.internal.Registers.LSR_OE;
import static org.polyvisor.dev.uart16550.internal.Registers.LSR_TEMT;
import static org.polyvisor.dev.uart16550.internal.Registers.LSR_THRE;
import static org.polyvisor.dev.uart16550.internal.Registers.MCR;
import static org.polyvisor.dev.uart16550.internal.Registers.MCR_DTR;
import static org.polyvisor.dev.uart16550.internal.Registers.MCR_LOOP;
import static org.polyvisor.dev.uart16550.internal.Registers.MCR_MASK;
import static org.polyvisor.dev.uart16550.internal.Registers.MCR_OUT1;
import static org.polyvisor.dev.uart16550.internal.Registers.MCR_OUT2;
import static org.polyvisor.dev.uart16550.internal.Registers.MCR_RTS;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_CONNECTED;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_CTS;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_DCD;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_DCTS;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_DDCD;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_DDSR;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_DELTAS;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_DSR;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_RI;
import static org.polyvisor.dev.uart16550.internal.Registers.MSR_TERI;
import static org.polyvisor.dev.uart16550.internal.Registers.RBR_THR;
import static org.polyvisor.dev.uart16550.internal.Registers.SCR;

import java.util.function.IntConsumer;
import java.util.function.IntSupplier;
import org.polyvisor.irq.IrqLine;

/**
 * The 16550A as a pure register state machine: offsets in, values out, with an interrupt line,
 * an output sink, an input source and a character-timeout timer as its only connections.
 * Not thread-safe: {@link Uart16550Device} serialises every call.
 *
 * <p>Model choices:
 * <ul>
 * <li>The transmitter is infinitely fast: a byte written to THR leaves at once, so LSR.THRE and
 *     LSR.TEMT read as set and the THR-empty interrupt re-latches right after each write (as in
 *     QEMU and rust-vmm's vm-superio).</li>
 * <li>The receiver never loses host input: bytes stay in the input source until the receiver has
 *     room (16 bytes with FIFOs, 1 without). Overruns happen only in loopback, where the guest
 *     itself overfills the receiver.</li>
 * <li>Character timeout (PC16550D 8.6.1): with FIFOs on, when the receiver FIFO holds bytes and
 *     nothing was received or read for four character times (from LCR and the divisor), IIR
 *     reports 0x0C. The timer is the VM clock's, so deterministic mode stays deterministic.</li>
 * <li>The IRQ output is a level: high while an enabled interrupt is pending and MCR.OUT2 is set
 *     (on a PC, OUT2 gates the INTR pin onto the ISA IRQ line; the interrupt controller decides
 *     edge or level). The gate follows the OUT2 register bit in loopback too, as QEMU's
 *     register-level model does.</li>
 * </ul>
 *
 * <p>Threat model: every register accepts every byte value; no guest access throws, blocks or
 * allocates (the FIFO is a fixed 16-byte ring), so a guest can neither crash the VMM nor grow
 * its memory through this device.
 */
final class Uart16550 {

    /** The character-timeout timer, restarted and cancelled by the receiver. */
    interface Timeout {
        /**
         * (Re)starts the timer; when it expires the owner calls {@link Uart16550#timeoutExpired()}.
         *
         * @param nanos delay in virtual nanoseconds
         */
        void restart(long nanos);

        /** Cancels the timer if running. */
        void cancel();
    }

    private final IrqLine irq;
    private final IntConsumer output;
    private final IntSupplier input;
    private final Timeout timeout;

    private int divisor;
    private int ier;
    private int lcr;
    private int mcr;
    private int fcr;
    private int lsrErrors;
    private int msr;
    private int scr;
    private int rbr;
    private final byte[] rx = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private boolean thrInterrupt;
    private boolean timeoutInterrupt;
    /** The level last driven on the IRQ line. */
    private boolean irqLevel;

    private long txBytes;
    private long txDiscarded;
    private long rxBytes;
    private long interrupts;
    private long overruns;

    /**
     * Creates a UART in its power-on state; the IRQ line is driven low.
     *
     * @param irq     the interrupt line
     * @param output  where transmitted bytes go, or null to discard them (they are counted)
     * @param input   host input, returning -1 when nothing is waiting; never blocks
     * @param timeout the character-timeout timer
     */
    Uart16550(IrqLine irq, IntConsumer output, IntSupplier input, Timeout timeout) {
        this.irq = irq;
        this.output = output;
        this.input = input;
        this.timeout = timeout;
        restore(UartState.powerOn());
    }

    // ---- guest access -------------------------------------------------------------------

    /**
     * Reads a register.
     *
     * @param offset offset in the 8-port window; anything else reads 0xFF
     * @return the byte read
     */
    int read(int offset) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (offset) {
            case RBR_THR:
                return dlab ? divisor & 0xFF : readRbr();
            case IER:
                return dlab ? divisor >>> 8 : ier;
            case IIR_FCR:
                return readIir();
            case LCR:
                return lcr;
            case MCR:
                return mcr;
            case LSR:
                return readLsr();
            case MSR:
                return readMsr();
            case SCR:
                return scr;
            default:
                return 0xFF;
        }
    }

    /**
     * Writes a register.
     *
     * @param offset offset in the 8-port window; anything else is ignored
     * @param value  the byte written (higher bits ignored)
     */
    void write(int offset, int value) {
        int v = value & 0xFF;
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (offset) {
            case RBR_THR:
                if (dlab) {
                    divisor = (divisor & 0xFF00) | v;
                } else {
                    transmit(v);
                }
                break;
            case IER:
                if (dlab) {
                    divisor = (divisor & 0x00FF) | (v << 8);
                } else {
                    writeIer(v);
                }
                break;
            case IIR_FCR:
                writeFcr(v);
                break;
            case LCR:
                // Word length, parity, stop bits only change the character time; BREAK has no
                // meaning for a byte-stream backend.
                lcr = v;
                break;
            case MCR:
                writeMcr(v);
                break;
            case LSR:
            case MSR:
                // Factory-test writes on the real chip; ignored, as QEMU does.
                break;
            case SCR:
                scr = v;
                break;
            default:
                break;
        }
    }

    private int readRbr() {
        fillFromInput();
        if (rxCount > 0) {
            rbr = rx[rxHead] & 0xFF;
            rxHead = (rxHead + 1) % FIFO_SIZE;
            rxCount--;
            // PC16550D 8.6.1: reading a byte clears the timeout interrupt and restarts the timer.
            timeoutInterrupt = false;
            fillFromInput();
            restartTimeout();
        }
        updateIrq();
        return rbr;
    }

    private int readIir() {
        int id = interruptId();
        if (id == IIR_THRE) {
            // PC16550D table II: reading IIR when THRE is the source clears it. Linux's 8250
            // driver relies on this in its UART_BUG_THRE probe (serial8250_do_startup).
            thrInterrupt = false;
            updateIrq();
        }
        return id | (fifosEnabled() ? IIR_FIFOS_ENABLED : 0);
    }

    private int readLsr() {
        fillFromInput();
        int value = lsrErrors | LSR_THRE | LSR_TEMT | (rxCount > 0 ? LSR_DR : 0);
        lsrErrors = 0;
        updateIrq();
        return value;
    }

    private int readMsr() {
        int value = msr;
        msr &= ~MSR_DELTAS;
        updateIrq();
        return value;
    }

    private void transmit(int v) {
        thrInterrupt = false;
        if (loopback()) {
            receive(v);
        } else {
            txBytes++;
            if (output != null) {
                output.accept(v);
            } else {
                txDiscarded++;
            }
        }
        // The byte has left: THR is empty again and the THRE interrupt latches anew.
        thrInterrupt = true;
        updateIrq();
    }

    private void writeIer(int v) {
        int changed = (ier ^ v) & IER_MASK;
        ier = v & IER_MASK;
        if ((changed & IER_ETBEI) != 0) {
            // Enabling ETBEI while THR is empty raises THRE even if an IIR read had cleared it;
            // not in the datasheet, but real 16550s do it, Windows and Linux's THRE probe rely on
            // it (QEMU hw/char/serial.c, serial_ioport_write, UART_IER; Bochs does the same).
            thrInterrupt = (ier & IER_ETBEI) != 0;
        }
        updateIrq();
    }

    private void writeFcr(int v) {
        if (((v ^ fcr) & FCR_ENABLE) != 0) {
            // PC16550D FCR bit 0: changing it clears both FIFOs.
            v |= FCR_CLEAR_RX | FCR_CLEAR_TX;
        }
        if ((v & FCR_CLEAR_RX) != 0) {
            rxHead = 0;
            rxCount = 0;
            timeoutInterrupt = false;
            timeout.cancel();
        }
        if ((v & FCR_CLEAR_TX) != 0) {
            // The transmit FIFO is empty already; clearing it still makes THR "newly empty".
            thrInterrupt = true;
        }
        // PC16550D FCR: the other bits are only programmed together with bit 0 set.
        fcr = (v & FCR_ENABLE) != 0 ? v & (FCR_ENABLE | FCR_DMA_MODE | FCR_TRIGGER_MASK) : 0;
        fillFromInput();
        updateIrq();
    }

    private void writeMcr(int v) {
        boolean wasLoopback = loopback();
        mcr = v & MCR_MASK;
        updateModemInputs();
        if (wasLoopback && !loopback()) {
            fillFromInput();
        }
        updateIrq();
    }

    // ---- receiver -----------------------------------------------------------------------

    /**
     * Takes host input into the receiver while it has room; called when the backend says input
     * is waiting, and on every LSR/RBR read. Outside loopback only: in loopback the serial input
     * is disconnected from the receiver (PC16550D MCR bit 4).
     */
    void inputAvailable() {
        fillFromInput();
        updateIrq();
    }

    private void fillFromInput() {
        if (loopback()) {
            return;
        }
        while (rxCount < rxCapacity()) {
            int b = input.getAsInt();
            if (b < 0) {
                return;
            }
            receive(b & 0xFF);
        }
    }

    private void receive(int b) {
        if (rxCount < rxCapacity()) {
            rx[(rxHead + rxCount) % FIFO_SIZE] = (byte) b;
            rxCount++;
            rxBytes++;
            restartTimeout();
            return;
        }
        // PC16550D LSR bit 1: without FIFOs the new byte overwrites RBR; with FIFOs the byte in
        // the shift register is lost and the FIFO is kept.
        lsrErrors |= LSR_OE;
        overruns++;
        if (!fifosEnabled()) {
            rx[rxHead] = (byte) b;
            rxBytes++;
        }
    }

    /** Called by the owner when the character-timeout timer expires. */
    void timeoutExpired() {
        if (fifosEnabled() && rxCount > 0) {
            timeoutInterrupt = true;
            updateIrq();
        }
    }

    private void restartTimeout() {
        if (fifosEnabled() && rxCount > 0) {
            timeout.restart(4 * characterNanos());
        } else {
            timeout.cancel();
        }
    }

    /** One character time on the wire: start + data + parity + stop bits at the divisor's rate. */
    long characterNanos() {
        int bits = 1 + 5 + (lcr & LCR_WORD_LENGTH) + ((lcr & LCR_PARITY) != 0 ? 1 : 0)
                + ((lcr & LCR_STOP_BITS) != 0 ? 2 : 1);
        long div = divisor == 0 ? 0x1_0000 : divisor; // a zero divisor behaves as 65536 on the chip
        return bits * div * 16 * 1_000_000_000L / CLOCK_HZ;
    }

    private int rxCapacity() {
        return fifosEnabled() ? FIFO_SIZE : 1;
    }

    private int triggerLevel() {
        switch (fcr & FCR_TRIGGER_MASK) {
            case 0x00:
                return 1;
            case 0x40:
                return 4;
            case 0x80:
                return 8;
            default:
                return 14;
        }
    }

    // ---- modem lines and interrupts ------------------------------------------------------

    private void updateModemInputs() {
        int inputs;
        if (loopback()) {
            // PC16550D MCR bit 4: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
            inputs = ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0) | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                    | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0) | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
        } else {
            inputs = MSR_CONNECTED;
        }
        int changed = (msr ^ inputs) & 0xF0;
        int deltas = 0;
        if ((changed & MSR_CTS) != 0) {
            deltas |= MSR_DCTS;
        }
        if ((changed & MSR_DSR) != 0) {
            deltas |= MSR_DDSR;
        }
        if ((changed & MSR_RI) != 0 && (inputs & MSR_RI) == 0) {
            deltas |= MSR_TERI; // trailing edge only
        }
        if ((changed & MSR_DCD) != 0) {
            deltas |= MSR_DDCD;
        }
        msr = inputs | (msr & MSR_DELTAS) | deltas;
    }

    /** Returns the IIR identification bits (0-3) of the highest-priority pending interrupt. */
    private int interruptId() {
        if ((ier & IER_ELSI) != 0 && lsrErrors != 0) {
            return IIR_RLS;
        }
        if ((ier & IER_ERBFI) != 0) {
            if (rxCount >= (fifosEnabled() ? triggerLevel() : 1)) {
                return IIR_RDA;
            }
            if (timeoutInterrupt) {
                return IIR_CTI;
            }
        }
        if ((ier & IER_ETBEI) != 0 && thrInterrupt) {
            return IIR_THRE;
        }
        if ((ier & IER_EDSSI) != 0 && (msr & MSR_DELTAS) != 0) {
            return IIR_MSI;
        }
        return IIR_NO_INT;
    }

    private void updateIrq() {
        boolean level = interruptId() != IIR_NO_INT && (mcr & MCR_OUT2) != 0;
        if (level != irqLevel) {
            irqLevel = level;
            if (level) {
                interrupts++;
            }
            irq.set(level);
        }
    }

    private boolean fifosEnabled() {
        return (fcr & FCR_ENABLE) != 0;
    }

    private boolean loopback() {
        return (mcr & MCR_LOOP) != 0;
    }

    // ---- state ---------------------------------------------------------------------------

    /**
     * Returns the hardware state.
     *
     * @return a snapshot value
     */
    UartState state() {
        byte[] fifo = new byte[rxCount];
        for (int i = 0; i < rxCount; i++) {
            fifo[i] = rx[(rxHead + i) % FIFO_SIZE];
        }
        return new UartState(divisor, ier, lcr, mcr, fcr, lsrErrors, msr, scr, rbr, fifo, thrInterrupt,
                timeoutInterrupt);
    }

    /**
     * Takes over a hardware state (or, with {@link UartState#powerOn()}, resets) and drives the IRQ
     * line to the level that state implies, whatever was driven before.
     *
     * @param s the state
     */
    void restore(UartState s) {
        divisor = s.divisor();
        ier = s.ier();
        lcr = s.lcr();
        mcr = s.mcr();
        fcr = s.fcr();
        lsrErrors = s.lsrErrors();
        msr = s.msr();
        scr = s.scr();
        rbr = s.rbr();
        byte[] fifo = s.rx();
        int keep = Math.min(fifo.length, (fcr & FCR_ENABLE) != 0 ? FIFO_SIZE : 1);
        System.arraycopy(fifo, 0, rx, 0, keep);
        rxHead = 0;
        rxCount = keep;
        thrInterrupt = s.thrInterrupt();
        timeoutInterrupt = s.timeoutInterrupt();
        restartTimeout();
        irqLevel = interruptId() != IIR_NO_INT && (mcr & MCR_OUT2) != 0;
        irq.set(irqLevel);
    }

    /** Bytes transmitted outside loopback. */
    long txBytes() {
        return txBytes;
    }

    /** Bytes transmitted with no output attached. */
    long txDiscarded() {
        return txDiscarded;
    }

    /** Bytes taken into the receiver (host input and loopback). */
    long rxBytes() {
        return rxBytes;
    }

    /** Rising edges driven on the IRQ line. */
    long interrupts() {
        return interrupts;
    }

    /** Receiver overruns. */
    long overruns() {
        return overruns;
    }
}
