package org.polyvisor.irq.apic.internal;

import org.polyvisor.part.SavedState;

/**
 * One 8259A of the PC's legacy pair that sits beside the IOAPIC (Intel 8259A datasheet, order
 * 231468), written for this bundle (the {@code pic} bundle's internals are not shared between
 * bundles). Only the 8086 mode is modelled. Not thread-safe: {@link ApicChip} serialises calls.
 *
 * <p>Its saved fields use the same names as the {@code i8259-pair} state of the {@code pic}
 * strategy, so a VM's PIC state can be taken over when it moves from {@code pic} to {@code apic}.
 */
final class Legacy8259 {

    static final int ICW1_IC4 = 0x01;
    static final int ICW1_SNGL = 0x02;
    static final int ICW1_LTIM = 0x08;
    static final int ICW1_INIT = 0x10;
    static final int ICW4_AEOI = 0x02;
    static final int ICW4_SFNM = 0x10;
    static final int OCW3_SELECT = 0x08;
    static final int OCW3_RIS = 0x01;
    static final int OCW3_RR = 0x02;
    static final int OCW3_POLL = 0x04;
    static final int OCW3_SMM = 0x20;
    static final int OCW3_ESMM = 0x40;
    /** The master's input wired to the slave's INT. */
    static final int CASCADE_IR = 2;

    private final boolean master;
    /** ELCR bits that exist: IRQ 0-2, 8 and 13 are edge only (PIIX ELCR1/2). */
    private final int elcrMask;

    int irr;
    int isr;
    int imr;
    int lines;
    int elcr;
    int icw1;
    int vectorBase;
    int icw3;
    int icw4;
    int initStep;
    int priorityAdd;
    boolean readIsr;
    boolean poll;
    boolean specialMask;
    boolean rotateOnAutoEoi;

    Legacy8259(boolean master) {
        this.master = master;
        this.elcrMask = master ? 0xF8 : 0xDE;
        reset();
    }

    /** Power-on (QEMU's choice: zeros, PC/AT cascade wiring in ICW3); input levels are kept. */
    void reset() {
        irr = 0;
        isr = 0;
        imr = 0;
        elcr = 0;
        icw1 = 0;
        vectorBase = 0;
        icw3 = master ? 0x04 : 0x02;
        icw4 = 0;
        initStep = 0;
        priorityAdd = 0;
        readIsr = false;
        poll = false;
        specialMask = false;
        rotateOnAutoEoi = false;
    }

    private int levelMode() {
        return (icw1 & ICW1_LTIM) != 0 ? 0xFF : elcr;
    }

    private void syncLevels() {
        int l = levelMode();
        irr = (irr & ~l) | (lines & l);
    }

    /** Edge inputs latch a rising edge; level inputs follow the pin. */
    void setInput(int ir, boolean high) {
        int bit = 1 << ir;
        boolean was = (lines & bit) != 0;
        lines = high ? lines | bit : lines & ~bit;
        if (high && ((levelMode() & bit) != 0 || !was)) {
            irr |= bit;
        } else if (!high && (levelMode() & bit) != 0) {
            irr &= ~bit;
        }
    }

    private int highest(int mask) {
        for (int p = 0; p < 8; p++) {
            int ir = (p + priorityAdd) & 7;
            if ((mask & (1 << ir)) != 0) {
                return ir;
            }
        }
        return -1;
    }

    /** The request on INT now: highest unmasked above everything in service (special mask, SFNM). */
    int pending() {
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
        int cur = highest(inService);
        return cur >= 0 && ((ir - priorityAdd) & 7) >= ((cur - priorityAdd) & 7) ? -1 : ir;
    }

    /** This chip's INTA: ISR bit (unless AEOI), edge request cleared. */
    void acknowledge(int ir) {
        int bit = 1 << ir;
        if ((levelMode() & bit) == 0 || (lines & bit) == 0) {
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

    int vector(int ir) {
        return vectorBase | ir;
    }

    boolean cascades(int ir) {
        return (icw1 & ICW1_SNGL) == 0 && (icw3 & (1 << ir)) != 0;
    }

    /** Reads the command (0) or data (1) port; a pending poll turns the read into an INTA. */
    int read(int offset) {
        if (poll) {
            poll = false;
            int ir = pending();
            if (ir < 0) {
                return 0;
            }
            acknowledge(ir);
            return 0x80 | ir;
        }
        return offset == 0 ? (readIsr ? isr : irr) : imr;
    }

    void write(int offset, int value) {
        int v = value & 0xFF;
        if (offset == 0) {
            if ((v & ICW1_INIT) != 0) {
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
                syncLevels();
                initStep = 2;
            } else if ((v & OCW3_SELECT) != 0) {
                poll |= (v & OCW3_POLL) != 0;
                if ((v & OCW3_RR) != 0) {
                    readIsr = (v & OCW3_RIS) != 0;
                }
                if ((v & OCW3_ESMM) != 0) {
                    specialMask = (v & OCW3_SMM) != 0;
                }
            } else {
                ocw2(v);
            }
            return;
        }
        switch (initStep) {
            case 2 -> {
                vectorBase = v & 0xF8;
                initStep = (icw1 & ICW1_SNGL) == 0 ? 3 : (icw1 & ICW1_IC4) != 0 ? 4 : 0;
            }
            case 3 -> {
                icw3 = v;
                initStep = (icw1 & ICW1_IC4) != 0 ? 4 : 0;
            }
            case 4 -> {
                icw4 = v & 0x1F;
                initStep = 0;
            }
            default -> imr = v;
        }
    }

    private void ocw2(int v) {
        int level = v & 7;
        switch (v >>> 5) {
            case 0 -> rotateOnAutoEoi = false;
            case 4 -> rotateOnAutoEoi = true;
            case 1, 5 -> {
                int ir = highest(isr);
                if (ir >= 0) {
                    isr &= ~(1 << ir);
                    if ((v >>> 5) == 5) {
                        priorityAdd = (ir + 1) & 7;
                    }
                }
            }
            case 3 -> isr &= ~(1 << level);
            case 7 -> {
                isr &= ~(1 << level);
                priorityAdd = (level + 1) & 7;
            }
            case 6 -> priorityAdd = (level + 1) & 7;
            default -> {
                // 2: no operation
            }
        }
    }

    int readElcr() {
        return elcr;
    }

    void writeElcr(int v) {
        elcr = v & elcrMask;
        syncLevels();
    }

    void save(SavedState.Builder b, String p) {
        b.put(p + "irr", irr).put(p + "isr", isr).put(p + "imr", imr).put(p + "lines", lines)
                .put(p + "elcr", elcr).put(p + "icw1", icw1).put(p + "vector-base", vectorBase)
                .put(p + "icw3", icw3).put(p + "icw4", icw4).put(p + "init-step", initStep)
                .put(p + "priority-add", priorityAdd).put(p + "read-isr", readIsr).put(p + "poll", poll)
                .put(p + "special-mask", specialMask).put(p + "rotate-on-aeoi", rotateOnAutoEoi);
    }

    void restore(SavedState s, String p) {
        int step = s.getInt(p + "init-step");
        if (step != 0 && (step < 2 || step > 4)) {
            throw new IllegalArgumentException("i8259 state: " + p + "init-step " + step + " is not 0, 2, 3 or 4");
        }
        irr = s.getInt(p + "irr") & 0xFF;
        isr = s.getInt(p + "isr") & 0xFF;
        imr = s.getInt(p + "imr") & 0xFF;
        lines = s.getInt(p + "lines") & 0xFF;
        elcr = s.getInt(p + "elcr") & elcrMask;
        icw1 = s.getInt(p + "icw1") & 0xFF;
        vectorBase = s.getInt(p + "vector-base") & 0xF8;
        icw3 = s.getInt(p + "icw3") & 0xFF;
        icw4 = s.getInt(p + "icw4") & 0x1F;
        initStep = step;
        priorityAdd = s.getInt(p + "priority-add") & 7;
        readIsr = s.getBoolean(p + "read-isr");
        poll = s.getBoolean(p + "poll");
        specialMask = s.getBoolean(p + "special-mask");
        rotateOnAutoEoi = s.getBoolean(p + "rotate-on-aeoi");
        syncLevels();
    }
}
