package org.polyvisor.irq.pic.internal;

import org.polyvisor.part.SavedState;

/**
 * The state of one 8259A (plus its ELCR) as a plain value.
 *
 * @param irr             interrupt request register
 * @param isr             in-service register
 * @param imr             interrupt mask register (OCW1)
 * @param lines           levels of the eight IR input pins, for edge detection and level mode
 * @param elcr            edge/level control (PIIX ELCR1/ELCR2 at 0x4d0/0x4d1): 1 = level
 * @param icw1            last ICW1 (LTIM, SNGL, IC4 are used)
 * @param vectorBase      ICW2 & 0xf8: vector of IR0
 * @param icw3            ICW3: slave bitmap on the master, cascade identity on the slave
 * @param icw4            ICW4 (AEOI, SFNM are used); zero when ICW1 said no ICW4
 * @param initStep        0 when initialised, else the ICW (2, 3 or 4) the chip waits for
 * @param priorityAdd     IR number with the highest priority (rotation); the lowest is one below
 * @param readIsr         OCW3 RR/RIS: a read of the command port returns ISR (else IRR)
 * @param poll            OCW3 P: the next read is a poll (an interrupt acknowledge)
 * @param specialMask     OCW3 special mask mode
 * @param rotateOnAutoEoi OCW2 rotate in automatic EOI mode
 */
record I8259State(int irr, int isr, int imr, int lines, int elcr, int icw1, int vectorBase, int icw3, int icw4,
                  int initStep, int priorityAdd, boolean readIsr, boolean poll, boolean specialMask,
                  boolean rotateOnAutoEoi) {

    /**
     * Returns the power-on state. The 8259A's registers are undefined until initialised; like
     * QEMU we start from zeros (vectors 0-7, nothing masked), with ICW3 of the PC/AT wiring
     * (slave on IR2) so that the pair cascades even before a guest initialises it.
     *
     * @param master true for the master chip
     * @return the power-on state with the given input pin levels
     */
    static I8259State powerOn(boolean master, int lines) {
        return new I8259State(0, 0, 0, lines, 0, 0, 0, master ? 0x04 : 0x02, 0, 0, 0, false, false, false, false);
    }

    void put(SavedState.Builder b, String prefix) {
        b.put(prefix + "irr", irr)
                .put(prefix + "isr", isr)
                .put(prefix + "imr", imr)
                .put(prefix + "lines", lines)
                .put(prefix + "elcr", elcr)
                .put(prefix + "icw1", icw1)
                .put(prefix + "vector-base", vectorBase)
                .put(prefix + "icw3", icw3)
                .put(prefix + "icw4", icw4)
                .put(prefix + "init-step", initStep)
                .put(prefix + "priority-add", priorityAdd)
                .put(prefix + "read-isr", readIsr)
                .put(prefix + "poll", poll)
                .put(prefix + "special-mask", specialMask)
                .put(prefix + "rotate-on-aeoi", rotateOnAutoEoi);
    }

    static I8259State from(SavedState s, String prefix) {
        int initStep = s.getInt(prefix + "init-step");
        if (initStep != 0 && (initStep < 2 || initStep > 4)) {
            throw new IllegalArgumentException("i8259 state: " + prefix + "init-step " + initStep + " is not 0, 2, 3 or 4");
        }
        return new I8259State(s.getInt(prefix + "irr") & 0xFF, s.getInt(prefix + "isr") & 0xFF,
                s.getInt(prefix + "imr") & 0xFF, s.getInt(prefix + "lines") & 0xFF, s.getInt(prefix + "elcr") & 0xFF,
                s.getInt(prefix + "icw1") & 0xFF, s.getInt(prefix + "vector-base") & 0xF8,
                s.getInt(prefix + "icw3") & 0xFF, s.getInt(prefix + "icw4") & 0x1F, initStep,
                s.getInt(prefix + "priority-add") & 7, s.getBoolean(prefix + "read-isr"),
                s.getBoolean(prefix + "poll"), s.getBoolean(prefix + "special-mask"),
                s.getBoolean(prefix + "rotate-on-aeoi"));
    }
}
