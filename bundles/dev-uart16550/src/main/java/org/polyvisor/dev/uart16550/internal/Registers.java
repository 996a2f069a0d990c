package org.polyvisor.dev.uart16550.internal;

/**
 * Register offsets and bits of the 16550A, named as in the National Semiconductor PC16550D
 * datasheet (section 8, "Registers") and Linux's include/uapi/linux/serial_reg.h.
 */
final class Registers {

    private Registers() {
    }

    // Offsets into the 8-port window.
    /** Receiver buffer (read) / transmitter holding (write); divisor latch LSB when LCR.DLAB. */
    static final int RBR_THR = 0;
    /** Interrupt enable; divisor latch MSB when LCR.DLAB. */
    static final int IER = 1;
    /** Interrupt identification (read) / FIFO control (write). */
    static final int IIR_FCR = 2;
    /** Line control. */
    static final int LCR = 3;
    /** Modem control. */
    static final int MCR = 4;
    /** Line status. */
    static final int LSR = 5;
    /** Modem status. */
    static final int MSR = 6;
    /** Scratch. */
    static final int SCR = 7;
    /** Number of ports the UART decodes. */
    static final int WINDOW = 8;

    // IER: interrupt enable.
    /** Enable received data available (and, with FIFOs, character timeout) interrupt. */
    static final int IER_ERBFI = 0x01;
    /** Enable transmitter holding register empty interrupt. */
    static final int IER_ETBEI = 0x02;
    /** Enable receiver line status interrupt. */
    static final int IER_ELSI = 0x04;
    /** Enable modem status interrupt. */
    static final int IER_EDSSI = 0x08;
    /** Bits 4-7 are always zero on a 16550A. */
    static final int IER_MASK = 0x0F;

    // IIR: interrupt identification.
    /** Bit 0 set: no interrupt pending. */
    static final int IIR_NO_INT = 0x01;
    /** Priority 1: overrun, parity, framing error or break (cleared by reading LSR). */
    static final int IIR_RLS = 0x06;
    /** Priority 2: received data at or above the trigger level (cleared below it). */
    static final int IIR_RDA = 0x04;
    /** Priority 2: character timeout with the FIFOs on (cleared by reading RBR). */
    static final int IIR_CTI = 0x0C;
    /** Priority 3: THR empty (cleared by reading IIR when it is the source, or writing THR). */
    static final int IIR_THRE = 0x02;
    /** Priority 4: modem status change (cleared by reading MSR). */
    static final int IIR_MSI = 0x00;
    /** Bits 6-7: both set when the FIFOs are enabled. */
    static final int IIR_FIFOS_ENABLED = 0xC0;

    // FCR: FIFO control (write only).
    /** Enable both FIFOs; changing it clears them (PC16550D 8.4, FCR bit 0). */
    static final int FCR_ENABLE = 0x01;
    /** Clear the receiver FIFO; self-clearing. */
    static final int FCR_CLEAR_RX = 0x02;
    /** Clear the transmitter FIFO; self-clearing. */
    static final int FCR_CLEAR_TX = 0x04;
    /** DMA mode select (RXRDY/TXRDY pin behaviour only; no DMA on the PC's COM ports). */
    static final int FCR_DMA_MODE = 0x08;
    /** Bits 6-7: receiver trigger level 1, 4, 8 or 14 bytes. */
    static final int FCR_TRIGGER_MASK = 0xC0;

    // LCR: line control.
    /** Bits 0-1: word length 5 + n bits. */
    static final int LCR_WORD_LENGTH = 0x03;
    /** Two stop bits (1.5 with 5-bit words). */
    static final int LCR_STOP_BITS = 0x04;
    /** Parity enable. */
    static final int LCR_PARITY = 0x08;
    /** Even parity select. */
    static final int LCR_EVEN_PARITY = 0x10;
    /** Stick parity. */
    static final int LCR_STICK_PARITY = 0x20;
    /** Set break: holds the serial output low (nothing to send to a console backend). */
    static final int LCR_BREAK = 0x40;
    /** Divisor latch access: offsets 0 and 1 become DLL and DLM. */
    static final int LCR_DLAB = 0x80;

    // MCR: modem control.
    /** Data terminal ready. */
    static final int MCR_DTR = 0x01;
    /** Request to send. */
    static final int MCR_RTS = 0x02;
    /** User output 1 (drives RI in loopback). */
    static final int MCR_OUT1 = 0x04;
    /** User output 2: on a PC it enables the tristate buffer between INTR and the IRQ line. */
    static final int MCR_OUT2 = 0x08;
    /** Local loopback: transmitter output goes to the receiver, MCR outputs to MSR inputs. */
    static final int MCR_LOOP = 0x10;
    /** Bits 5-7 are always zero on a 16550A (autoflow is a 16750 feature). */
    static final int MCR_MASK = 0x1F;

    // LSR: line status.
    /** Data ready: at least one byte in RBR or the receiver FIFO. */
    static final int LSR_DR = 0x01;
    /** Overrun error: a byte arrived with no room for it (cleared by reading LSR). */
    static final int LSR_OE = 0x02;
    /** Parity error (never produced: the backend carries bytes, not bits). */
    static final int LSR_PE = 0x04;
    /** Framing error (never produced, as PE). */
    static final int LSR_FE = 0x08;
    /** Break interrupt (never produced: a console backend has no break). */
    static final int LSR_BI = 0x10;
    /** Transmitter holding register (or FIFO) empty. */
    static final int LSR_THRE = 0x20;
    /** Transmitter empty: THR and shift register both empty. */
    static final int LSR_TEMT = 0x40;
    /** At least one error byte in the receiver FIFO (never set: no PE/FE/BI bytes). */
    static final int LSR_RX_FIFO_ERROR = 0x80;
    /** The error bits that reading LSR clears and that raise the line status interrupt. */
    static final int LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

    // MSR: modem status.
    /** Delta clear to send. */
    static final int MSR_DCTS = 0x01;
    /** Delta data set ready. */
    static final int MSR_DDSR = 0x02;
    /** Trailing edge ring indicator: RI went from on to off. */
    static final int MSR_TERI = 0x04;
    /** Delta data carrier detect. */
    static final int MSR_DDCD = 0x08;
    /** The four delta bits, cleared by reading MSR; any set raises the modem status interrupt. */
    static final int MSR_DELTAS = 0x0F;
    /** Clear to send (RTS in loopback). */
    static final int MSR_CTS = 0x10;
    /** Data set ready (DTR in loopback). */
    static final int MSR_DSR = 0x20;
    /** Ring indicator (OUT1 in loopback). */
    static final int MSR_RI = 0x40;
    /** Data carrier detect (OUT2 in loopback). */
    static final int MSR_DCD = 0x80;

    /**
     * Modem inputs outside loopback: a console is a connected, ready, carrier-holding peer that
     * never rings. QEMU's serial_reset uses the same value (DCD | DSR | CTS).
     */
    static final int MSR_CONNECTED = MSR_DCD | MSR_DSR | MSR_CTS;

    /** Size of each FIFO on a 16550A. */
    static final int FIFO_SIZE = 16;

    /** Input clock of a PC's UART: 1.8432 MHz, divided by 16 x divisor for the bit rate. */
    static final long CLOCK_HZ = 1_843_200;

    /** Divisor after reset: the chip leaves it undefined; 12 (9600 bit/s) as QEMU and vm-superio. */
    static final int DEFAULT_DIVISOR = 12;
}
