package org.polyvisor.dev.pci.internal;

import java.util.ArrayList;
import java.util.List;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.pci.PciFunction;
import org.polyvisor.pci.PciSlot;

/**
 * One VM's PCI bus 0: 32 device slots (0 is the host bridge's own function) and the bridge bound to
 * it, if any. Lock order: the bridge's INTx lock, then this; this never calls out while locked.
 */
final class Segment {

    /** Device numbers on a bus. */
    static final int SLOTS = 32;

    /** What the bus tells its bridge. */
    interface Host {
        /** A slot's function, pin or INTx level changed (on the caller's thread). */
        void slotChanged(int device);
    }

    private final String vmName;
    private final SlotImpl[] slots = new SlotImpl[SLOTS];
    private Host host;
    /** The contexts of the parts using the bus, once per use (guarded by {@code Segments.LOCK}). */
    final List<DeviceContext> users = new ArrayList<>();
    /** The bus's registration as the VM's PCI bus service, and whose context offers it (same lock). */
    AutoCloseable offer;
    DeviceContext offeredBy;

    Segment(String vmName) {
        this.vmName = vmName;
    }

    String vmName() {
        return vmName;
    }

    PciSlot attach(String owner, PciFunction function, int device, DeviceContext context) {
        SlotImpl slot;
        Host h;
        synchronized (this) {
            int d = device;
            if (d == -1) {
                for (d = 1; d < SLOTS && slots[d] != null; d++) {
                    // find the lowest free device number
                }
                if (d == SLOTS) {
                    throw new IllegalArgumentException(owner + ": PCI bus 0 of vm '" + vmName + "' is full (31 devices)");
                }
            } else if (d < 1 || d >= SLOTS) {
                throw new IllegalArgumentException(owner + ": PCI device number " + d + " out of range 1..31"
                        + " (0 is the host bridge)");
            } else if (slots[d] != null) {
                throw new IllegalArgumentException(owner + ": PCI device number " + d + " of vm '" + vmName
                        + "' is taken by " + slots[d].owner);
            }
            int pin = function.interruptPin();
            if (pin < 0 || pin > 4) {
                throw new IllegalArgumentException(owner + ": interrupt pin " + pin + " is not 0..4");
            }
            slot = new SlotImpl(this, d, owner, function, pin, context);
            slots[d] = slot;
            h = host;
        }
        if (h != null) {
            h.slotChanged(slot.device);
        }
        return slot;
    }

    void detach(SlotImpl slot) {
        Host h;
        synchronized (this) {
            if (slots[slot.device] != slot) {
                return;
            }
            slots[slot.device] = null;
            h = host;
        }
        if (h != null) {
            h.slotChanged(slot.device);
        }
        Segments.release(this, slot.context);
    }

    void setLevel(SlotImpl slot, boolean level) {
        Host h;
        synchronized (this) {
            if (slots[slot.device] != slot || slot.level == level) {
                return;
            }
            slot.level = level;
            h = host;
        }
        if (h != null) {
            h.slotChanged(slot.device);
        }
    }

    /** Binds the host bridge; a bus has one. */
    void bind(Host h, String owner) {
        synchronized (this) {
            if (host != null) {
                throw new IllegalArgumentException(owner + ": vm '" + vmName + "' already has a PCI host bridge");
            }
            host = h;
        }
        for (int d = 1; d < SLOTS; d++) {
            h.slotChanged(d);
        }
    }

    synchronized void unbind(Host h) {
        if (host == h) {
            host = null;
        }
    }

    /** Returns the function in a slot, or null. */
    synchronized PciFunction function(int device) {
        SlotImpl s = slots[device];
        return s == null ? null : s.function;
    }

    /** Returns the owner of a slot, or null. */
    synchronized String owner(int device) {
        SlotImpl s = slots[device];
        return s == null ? null : s.owner;
    }

    /** Returns a slot's interrupt pin (0 if empty or none). */
    synchronized int pin(int device) {
        SlotImpl s = slots[device];
        return s == null ? 0 : s.pin;
    }

    /**
     * Returns which PIRQ inputs (bit k for PIRQ A+k) have an asserted function routed to them.
     *
     * @return the bit mask
     */
    synchronized int assertedPirqs() {
        int mask = 0;
        for (int d = 1; d < SLOTS; d++) {
            SlotImpl s = slots[d];
            if (s != null && s.level && s.pin != 0) {
                mask |= 1 << pirqOf(d, s.pin);
            }
        }
        return mask;
    }

    /**
     * The PIIX3 swizzle of INTx pins onto PIRQ lines (QEMU hw/pci-host/i440fx.c,
     * {@code pci_slot_get_pirq}: {@code (intx + slot - 1) & 3}).
     *
     * @param device the device number
     * @param pin    1..4 for INTA#..INTD#
     * @return the PIRQ index 0..3
     */
    static int pirqOf(int device, int pin) {
        return (pin - 1 + device - 1) & 3;
    }

    /** Returns a slot's INTx level (false if empty). */
    synchronized boolean level(int device) {
        SlotImpl s = slots[device];
        return s != null && s.level;
    }

    /** A function's place on this bus. */
    static final class SlotImpl implements PciSlot {
        final Segment segment;
        final int device;
        final String owner;
        final PciFunction function;
        final int pin;
        final DeviceContext context;
        /** Guarded by the segment. */
        boolean level;
        private boolean closed;

        SlotImpl(Segment segment, int device, String owner, PciFunction function, int pin, DeviceContext context) {
            this.segment = segment;
            this.context = context;
            this.device = device;
            this.owner = owner;
            this.function = function;
            this.pin = pin;
        }

        @Override
        public int bus() {
            return 0;
        }

        @Override
        public int device() {
            return device;
        }

        @Override
        public int function() {
            return 0;
        }

        @Override
        public void setInterrupt(boolean asserted) {
            segment.setLevel(this, asserted);
        }

        @Override
        public void close() {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
            }
            segment.detach(this);
        }

        @Override
        public String toString() {
            return address() + " " + owner;
        }
    }
}
