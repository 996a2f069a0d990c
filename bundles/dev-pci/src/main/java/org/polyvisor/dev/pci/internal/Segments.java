package org.polyvisor.dev.pci.internal;

import java.util.HashMap;
import java.util.Map;
import org.polyvisor.pci.PciFunction;
import org.polyvisor.pci.PciSlot;

/**
 * The runtime's PCI buses by VM name. A bus is created by whichever comes first, its host bridge
 * or a function, and dropped when neither is left, so the order in which a VM's parts are (re)built
 * does not matter.
 */
public final class Segments {

    private static final Map<String, Segment> BY_VM = new HashMap<>();

    private Segments() {
    }

    /**
     * Attaches a function; see {@link org.polyvisor.pci.PciBuses#attach}.
     *
     * @param vmName   the VM
     * @param owner    the device instance name
     * @param function the function
     * @param device   device number or -1
     * @return the slot
     */
    public static PciSlot attach(String vmName, String owner, PciFunction function, int device) {
        Segment s = acquire(vmName);
        try {
            return s.attach(owner, function, device);
        } catch (RuntimeException e) {
            release(s);
            throw e;
        }
    }

    /** Returns the VM's bus, counting one more user. */
    static Segment acquire(String vmName) {
        synchronized (BY_VM) {
            Segment s = BY_VM.computeIfAbsent(vmName, Segment::new);
            s.users++;
            return s;
        }
    }

    /** Counts one user less; forgets the bus when none is left. */
    static void release(Segment s) {
        synchronized (BY_VM) {
            if (--s.users == 0) {
                BY_VM.remove(s.vmName(), s);
            }
        }
    }

    /** For tests: whether a VM currently has a bus. */
    static boolean exists(String vmName) {
        synchronized (BY_VM) {
            return BY_VM.containsKey(vmName);
        }
    }
}
