package org.polyvisor.irq.pic.internal;

import java.util.concurrent.atomic.AtomicInteger;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.time.VmClock;

/** An interrupt-chip context with a fake port bus that counts kicks. */
final class FakeIrqChipContext implements IrqChipContext {

    final FakePortBus ports = new FakePortBus();
    final AtomicInteger kicks = new AtomicInteger();

    @Override
    public String vmName() {
        return "test";
    }

    @Override
    public int vcpuCount() {
        return 2;
    }

    @Override
    public PortBus ports() {
        return ports;
    }

    @Override
    public MmioBus mmio() {
        throw new UnsupportedOperationException();
    }

    @Override
    public VmClock clock() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void kick(int vcpu) {
        if (vcpu != 0) {
            throw new AssertionError("the PIC only delivers to vCPU 0, kicked " + vcpu);
        }
        kicks.incrementAndGet();
    }
}
