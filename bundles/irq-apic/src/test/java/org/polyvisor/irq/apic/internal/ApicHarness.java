package org.polyvisor.irq.apic.internal;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.polyvisor.testing.FakeIrqChipContext;

/**
 * Drives a chip as guests on several vCPUs would: every access of vCPU n runs on a thread of its
 * own named as the core names vCPU threads, so the chip tells the vCPUs apart as in a VM.
 */
class ApicHarness implements AutoCloseable {

    static final long LAPIC = 0xFEE0_0000L;
    static final long IOAPIC = 0xFEC0_0000L;
    static final int ID = 0x20;
    static final int TPR = 0x80;
    static final int PPR = 0xA0;
    static final int EOI = 0xB0;
    static final int LDR = 0xD0;
    static final int DFR = 0xE0;
    static final int SVR = 0xF0;
    static final int ISR = 0x100;
    static final int TMR = 0x180;
    static final int IRR = 0x200;
    static final int ESR = 0x280;
    static final int ICR_LO = 0x300;
    static final int ICR_HI = 0x310;
    static final int LVT_TIMER = 0x320;
    static final int LVT_LINT0 = 0x350;
    static final int LVT_ERROR = 0x370;
    static final int TIMER_INIT = 0x380;
    static final int TIMER_CUR = 0x390;
    static final int TIMER_DIV = 0x3E0;

    final FakeIrqChipContext ctx;
    ApicChip chip;
    private final ExecutorService[] cpus;

    ApicHarness(int vcpus, ApicChip.Delivery delivery) {
        this(new FakeIrqChipContext(vcpus), delivery);
    }

    ApicHarness(FakeIrqChipContext ctx, ApicChip.Delivery delivery) {
        this.ctx = ctx;
        this.chip = new ApicChip(ctx, delivery);
        this.cpus = new ExecutorService[ctx.vcpuCount()];
        for (int i = 0; i < cpus.length; i++) {
            String name = "vcpu-" + i + "@test";
            cpus[i] = Executors.newSingleThreadExecutor(r -> new Thread(r, name));
        }
    }

    /** Replaces the chip with a new one of another delivery mode, carrying the state (a swap). */
    void swap(ApicChip.Delivery next) {
        var state = chip.saveState();
        chip.close();
        chip = new ApicChip(ctx, next);
        chip.restoreState(state);
    }

    <T> T on(int v, Callable<T> c) {
        Future<T> f = cpus[v].submit(c);
        try {
            return f.get();
        } catch (Exception e) {
            throw new AssertionError(e.getCause() == null ? e : e.getCause());
        }
    }

    void run(int v, Runnable r) {
        on(v, () -> {
            r.run();
            return null;
        });
    }

    int read(int v, int reg) {
        return on(v, () -> (int) ctx.mmio().read(LAPIC + reg, 4));
    }

    void write(int v, int reg, int value) {
        run(v, () -> ctx.mmio().write(LAPIC + reg, 4, value & 0xFFFF_FFFFL));
    }

    void enable(int v) {
        write(v, SVR, 0x1FF); // software enable, spurious vector 0xff
    }

    void ioWrite(int index, int value) {
        run(0, () -> {
            ctx.mmio().write(IOAPIC, 4, index);
            ctx.mmio().write(IOAPIC + 0x10, 4, value & 0xFFFF_FFFFL);
        });
    }

    int ioRead(int index) {
        return on(0, () -> {
            ctx.mmio().write(IOAPIC, 4, index);
            return (int) ctx.mmio().read(IOAPIC + 0x10, 4);
        });
    }

    /** Programs an IOAPIC pin: physical destination, fixed. */
    void route(int pin, int vector, int dest, boolean level, boolean masked) {
        ioWrite(0x11 + 2 * pin, dest << 24);
        ioWrite(0x10 + 2 * pin, vector | (level ? 1 << 15 : 0) | (masked ? 1 << 16 : 0));
    }

    boolean has(int v) {
        return on(v, () -> chip.source(v).hasInterrupt());
    }

    int ack(int v) {
        return on(v, () -> chip.source(v).acknowledge());
    }

    void eoi(int v) {
        write(v, EOI, 0);
    }

    /** Takes every deliverable interrupt of a vCPU with EOI, as a guest's handler loop would. */
    int drain(int v) {
        int n = 0;
        while (has(v)) {
            ack(v);
            eoi(v);
            n++;
        }
        return n;
    }

    long stat(String name) {
        return chip.stats().getOrDefault(name, 0L);
    }

    void outb(int port, int value) {
        run(0, () -> ctx.ports().write(port, 1, value));
    }

    int inb(int port) {
        return on(0, () -> ctx.ports().read(port, 1));
    }

    @Override
    public void close() {
        chip.close();
        for (ExecutorService e : cpus) {
            e.shutdownNow();
        }
    }
}
