package org.polyvisor.testing;

import org.polyvisor.irq.IrqLine;

/**
 * An IRQ line that records its level and counts its transitions: a raise of a line already high
 * and a lower of a line already low change nothing and are not counted, as on a wire.
 */
public final class RecordingIrqLine implements IrqLine {

    private boolean high;
    private int raises;
    private int lowers;

    @Override
    public synchronized void raise() {
        if (!high) {
            raises++;
        }
        high = true;
    }

    @Override
    public synchronized void lower() {
        if (high) {
            lowers++;
        }
        high = false;
    }

    /**
     * Tells the line's level.
     *
     * @return true if asserted
     */
    public synchronized boolean high() {
        return high;
    }

    /**
     * Counts rising edges (low to high) so far.
     *
     * @return rising edges
     */
    public synchronized int raises() {
        return raises;
    }

    /**
     * Counts falling edges (high to low) so far.
     *
     * @return falling edges
     */
    public synchronized int lowers() {
        return lowers;
    }
}
