package org.polyvisor.irq.apic.internal;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.time.VmClock;

/** An interrupt-chip context with fake buses, a hand-driven clock and kick counters per vCPU. */
final class FakeIrqChipContext implements IrqChipContext {

    final FakePortBus ports = new FakePortBus();
    final FakeMmioBus mmio = new FakeMmioBus();
    final FakeClock clock;
    final AtomicIntegerArray kicks;
    private final int vcpus;

    FakeIrqChipContext(int vcpus) {
        this(vcpus, new FakeClock());
    }

    FakeIrqChipContext(int vcpus, FakeClock clock) {
        this.vcpus = vcpus;
        this.clock = clock;
        this.kicks = new AtomicIntegerArray(vcpus);
    }

    @Override
    public String vmName() {
        return "test";
    }

    @Override
    public int vcpuCount() {
        return vcpus;
    }

    @Override
    public PortBus ports() {
        return ports;
    }

    @Override
    public MmioBus mmio() {
        return mmio;
    }

    @Override
    public VmClock clock() {
        return clock;
    }

    @Override
    public void kick(int vcpu) {
        kicks.incrementAndGet(vcpu);
    }

    int totalKicks() {
        int n = 0;
        for (int i = 0; i < kicks.length(); i++) {
            n += kicks.get(i);
        }
        return n;
    }
}
