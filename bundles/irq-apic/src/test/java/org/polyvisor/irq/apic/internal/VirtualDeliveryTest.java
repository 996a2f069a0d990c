package org.polyvisor.irq.apic.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.polyvisor.irq.apic.internal.ApicHarness.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.polyvisor.part.SavedState;

/**
 * Virtual interrupt delivery (APICv/AVIC-style) against emulated delivery: same guest-visible
 * behaviour, fewer exits, and a swap between the two in either direction at any point loses and
 * repeats nothing.
 */
class VirtualDeliveryTest {

    /**
     * The workload: a periodic APIC timer at 1 us with a handler that writes TPR up and back (as
     * Windows and Linux's lazy TPR do), reads ISR and EOIs; plus 50 edge interrupts from an IOAPIC
     * pin raised by a device thread and a level interrupt every 10 ticks.
     */
    private static Map<String, Long> runWorkload(ApicChip.Delivery mode, int ticks) {
        try (ApicHarness h = new ApicHarness(1, mode)) {
            h.outb(0x21, 0xFF);
            h.outb(0xA1, 0xFF);
            h.enable(0);
            h.route(4, 0x34, 0, false, false);
            h.route(10, 0x5A, 0, true, false);
            h.write(0, TIMER_DIV, 0xB);
            h.write(0, LVT_TIMER, 0x2_0040);
            h.write(0, TIMER_INIT, 1000);
            int handled = 0;
            int levels = 0;
            for (int i = 0; i < ticks; i++) {
                h.run(0, () -> h.ctx.clock().advance(1000)); // timers run on the vCPU's own thread
                if (i % 20 == 0) {
                    h.chip.line(4).pulse(); // from this (non-vCPU) thread: a device
                }
                if (i % 10 == 0) {
                    h.chip.line(10).raise();
                }
                while (h.has(0)) {
                    int v = h.ack(0);
                    h.write(0, TPR, 0x20);
                    h.read(0, ISR + 0x20);
                    h.write(0, TPR, 0);
                    if (v == 0x5A) {
                        h.chip.line(10).lower(); // the handler quiets the device before EOI
                        levels++;
                    }
                    h.eoi(0);
                    handled++;
                }
            }
            assertEquals(ticks + ticks / 20 + ticks / 10, handled, "every interrupt handled exactly once");
            assertEquals(ticks / 10, levels);
            return h.chip.stats();
        }
    }

    /**
     * A self IPI sent with interrupts disabled is pending in IRR at once in both modes (found by
     * guests/pctest/ipi.c: in virtual mode it stayed in the posted requests, invisible to an IRR
     * read, until the vCPU next polled for an interrupt).
     */
    @Test
    void postedSelfIpiIsVisibleInIrrBeforeItIsTaken() {
        for (ApicChip.Delivery mode : ApicChip.Delivery.values()) {
            try (ApicHarness h = new ApicHarness(1, mode)) {
                h.enable(0);
                h.write(0, ICR_LO, 1 << 18 | 0x52); // shorthand self, fixed, vector 0x52
                assertEquals(1 << (0x52 - 0x40), h.read(0, IRR + 0x20), mode + ": IRR bit of vector 0x52");
                assertEquals(0, h.read(0, TMR + 0x20), mode + ": edge-triggered");
                assertTrue(h.has(0), mode.name());
                assertEquals(0x52, h.ack(0), mode.name());
                assertEquals(0, h.read(0, IRR + 0x20), mode + ": IRR clear once acknowledged");
            }
        }
    }

    @Test
    void virtualDeliverySavesExitsOnTheSameWorkload() {
        int ticks = 1000;
        Map<String, Long> emulated = runWorkload(ApicChip.Delivery.EMULATED, ticks);
        Map<String, Long> virtual = runWorkload(ApicChip.Delivery.VIRTUAL, ticks);
        System.out.println("emulated: " + emulated);
        System.out.println("virtual:  " + virtual);
        long e = emulated.get("modelled-exits");
        long v = virtual.get("modelled-exits");
        // Emulated: every interrupt that finds the vCPU with nothing pending kicks it (the timer
        // each tick; device interrupts arrive while the tick is pending) and all 4 APIC accesses
        // of each handler run (plus 4 set-up writes) trap.
        assertEquals(1000L, emulated.get("kicks"));
        assertEquals(4 * 1150L + 4, emulated.get("apic-access-exits"));
        assertEquals(1150L, emulated.get("eoi-exits"));
        // Virtual: the timer interrupt raised on the vCPU's own thread needs no kick; device edges
        // from another thread are posted and still notify (kick: the target may be halted; see
        // the proposed IrqChipContext.wake); EOI of edge vectors, TPR writes and ISR reads are
        // virtualised; level EOIs still exit (EOI-exit bitmap).
        assertEquals(50L, virtual.get("posted"));
        assertEquals(50L, virtual.get("kicks"));
        assertEquals(100L, virtual.get("eoi-exits"));
        assertEquals(1050L, virtual.get("eoi-virtualized"));
        assertEquals(4 + 100L, virtual.get("apic-access-exits"));
        assertTrue(v * 10 < e, "virtual " + v + " vs emulated " + e);
    }

    /** Runs the same random guest on two chips: one never swapped, one swapped at random. */
    @Test
    void swappingModesUnderTimerLoadLosesAndRepeatsNothing() {
        Random r = new Random(7);
        try (ApicHarness ref = new ApicHarness(2, ApicChip.Delivery.EMULATED);
             ApicHarness sub = new ApicHarness(2, ApicChip.Delivery.VIRTUAL)) {
            List<ApicHarness> both = List.of(ref, sub);
            for (ApicHarness h : both) {
                h.outb(0x21, 0xFF);
                h.outb(0xA1, 0xFF);
                h.enable(0);
                h.enable(1);
                h.route(4, 0x34, 1, false, false);
                h.write(0, TIMER_DIV, 0xB);
                h.write(0, LVT_TIMER, 0x2_0040);
                h.write(0, TIMER_INIT, 700);
                h.write(1, TIMER_DIV, 0xB);
                h.write(1, LVT_TIMER, 0x2_0041);
                h.write(1, TIMER_INIT, 1100);
            }
            List<Integer> refVectors = new ArrayList<>();
            List<Integer> subVectors = new ArrayList<>();
            int swaps = 0;
            for (int step = 0; step < 3000; step++) {
                long dt = r.nextInt(900);
                int cpu = r.nextInt(2);
                boolean take = r.nextInt(3) != 0;
                boolean device = r.nextInt(10) == 0;
                boolean ipi = r.nextInt(12) == 0;
                for (ApicHarness h : both) {
                    h.run(cpu, () -> h.ctx.clock().advance(dt));
                    if (device) {
                        h.chip.line(4).pulse();
                    }
                    if (ipi) {
                        h.write(cpu, ICR_HI, (1 - cpu) << 24);
                        h.write(cpu, ICR_LO, 0x4000 | 0x90);
                    }
                }
                if (r.nextInt(5) == 0) {
                    sub.swap(sub.chip.delivery() == ApicChip.Delivery.VIRTUAL
                            ? ApicChip.Delivery.EMULATED : ApicChip.Delivery.VIRTUAL);
                    swaps++;
                }
                if (take) {
                    for (int v = 0; v < 2; v++) {
                        boolean a = ref.has(v);
                        boolean b = sub.has(v);
                        assertEquals(a, b, "step " + step + " vcpu " + v + " pending");
                        if (a) {
                            refVectors.add(v << 8 | ref.ack(v));
                            subVectors.add(v << 8 | sub.ack(v));
                            ref.eoi(v);
                            sub.eoi(v);
                        }
                    }
                }
            }
            for (int v = 0; v < 2; v++) {
                refVectors.add(-1);
                subVectors.add(-1);
                while (ref.has(v)) {
                    refVectors.add(v << 8 | ref.ack(v));
                    ref.eoi(v);
                }
                while (sub.has(v)) {
                    subVectors.add(v << 8 | sub.ack(v));
                    sub.eoi(v);
                }
            }
            assertTrue(swaps > 400, "swapped " + swaps + " times");
            assertTrue(refVectors.size() > 1000, "delivered " + refVectors.size());
            assertEquals(refVectors, subVectors);
            SavedState a = ref.chip.saveState();
            SavedState b = sub.chip.saveState();
            assertEquals(a, b, "identical architectural state after " + swaps + " swaps");
        }
    }

    @Test
    void aPostedInterruptNotYetSyncedSurvivesASwapOnce() {
        try (ApicHarness h = new ApicHarness(1, ApicChip.Delivery.VIRTUAL)) {
            h.outb(0x21, 0xFF);
            h.outb(0xA1, 0xFF);
            h.enable(0);
            h.route(4, 0x34, 0, false, false);
            h.write(0, TIMER_DIV, 0xB);
            h.write(0, LVT_TIMER, 0x2_0040);
            h.write(0, TIMER_INIT, 100_000);
            h.chip.line(4).pulse(); // a device thread posts; the vCPU has not looked yet
            assertEquals(1, h.stat("posted"));
            h.swap(ApicChip.Delivery.EMULATED);
            assertEquals(0x34, h.ack(0));
            h.eoi(0);
            assertEquals(0, h.drain(0), "delivered once");
            h.swap(ApicChip.Delivery.VIRTUAL);
            assertEquals(1, h.ctx.clock().pending(), "one periodic timer, the old chips' timers are gone");
            h.run(0, () -> h.ctx.clock().advance(100_000));
            assertEquals(1, h.drain(0));
        }
    }
}
