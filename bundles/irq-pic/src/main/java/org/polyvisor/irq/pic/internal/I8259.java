package org.polyvisor.irq.pic.internal;

/**
 * One Intel 8259A programmable interrupt controller as a register state machine: eight inputs,
 * the command port (offset 0, A0=0) and the data port (offset 1, A0=1). Section and table names
 * refer to the Intel 8259A datasheet (order number 231468). Not thread-safe: {@link I8259Pair}
 * serialises every call.
 *
 * <p>Only the 8086/88 mode is modelled (ICW4 uPM): in MCS-80/85 mode the INTA cycle would be a
 * CALL sequence, which no x86 guest uses. Buffered mode and master/slave pin programming (ICW4
 * BUF, M/S) have no effect in a VM and are only kept.
 */
final class I8259 {

    // ICW1 (command port, D4=1).
    /** ICW1 bit 0: an ICW4 follows. */
    static final int ICW1_IC4 = 0x01;
    /** ICW1 bit 1: single 8259A, no ICW3. */
    static final int ICW1_SNGL = 0x02;
    /** ICW1 bit 2: call address interval 4 (MCS-80 only). */
    static final int ICW1_ADI = 0x04;
    /** ICW1 bit 3: level triggered mode for all inputs. */
    static final int ICW1_LTIM = 0x08;
    /** D4 set on the command port: the byte is ICW1 and starts initialisation. */
    static final int ICW1_INIT = 0x10;

    // ICW4 (data port, last in the sequence).
    /** ICW4 bit 0: 8086/88 mode (else MCS-80/85). */
    static final int ICW4_UPM = 0x01;
    /** ICW4 bit 1: automatic end of interrupt. */
    static final int ICW4_AEOI = 0x02;
    /** ICW4 bit 2: buffered-mode master/slave select. */
    static final int ICW4_MS = 0x04;
    /** ICW4 bit 3: buffered mode. */
    static final int ICW4_BUF = 0x08;
    /** ICW4 bit 4: special fully nested mode. */
    static final int ICW4_SFNM = 0x10;

    // OCW2 and OCW3 (command port, D4=0; D3 selects OCW3).
    /** D3 set on the command port (D4 clear): the byte is OCW3, else OCW2. */
    static final int OCW3_SELECT = 0x08;
    /** OCW3 bit 0 (RIS): read ISR instead of IRR; only with RR. */
    static final int OCW3_RIS = 0x01;
    /** OCW3 bit 1 (RR): the RIS bit is valid. */
    static final int OCW3_RR = 0x02;
    /** OCW3 bit 2 (P): poll command. */
    static final int OCW3_POLL = 0x04;
    /** OCW3 bit 5 (SMM): set special mask mode; only with ESMM. */
    static final int OCW3_SMM = 0x20;
    /** OCW3 bit 6 (ESMM): the SMM bit is valid. */
    static final int OCW3_ESMM = 0x40;

    /** OCW2 R, SL, EOI = 000: rotate in automatic EOI mode (clear). */
    static final int OCW2_CLEAR_ROTATE_AEOI = 0;
    /** OCW2 001: non-specific EOI. */
    static final int OCW2_EOI = 1;
    /** OCW2 010: no operation. */
    static final int OCW2_NOP = 2;
    /** OCW2 011: specific EOI for level L2-L0. */
    static final int OCW2_SPECIFIC_EOI = 3;
    /** OCW2 100: rotate in automatic EOI mode (set). */
    static final int OCW2_SET_ROTATE_AEOI = 4;
    /** OCW2 101: rotate on non-specific EOI. */
    static final int OCW2_ROTATE_EOI = 5;
    /** OCW2 110: set priority: level L2-L0 becomes the lowest. */
    static final int OCW2_SET_PRIORITY = 6;
    /** OCW2 111: rotate on specific EOI. */
    static final int OCW2_ROTATE_SPECIFIC_EOI = 7;

    /** Poll word bit 7: an interrupt was pending; bits 2-0 give its level. */
    static final int POLL_INTERRUPT = 0x80;

    /** The IR input of the master wired to the slave's INT output on a PC/AT. */
    static final int CASCADE_IR = 2;

    private final boolean master;
    /** ELCR bits that can be set: IRQ0-2, IRQ8 and IRQ13 are edge only (Intel PIIX3 ELCR1/ELCR2; QEMU elcr_mask). */
    private final int elcrMask;

    private int irr;
    private int isr;
    private int imr;
    private int lines;
    private int elcr;
    private int icw1;
    private int vectorBase;
    private int icw3;
    private int icw4;
    private int initStep;
    private int priorityAdd;
    private boolean readIsr;
    private boolean poll;
    private boolean specialMask;
    private boolean rotateOnAutoEoi;

    I8259(boolean master) {
        this.master = master;
        this.elcrMask = master ? 0xF8 : 0xDE;
        restore(I8259State.powerOn(master, 0));
    }

    // ---- inputs -------------------------------------------------------------------------

    /**
     * Drives an input pin. Edge mode latches a rising edge in IRR; level mode makes IRR follow
     * the pin (datasheet "Edge and level triggered modes").
     */
    void setInput(int ir, boolean high) {
        int bit = 1 << ir;
        boolean wasHigh = (lines & bit) != 0;
        if (high) {
            lines |= bit;
            if ((levelTriggered() & bit) != 0 || !wasHigh) {
                irr |= bit;
            }
        } else {
            lines &= ~bit;
            if ((levelTriggered() & bit) != 0) {
                irr &= ~bit;
            }
        }
    }

    /** Inputs in level mode: all with ICW1.LTIM, else those selected by the ELCR. */
    private int levelTriggered() {
        return (icw1 & ICW1_LTIM) != 0 ? 0xFF : elcr;
    }

    /** Level-mode IRR bits follow their pins; called when the trigger mode changes. */
    private void syncLevelRequests() {
        int level = levelTriggered();
        irr = (irr & ~level) | (lines & level);
    }

    // ---- priority resolver --------------------------------------------------------------

    /** Priority (0 highest) of an IR number under the current rotation. */
    private int priorityOf(int ir) {
        return (ir - priorityAdd) & 7;
    }

    /** Returns the highest-priority IR set in a mask, or -1. */
    private int highest(int mask) {
        for (int p = 0; p < 8; p++) {
            int ir = (p + priorityAdd) & 7;
            if ((mask & (1 << ir)) != 0) {
                return ir;
            }
        }
        return -1;
    }

    /**
     * Returns the request the chip would present on INT now, or -1: the highest-priority unmasked
     * request that is above every level in service. In special mask mode, levels in service no
     * longer block others; only a level's own ISR bit blocks it (datasheet OCW3 "Special mask
     * mode"; Bochs iodev/pic.cc does the same). In special fully nested mode, the master does not
     * let the cascade input's ISR bit block the cascade, so a higher slave request gets through
     * (datasheet "Special fully nested mode").
     */
    int pendingRequest() {
        int requests = irr & ~imr;
        if (specialMask) {
            return highest(requests & ~isr);
        }
        int ir = highest(requests);
        if (ir < 0) {
            return -1;
        }
        int inService = isr;
        if (master && (icw4 & ICW4_SFNM) != 0) {
            inService &= ~(1 << CASCADE_IR);
        }
        int current = highest(inService);
        if (current >= 0 && priorityOf(ir) >= priorityOf(current)) {
            return -1;
        }
        return ir;
    }

    /** The INT output. */
    boolean output() {
        return pendingRequest() >= 0;
    }

    /**
     * Performs this chip's part of an INTA cycle for a request found by {@link #pendingRequest()}:
     * sets the ISR bit (unless in automatic EOI, where the second INTA pulse ends it at once) and
     * resets an edge request; a level request stays while the pin is high, which re-asserts it
     * after the EOI.
     */
    void acknowledge(int ir) {
        int bit = 1 << ir;
        if ((levelTriggered() & bit) == 0 || (lines & bit) == 0) {
            irr &= ~bit;
        }
        if ((icw4 & ICW4_AEOI) != 0) {
            if (rotateOnAutoEoi) {
                priorityAdd = (ir + 1) & 7;
            }
        } else {
            isr |= bit;
        }
    }

    /** The vector this chip supplies for an IR level. */
    int vector(int ir) {
        return vectorBase | ir;
    }

    /** Tells whether the master treats IR2 as a cascade (ICW3 bit 2 set and not single mode). */
    boolean cascadesOn(int ir) {
        return (icw1 & ICW1_SNGL) == 0 && (icw3 & (1 << ir)) != 0;
    }

    // ---- registers ----------------------------------------------------------------------

    /**
     * Reads a port of the chip.
     *
     * @param offset 0 (command) or 1 (data)
     * @return IRR/ISR/poll word at 0, IMR (or the poll word) at 1
     */
    int read(int offset) {
        if (poll) {
            // Datasheet "The Poll Command": the next RD pulse, at either address, is an INTA.
            poll = false;
            int ir = pendingRequest();
            if (ir < 0) {
                return 0;
            }
            acknowledge(ir);
            return POLL_INTERRUPT | ir;
        }
        if (offset == 0) {
            return readIsr ? isr : irr;
        }
        return imr;
    }

    /**
     * Writes a port of the chip.
     *
     * @param offset 0 (command: ICW1, OCW2, OCW3) or 1 (data: ICW2-4 during initialisation, else OCW1)
     * @param value  the byte
     */
    void write(int offset, int value) {
        int v = value & 0xFF;
        if (offset == 0) {
            if ((v & ICW1_INIT) != 0) {
                writeIcw1(v);
            } else if ((v & OCW3_SELECT) != 0) {
                writeOcw3(v);
            } else {
                writeOcw2(v);
            }
            return;
        }
        switch (initStep) {
            case 2:
                vectorBase = v & 0xF8; // T7-T3; T2-T0 are the IR level in 8086 mode
                initStep = (icw1 & ICW1_SNGL) == 0 ? 3 : (icw1 & ICW1_IC4) != 0 ? 4 : 0;
                break;
            case 3:
                icw3 = v;
                initStep = (icw1 & ICW1_IC4) != 0 ? 4 : 0;
                break;
            case 4:
                icw4 = v & 0x1F;
                initStep = 0;
                break;
            default:
                imr = v; // OCW1
                break;
        }
    }

    /**
     * ICW1 starts initialisation (datasheet "Initialization command words"): the edge sense
     * circuit is reset, so an input must go low to high again; IMR is cleared; IR7 gets the lowest
     * priority; special mask mode is cleared and status read set to IRR; without IC4 all ICW4
     * functions are cleared. ISR and IRR are cleared as well (QEMU and Bochs do; the datasheet
     * leaves ISR unsaid and guests EOI nothing after an init).
     */
    private void writeIcw1(int v) {
        icw1 = v;
        irr = 0;
        isr = 0;
        imr = 0;
        priorityAdd = 0;
        specialMask = false;
        readIsr = false;
        poll = false;
        rotateOnAutoEoi = false;
        if ((v & ICW1_IC4) == 0) {
            icw4 = 0;
        }
        syncLevelRequests();
        initStep = 2;
    }

    private void writeOcw2(int v) {
        int level = v & 7;
        switch (v >>> 5) {
            case OCW2_CLEAR_ROTATE_AEOI:
                rotateOnAutoEoi = false;
                break;
            case OCW2_SET_ROTATE_AEOI:
                rotateOnAutoEoi = true;
                break;
            case OCW2_EOI:
            case OCW2_ROTATE_EOI: {
                int ir = highest(isr);
                if (ir >= 0) {
                    isr &= ~(1 << ir);
                    if ((v >>> 5) == OCW2_ROTATE_EOI) {
                        priorityAdd = (ir + 1) & 7;
                    }
                }
                break;
            }
            case OCW2_SPECIFIC_EOI:
                isr &= ~(1 << level);
                break;
            case OCW2_ROTATE_SPECIFIC_EOI:
                isr &= ~(1 << level);
                priorityAdd = (level + 1) & 7;
                break;
            case OCW2_SET_PRIORITY:
                priorityAdd = (level + 1) & 7;
                break;
            default: // OCW2_NOP
                break;
        }
    }

    private void writeOcw3(int v) {
        if ((v & OCW3_POLL) != 0) {
            poll = true;
        }
        if ((v & OCW3_RR) != 0) {
            readIsr = (v & OCW3_RIS) != 0;
        }
        if ((v & OCW3_ESMM) != 0) {
            specialMask = (v & OCW3_SMM) != 0;
        }
    }

    /** Tells whether the next read is a poll (OCW3 P was written). */
    boolean pollPending() {
        return poll;
    }

    /** Reads the ELCR byte of this chip. */
    int readElcr() {
        return elcr;
    }

    /** Writes the ELCR byte of this chip; reserved bits stay zero. */
    void writeElcr(int value) {
        elcr = value & elcrMask;
        syncLevelRequests();
    }

    // ---- state --------------------------------------------------------------------------

    I8259State state() {
        return new I8259State(irr, isr, imr, lines, elcr, icw1, vectorBase, icw3, icw4, initStep, priorityAdd,
                readIsr, poll, specialMask, rotateOnAutoEoi);
    }

    void restore(I8259State s) {
        irr = s.irr();
        isr = s.isr();
        imr = s.imr();
        lines = s.lines();
        elcr = s.elcr() & elcrMask;
        icw1 = s.icw1();
        vectorBase = s.vectorBase();
        icw3 = s.icw3();
        icw4 = s.icw4();
        initStep = s.initStep();
        priorityAdd = s.priorityAdd();
        readIsr = s.readIsr();
        poll = s.poll();
        specialMask = s.specialMask();
        rotateOnAutoEoi = s.rotateOnAutoEoi();
        syncLevelRequests();
    }

    /** Input pin levels, for a reset that keeps what devices still drive. */
    int lines() {
        return lines;
    }
}
