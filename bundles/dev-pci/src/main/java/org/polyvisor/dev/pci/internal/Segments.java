package org.polyvisor.dev.pci.internal;

import java.util.Optional;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.pci.PciBus;
import org.polyvisor.pci.PciFunction;
import org.polyvisor.pci.PciSlot;

/**
 * Finds or creates a VM's PCI bus through the per-VM services of the device context, and keeps the
 * service offered while the bus has users. A bus is created by whichever comes first, its host
 * bridge or a function, and offered through that part's context; when that part goes while others
 * still use the bus, the offer is handed to one of them (the platform withdraws a part's services
 * when the part closes), so the order in which a VM's parts are (re)built does not matter. The
 * bus goes away with its last user. Nothing is kept here but a lock.
 */
public final class Segments {

    /** Serialises find-or-create and the hand-over between the parts of all VMs (short sections). */
    private static final Object LOCK = new Object();

    private Segments() {
    }

    /** The service object a bus is offered as: one per offer, so withdrawing an old offer cannot remove a newer one. */
    private static final class Offer implements PciBus {
        final Segment segment;

        Offer(Segment segment) {
            this.segment = segment;
        }

        @Override
        public PciSlot attach(DeviceContext context, String owner, PciFunction function, int device) {
            synchronized (LOCK) {
                segment.users.add(context);
            }
            return attachTo(segment, context, owner, function, device);
        }
    }

    /**
     * Attaches a function; see {@link org.polyvisor.pci.PciBuses#attach}.
     *
     * @param context  the device's context
     * @param owner    the device instance name
     * @param function the function
     * @param device   device number or -1
     * @return the slot
     */
    public static PciSlot attach(DeviceContext context, String owner, PciFunction function, int device) {
        return attachTo(acquire(context), context, owner, function, device);
    }

    private static PciSlot attachTo(Segment s, DeviceContext context, String owner, PciFunction function, int device) {
        try {
            return s.attach(owner, function, device, context);
        } catch (RuntimeException e) {
            release(s, context);
            throw e;
        }
    }

    /** Returns the VM's bus, counting the context as one more user; creates and offers it if there is none. */
    static Segment acquire(DeviceContext context) {
        synchronized (LOCK) {
            Optional<PciBus> found = context.vmService(PciBus.class);
            Segment s;
            if (found.isPresent()) {
                if (!(found.get() instanceof Offer o)) {
                    throw new IllegalStateException("vm '" + context.vmName() + "': its PCI bus service is "
                            + found.get().getClass().getName() + ", not this bundle's");
                }
                s = o.segment;
                s.users.add(context);
            } else {
                s = new Segment(context.vmName());
                s.users.add(context);
                offer(s, context);
            }
            return s;
        }
    }

    /** Counts one use by the context less; hands the offer over or withdraws it. */
    static void release(Segment s, DeviceContext context) {
        synchronized (LOCK) {
            for (int i = 0; i < s.users.size(); i++) {
                if (s.users.get(i) == context) {
                    s.users.remove(i);
                    break;
                }
            }
            if (s.offeredBy == context && !s.users.contains(context)) {
                withdraw(s);
                if (!s.users.isEmpty()) {
                    offer(s, s.users.get(0));
                }
            }
        }
    }

    private static void offer(Segment s, DeviceContext through) {
        s.offer = through.provideVmService(PciBus.class, new Offer(s));
        s.offeredBy = through;
    }

    private static void withdraw(Segment s) {
        AutoCloseable r = s.offer;
        s.offer = null;
        s.offeredBy = null;
        if (r != null) {
            try {
                r.close();
            } catch (Exception e) {
                // the platform's registration close does not fail; the offer is gone either way
            }
        }
    }
}
