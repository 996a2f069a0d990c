package org.polyvisor.irq.apic.internal;

import org.polyvisor.part.SavedState;

/**
 * An I/O APIC with 24 pins as a register state machine: IOREGSEL at offset 0x00, IOWIN at 0x10
 * and, as in version 0x20 (ICH and later, QEMU's default), the EOI register at 0x40. Register and
 * bit names follow the Intel 82093AA datasheet (order 290566), section 3.2. Not thread-safe:
 * {@link ApicChip} serialises every call.
 *
 * <p>Two deliberate choices, both QEMU's (hw/intc/ioapic.c): pin polarity is not applied (a device
 * line's "raised" is the pin's asserted state, whatever the polarity bit says), and an edge that
 * arrives while the pin is masked stays latched and is delivered on unmask (the 82093AA would lose
 * it; Linux works with both).
 */
final class IoApic {

    /** Number of redirection entries. */
    static final int PINS = 24;
    /** Version register: maximum redirection entry 23 (bits 23:16), version 0x20. */
    static final int VERSION = (PINS - 1) << 16 | 0x20;

    /** MMIO offsets. */
    static final int REG_SELECT = 0x00;
    static final int REG_WINDOW = 0x10;
    static final int REG_EOI = 0x40;

    /** Indirect register indices. */
    static final int IND_ID = 0x00;
    static final int IND_VERSION = 0x01;
    static final int IND_ARBITRATION = 0x02;
    static final int IND_REDIRECTION = 0x10;

    /** Redirection entry bits (datasheet 3.2.4). */
    static final long DELIVERY_STATUS = 1L << 12;
    static final long REMOTE_IRR = 1L << 14;
    static final long LEVEL = 1L << 15;
    static final long MASKED = 1L << 16;
    static final long LOGICAL = 1L << 11;
    /** Writable bits: vector, delivery mode, destination mode, polarity, trigger mode, mask, destination. */
    static final long WRITABLE = 0xFF00_0000_0001_AFFFL;

    /** Where the IOAPIC sends its interrupt messages. */
    interface Host {
        /**
         * Delivers an interrupt message on the APIC bus.
         *
         * @return the number of local APICs that took it
         */
        int deliver(int deliveryMode, int vector, boolean level, boolean logical, int destination);

        /** Counts an event for the statistics. */
        void count(String event);
    }

    private final Host host;
    private int id;
    private int select;
    private final long[] redirection = new long[PINS];
    /** Pins currently asserted. */
    private int pinLevels;
    /** Edges latched and not yet delivered (QEMU's irr). */
    private int edgeRequests;

    IoApic(Host host) {
        this.host = host;
        reset();
    }

    /** Power-on: every pin masked, edge, fixed, vector 0; ID 0 (the firmware assigns it). */
    void reset() {
        id = 0;
        select = 0;
        java.util.Arrays.fill(redirection, MASKED);
        edgeRequests = 0;
    }

    long entry(int pin) {
        return redirection[pin];
    }

    static int deliveryMode(long e) {
        return (int) (e >>> 8) & 7;
    }

    // ---- pins -------------------------------------------------------------------------------

    /** Drives a pin (asserted or not) and delivers what that causes. */
    void setPin(int pin, boolean asserted) {
        int bit = 1 << pin;
        boolean was = (pinLevels & bit) != 0;
        pinLevels = asserted ? pinLevels | bit : pinLevels & ~bit;
        if ((redirection[pin] & LEVEL) == 0) {
            if (asserted && !was) {
                edgeRequests |= bit;
                service(pin);
            }
        } else if (asserted) {
            service(pin);
        }
    }

    boolean pinAsserted(int pin) {
        return (pinLevels & (1 << pin)) != 0;
    }

    /**
     * Sends the pin's message if it should go now: an unmasked latched edge, or an unmasked
     * asserted level with remote IRR clear (which it then sets until the EOI). ExtINT entries are
     * not messages here: the chip lets the 8259 answer the INTA of the targeted processors.
     */
    private void service(int pin) {
        long e = redirection[pin];
        int bit = 1 << pin;
        if ((e & MASKED) != 0 || deliveryMode(e) == LocalApic.DM_EXTINT) {
            return;
        }
        boolean level = (e & LEVEL) != 0;
        if (level) {
            if ((pinLevels & bit) == 0 || (e & REMOTE_IRR) != 0) {
                return;
            }
            redirection[pin] = e | REMOTE_IRR;
        } else {
            if ((edgeRequests & bit) == 0) {
                return;
            }
            edgeRequests &= ~bit;
        }
        int taken = host.deliver(deliveryMode(e), (int) e & 0xFF, level, (e & LOGICAL) != 0, (int) (e >>> 56) & 0xFF);
        if (taken == 0) {
            host.count("ioapic-undeliverable");
            if (level) {
                // Nobody will ever EOI it: leave remote IRR clear so a reprogrammed entry works.
                redirection[pin] &= ~REMOTE_IRR;
            }
        }
    }

    /** An EOI for a vector (broadcast by a local APIC, or written to the EOI register). */
    void eoi(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long e = redirection[pin];
            if ((e & REMOTE_IRR) != 0 && (e & 0xFF) == vector) {
                redirection[pin] = e & ~REMOTE_IRR;
                service(pin); // a level still asserted is delivered again
            }
        }
    }

    // ---- registers --------------------------------------------------------------------------

    /** Reads a dword at a dword-aligned offset of the window. */
    int read(int offset) {
        return switch (offset) {
            case REG_SELECT -> select;
            case REG_WINDOW -> readIndirect(select);
            default -> 0; // the EOI register is write-only
        };
    }

    void write(int offset, int value) {
        switch (offset) {
            case REG_SELECT -> select = value & 0xFF;
            case REG_WINDOW -> writeIndirect(select, value);
            case REG_EOI -> eoi(value & 0xFF);
            default -> {
                // unused offsets ignore writes
            }
        }
    }

    private int readIndirect(int index) {
        if (index == IND_ID || index == IND_ARBITRATION) {
            return id << 24;
        }
        if (index == IND_VERSION) {
            return VERSION;
        }
        int pin = (index - IND_REDIRECTION) >>> 1;
        if (index >= IND_REDIRECTION && pin < PINS) {
            long e = redirection[pin];
            return (index & 1) == 0 ? (int) e : (int) (e >>> 32);
        }
        return 0;
    }

    private void writeIndirect(int index, int value) {
        if (index == IND_ID) {
            id = (value >>> 24) & 0xF;
            return;
        }
        int pin = (index - IND_REDIRECTION) >>> 1;
        if (index < IND_REDIRECTION || pin >= PINS) {
            return; // version, arbitration and unused registers are read-only
        }
        long e = redirection[pin];
        long readOnly = e & (DELIVERY_STATUS | REMOTE_IRR);
        long v;
        if ((index & 1) == 0) {
            v = (e & 0xFFFF_FFFF_0000_0000L) | ((value & 0xFFFF_FFFFL) & WRITABLE);
        } else {
            v = (e & 0xFFFF_FFFFL) | (((long) value << 32) & WRITABLE);
        }
        v |= readOnly;
        if ((v & LEVEL) == 0) {
            // Switching to edge clears remote IRR (QEMU; Linux's ioapic_ack_level relies on it for
            // IOAPICs without the EOI register).
            v &= ~REMOTE_IRR;
        }
        redirection[pin] = v;
        service(pin);
    }

    // ---- state ------------------------------------------------------------------------------

    void save(SavedState.Builder b, String p) {
        b.put(p + "id", id)
                .put(p + "select", select)
                .put(p + "redirection", redirection.clone())
                .put(p + "pin-levels", pinLevels)
                .put(p + "edge-requests", edgeRequests);
    }

    void restore(SavedState s, String p) {
        long[] r = s.getLongs(p + "redirection");
        if (r.length != PINS) {
            throw new IllegalArgumentException("ioapic state: " + r.length + " redirection entries, expected " + PINS);
        }
        id = s.getInt(p + "id") & 0xF;
        select = s.getInt(p + "select") & 0xFF;
        for (int i = 0; i < PINS; i++) {
            redirection[i] = r[i] & (WRITABLE | REMOTE_IRR);
        }
        pinLevels = s.getInt(p + "pin-levels") & ((1 << PINS) - 1);
        edgeRequests = s.getInt(p + "edge-requests") & ((1 << PINS) - 1);
    }

    /** Delivers what became deliverable while nothing ran the pins (after a restore). */
    void serviceAll() {
        for (int pin = 0; pin < PINS; pin++) {
            service(pin);
        }
    }
}
