package org.polyvisor.dev.virtio.net.internal;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An in-process Ethernet switch linking the virtio-net devices of the VMs of this runtime that name
 * the same switch. Each port has its own bounded receive queue, and the switch sorts frames into
 * them by destination MAC address when it forwards, the way VMDq hardware sorts received frames
 * into per-VM queues, so a VM's device only ever takes frames meant for it from its own queue.
 *
 * <p>Forwarding: the source address of every frame is learnt for its port; a unicast frame to a
 * known address goes to that port's queue only; broadcast, multicast and unknown unicast frames are
 * flooded to every other port. A frame never returns to its sender. A full queue drops the new frame
 * (tail drop), counted on the receiving port, so a VM that does not read cannot hold up the senders.
 *
 * <p>Switches are kept by name and disappear with their last port. Thread-safe.
 */
final class VirtualSwitch {

    /** Frames a port's receive queue holds before it drops. */
    static final int QUEUE_FRAMES = 256;
    /** Smallest frame: destination, source, EtherType. */
    static final int MIN_FRAME = 14;
    /** Largest frame the switch forwards (a 64 KiB GSO frame and its Ethernet header). */
    static final int MAX_FRAME = 65_536 + MIN_FRAME;

    private static final Map<String, VirtualSwitch> BY_NAME = new HashMap<>();

    private final String name;
    private final CopyOnWriteArrayList<Port> ports = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<Long, Port> macTable = new ConcurrentHashMap<>();
    private int users;

    private VirtualSwitch(String name) {
        this.name = name;
    }

    /**
     * Connects a port to the named switch, creating the switch if needed.
     *
     * @param switchName the switch
     * @param owner      who the port belongs to, e.g. {@code vm1/net0}
     * @param mac        the device's MAC address (learnt at once, so the first frame to it is not flooded)
     * @param onFrame    told (on the sender's thread) when a frame was queued for this port
     * @return the port
     */
    static Port connect(String switchName, String owner, long mac, Runnable onFrame) {
        VirtualSwitch s;
        synchronized (BY_NAME) {
            s = BY_NAME.computeIfAbsent(switchName, VirtualSwitch::new);
            s.users++;
        }
        Port p = s.new Port(owner, mac, onFrame);
        s.ports.add(p);
        s.macTable.put(mac, p);
        return p;
    }

    String name() {
        return name;
    }

    /** Reads a MAC address from a frame. */
    static long mac(byte[] frame, int at) {
        long v = 0;
        for (int i = 0; i < 6; i++) {
            v = v << 8 | (frame[at + i] & 0xFF);
        }
        return v;
    }

    private void forward(Port from, byte[] frame) {
        long dst = mac(frame, 0);
        long src = mac(frame, 6);
        if ((src & 0x0100_0000_0000L) == 0) { // learn unicast sources only
            macTable.put(src, from);
        }
        boolean group = (dst & 0x0100_0000_0000L) != 0; // I/G bit: broadcast or multicast
        if (!group) {
            Port to = macTable.get(dst);
            if (to != null && to.open) {
                if (to != from) {
                    to.deliver(frame);
                }
                return;
            }
        }
        for (Port p : ports) {
            if (p != from) {
                p.deliver(frame);
            }
        }
    }

    /** A switch port: one VM's device, with its receive queue. */
    final class Port implements AutoCloseable {
        final String owner;
        final long mac;
        private final Runnable onFrame;
        private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
        volatile boolean open = true;
        final AtomicLong txFrames = new AtomicLong();
        final AtomicLong rxQueued = new AtomicLong();
        final AtomicLong rxDropped = new AtomicLong();
        final AtomicLong txDropped = new AtomicLong();

        Port(String owner, long mac, Runnable onFrame) {
            this.owner = owner;
            this.mac = mac;
            this.onFrame = onFrame;
        }

        /**
         * Sends a frame into the switch.
         *
         * @param frame the Ethernet frame (without FCS); the switch keeps it, do not reuse it
         */
        void send(byte[] frame) {
            if (!open || frame.length < MIN_FRAME || frame.length > MAX_FRAME) {
                txDropped.incrementAndGet();
                return;
            }
            txFrames.incrementAndGet();
            forward(this, frame);
        }

        private void deliver(byte[] frame) {
            synchronized (queue) {
                if (!open || queue.size() >= QUEUE_FRAMES) {
                    rxDropped.incrementAndGet();
                    return;
                }
                queue.add(frame);
            }
            rxQueued.incrementAndGet();
            onFrame.run();
        }

        /** Returns whether a frame waits. */
        boolean hasFrame() {
            synchronized (queue) {
                return !queue.isEmpty();
            }
        }

        /** Takes the next frame, or null. */
        byte[] poll() {
            synchronized (queue) {
                return queue.poll();
            }
        }

        /** Drops the queued frames (device reset). */
        void clear() {
            synchronized (queue) {
                queue.clear();
            }
        }

        /** Returns the switch's name. */
        String switchName() {
            return name;
        }

        @Override
        public void close() {
            if (!open) {
                return;
            }
            open = false;
            ports.remove(this);
            macTable.values().removeIf(p -> p == this);
            clear();
            synchronized (BY_NAME) {
                if (--users == 0) {
                    BY_NAME.remove(name, VirtualSwitch.this);
                }
            }
        }
    }

    /** For tests: whether a switch exists. */
    static boolean exists(String name) {
        synchronized (BY_NAME) {
            return BY_NAME.containsKey(name);
        }
    }
}
