package org.polyvisor.testing;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.IntPredicate;
import org.polyvisor.irq.IrqChipContext;

/**
 * An interrupt-chip context over the fakes of this package: a {@link FakePortBus}, a
 * {@link FakeMmioBus}, a {@link ManualClock} (its own or one shared with devices) and a kick
 * counter per vCPU. Kicks to vCPUs the chip should never kick can be made to fail the test.
 */
public final class FakeIrqChipContext implements IrqChipContext {

    private final String vmName;
    private final int vcpus;
    private final FakePortBus ports = new FakePortBus();
    private final FakeMmioBus mmio = new FakeMmioBus();
    private final ManualClock clock;
    private final AtomicIntegerArray kicks;
    private final IntPredicate kickable;

    /**
     * A context for a VM named "test" with its own clock.
     *
     * @param vcpus number of vCPUs
     */
    public FakeIrqChipContext(int vcpus) {
        this(vcpus, new ManualClock());
    }

    /**
     * A context for a VM named "test" on a given clock.
     *
     * @param vcpus number of vCPUs
     * @param clock the clock, shared with other fakes of the same VM
     */
    public FakeIrqChipContext(int vcpus, ManualClock clock) {
        this("test", vcpus, clock, v -> true);
    }

    private FakeIrqChipContext(String vmName, int vcpus, ManualClock clock, IntPredicate kickable) {
        if (vcpus < 1) {
            throw new IllegalArgumentException("a VM has at least one vCPU: " + vcpus);
        }
        this.vmName = vmName;
        this.vcpus = vcpus;
        this.clock = clock;
        this.kicks = new AtomicIntegerArray(vcpus);
        this.kickable = kickable;
    }

    /**
     * The same kind of context (fresh buses and counters, the same clock) where a kick to any vCPU
     * but one fails with an {@link AssertionError}: for chips that deliver to a single CPU.
     *
     * @param vcpu the only vCPU the chip may kick
     * @return a new context
     */
    public FakeIrqChipContext kickingOnly(int vcpu) {
        return new FakeIrqChipContext(vmName, vcpus, clock, v -> v == vcpu);
    }

    @Override
    public String vmName() {
        return vmName;
    }

    @Override
    public int vcpuCount() {
        return vcpus;
    }

    @Override
    public FakePortBus ports() {
        return ports;
    }

    @Override
    public FakeMmioBus mmio() {
        return mmio;
    }

    @Override
    public ManualClock clock() {
        return clock;
    }

    @Override
    public void kick(int vcpu) {
        if (!kickable.test(vcpu)) {
            throw new AssertionError("this chip may not kick vCPU " + vcpu);
        }
        kicks.incrementAndGet(vcpu);
    }

    /**
     * Counts the kicks one vCPU received (wakes count as kicks).
     *
     * @param vcpu the vCPU
     * @return kicks so far
     */
    public int kicks(int vcpu) {
        return kicks.get(vcpu);
    }

    /**
     * Counts the kicks all vCPUs received.
     *
     * @return kicks so far
     */
    public int totalKicks() {
        int n = 0;
        for (int i = 0; i < kicks.length(); i++) {
            n += kicks.get(i);
        }
        return n;
    }
}
