package org.polyvisor.testing;

import java.util.ArrayList;
import java.util.List;
import org.polyvisor.device.VmControl;

/** A VM control that only records what devices asked of it: power-offs, resets and the A20 gate. */
public final class RecordingVmControl implements VmControl {

    private final List<Integer> powerOffs = new ArrayList<>();
    private final List<Boolean> a20Changes = new ArrayList<>();
    private int resets;
    private boolean a20 = true;

    @Override
    public synchronized void powerOff(int exitStatus) {
        powerOffs.add(exitStatus);
    }

    @Override
    public synchronized void reset() {
        resets++;
    }

    @Override
    public synchronized void setA20(boolean enabled) {
        a20 = enabled;
        a20Changes.add(enabled);
    }

    /**
     * Returns the exit statuses of every power-off requested, in order.
     *
     * @return a copy
     */
    public synchronized List<Integer> powerOffs() {
        return List.copyOf(powerOffs);
    }

    /**
     * Counts the resets requested.
     *
     * @return resets
     */
    public synchronized int resets() {
        return resets;
    }

    /**
     * Tells the A20 gate's state as last set (open until a device closes it).
     *
     * @return true if A20 is enabled
     */
    public synchronized boolean a20() {
        return a20;
    }

    /**
     * Returns every {@link #setA20} call's argument, in order.
     *
     * @return a copy
     */
    public synchronized List<Boolean> a20Changes() {
        return List.copyOf(a20Changes);
    }
}
