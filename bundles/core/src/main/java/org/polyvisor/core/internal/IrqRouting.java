package org.polyvisor.core.internal;

import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.irq.IrqLine;

/**
 * The indirection between devices/engines and the current interrupt chip, so the chip can be
 * swapped, or its provider can go away and come back, without devices or engines noticing. Lines
 * remember their level and re-drive it into a new chip.
 */
final class IrqRouting {

    private volatile IrqChip chip;
    private final ConcurrentHashMap<Integer, LineProxy> lines = new ConcurrentHashMap<>();

    IrqLine line(int gsi) {
        return lines.computeIfAbsent(gsi, LineProxy::new);
    }

    InterruptSource source(int vcpu) {
        return new InterruptSource() {
            @Override
            public boolean hasInterrupt() {
                IrqChip c = chip;
                return c != null && c.source(vcpu).hasInterrupt();
            }

            @Override
            public int acknowledge() {
                IrqChip c = chip;
                return c == null ? -1 : c.source(vcpu).acknowledge();
            }

            @Override
            public boolean takeNmi() {
                IrqChip c = chip;
                return c != null && c.source(vcpu).takeNmi();
            }

            @Override
            public boolean hasStartupEvent() {
                IrqChip c = chip;
                return c != null && c.source(vcpu).hasStartupEvent();
            }

            @Override
            public int takeStartupEvent() {
                IrqChip c = chip;
                return c == null ? NO_STARTUP : c.source(vcpu).takeStartupEvent();
            }

            @Override
            public boolean ownsMsr(int msr) {
                IrqChip c = chip;
                return c != null && c.source(vcpu).ownsMsr(msr);
            }

            @Override
            public OptionalLong readMsr(int msr, long tsc) {
                IrqChip c = chip;
                return c == null ? OptionalLong.empty() : c.source(vcpu).readMsr(msr, tsc);
            }

            @Override
            public boolean writeMsr(int msr, long value, long tsc) {
                IrqChip c = chip;
                return c != null && c.source(vcpu).writeMsr(msr, value, tsc);
            }
        };
    }

    IrqChip chip() {
        return chip;
    }

    /**
     * Connects a chip (or none). Lines that are high are raised in the new chip, so a level that
     * was asserted before a swap is still asserted after it.
     *
     * @param next the chip, or null
     * @param redrive whether to re-drive current levels (false right after a state restore, which
     *                already holds them)
     */
    void connect(IrqChip next, boolean redrive) {
        chip = next;
        if (next != null && redrive) {
            for (LineProxy l : lines.values()) {
                if (l.high && l.gsi < next.lineCount()) {
                    next.line(l.gsi).raise();
                }
            }
        }
    }

    private final class LineProxy implements IrqLine {
        final int gsi;
        volatile boolean high;

        LineProxy(int gsi) {
            this.gsi = gsi;
        }

        @Override
        public void raise() {
            high = true;
            IrqChip c = chip;
            if (c != null && gsi < c.lineCount()) {
                c.line(gsi).raise();
            }
        }

        @Override
        public void lower() {
            high = false;
            IrqChip c = chip;
            if (c != null && gsi < c.lineCount()) {
                c.line(gsi).lower();
            }
        }

        @Override
        public void pulse() {
            IrqChip c = chip;
            if (c != null && gsi < c.lineCount()) {
                c.line(gsi).pulse();
            }
        }
    }
}
