package org.polyvisor.irq.apic.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.polyvisor.irq.apic.internal.ApicHarness.*;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.part.SavedState;

/** The IOAPIC, the local APICs and the 8259 pair behind them, against the SDM and datasheets. */
class ApicChipTest {

    private ApicHarness h;

    private ApicHarness make(int vcpus) {
        h = new ApicHarness(vcpus, ApicChip.Delivery.EMULATED);
        // As Linux does before it uses the IOAPIC: mask every 8259 input (its INTR would otherwise
        // reach the BSP through LINT0 ExtINT, which is unmasked at power-on).
        h.outb(0x21, 0xFF);
        h.outb(0xA1, 0xFF);
        return h;
    }

    @AfterEach
    void close() {
        if (h != null) {
            h.close();
        }
    }

    // ---- local APIC registers ---------------------------------------------------------------

    @Test
    void powerOnRegistersAsTheSdmSays() {
        make(2);
        assertEquals(0, h.read(0, ID));
        assertEquals(1 << 24, h.read(1, ID), "each vCPU sees its own APIC at the same address");
        assertEquals(0x0005_0014, h.read(0, 0x30));
        assertEquals(0xFF, h.read(0, SVR), "software disabled, spurious vector 0xff");
        assertEquals(0xFFFF_FFFF, h.read(0, DFR));
        assertEquals(0x0001_0000, h.read(0, LVT_TIMER), "LVTs masked");
        assertEquals(0x0000_0700, h.read(0, LVT_LINT0), "BSP LINT0 is ExtINT (virtual wire)");
        assertEquals(0x0001_0000, h.read(1, LVT_LINT0));
        assertEquals(0xFEE0_0000L | 1 << 11 | 1 << 8, h.on(0, () -> h.chip.readMsr(0, 0x1B, 0).value()));
        assertEquals(0xFEE0_0000L | 1 << 11, h.on(1, () -> h.chip.readMsr(1, 0x1B, 0).value()));
    }

    @Test
    void softwareDisableMasksLvtsAndKeepsThemMasked() {
        make(1);
        h.enable(0);
        h.write(0, LVT_TIMER, 0x40);
        assertEquals(0x40, h.read(0, LVT_TIMER));
        h.write(0, SVR, 0xFF);
        assertEquals(0x10040, h.read(0, LVT_TIMER));
        h.write(0, LVT_TIMER, 0x41);
        assertEquals(0x10041, h.read(0, LVT_TIMER), "10.4.7.2: masks cannot be cleared while disabled");
    }

    @Test
    void tprAndInServiceVectorsGiveThePpr() {
        make(1);
        h.enable(0);
        h.write(0, TPR, 0x35);
        assertEquals(0x35, h.read(0, PPR));
        h.run(0, () -> h.chip.writeMsr(0, 0x83F, 0x50, 0)); // not x2APIC: #GP, nothing sent
        assertFalse(h.has(0));
        h.route(1, 0x51, 0, false, false);
        h.chip.line(1).pulse();
        assertTrue(h.has(0));
        assertEquals(0x51, h.ack(0));
        assertEquals(0x50, h.read(0, PPR), "ISR class 5 above TPR class 3");
        assertEquals(1 << (0x51 - 0x40), h.read(0, ISR + 0x20));
        h.eoi(0);
        assertEquals(0x35, h.read(0, PPR));
        assertEquals(0, h.read(0, ISR + 0x20));
    }

    @Test
    void tprHoldsBackLowerClassesUntilLowered() {
        make(1);
        h.enable(0);
        h.route(3, 0x42, 0, false, false);
        h.write(0, TPR, 0x40);
        h.chip.line(3).pulse();
        assertFalse(h.has(0), "class 4 is not above TPR class 4");
        assertEquals(1 << 2, h.read(0, IRR + 0x20), "but it waits in IRR");
        h.write(0, TPR, 0x30);
        assertTrue(h.has(0));
        assertEquals(0x42, h.ack(0));
    }

    @Test
    void higherClassNestsAndEoiRetiresTheHighestFirst() {
        make(1);
        h.enable(0);
        h.route(3, 0x40, 0, false, false);
        h.route(4, 0x60, 0, false, false);
        h.chip.line(3).pulse();
        assertEquals(0x40, h.ack(0));
        h.chip.line(4).pulse();
        assertTrue(h.has(0), "0x60's class preempts 0x40's");
        assertEquals(0x60, h.ack(0));
        h.chip.line(3).pulse();
        assertFalse(h.has(0), "0x40 again is blocked by 0x60 in service");
        h.eoi(0); // retires 0x60
        assertFalse(h.has(0), "0x40 still in service blocks its own class");
        h.eoi(0);
        assertTrue(h.has(0));
        assertEquals(0x40, h.ack(0));
    }

    @Test
    void vanishedRequestGivesTheSpuriousVector() {
        make(1);
        h.write(0, SVR, 0x1EF);
        h.write(0, LVT_LINT0, 0x10700); // the 8259 route closed, as Linux does with the IOAPIC
        assertEquals(0xEF, h.ack(0));
        assertEquals(1, h.stat("spurious"));
    }

    @Test
    void illegalVectorsSetEsrAndRaiseTheErrorLvt() {
        make(1);
        h.enable(0);
        h.write(0, LVT_ERROR, 0xFE);
        h.write(0, ICR_LO, 0x4_0000 | 0x05); // self, fixed, vector 5
        h.write(0, ESR, 0);
        assertEquals(0x20, h.read(0, ESR), "send illegal vector; the message is not sent");
        assertTrue(h.has(0));
        assertEquals(0xFE, h.ack(0));
        h.eoi(0);
        h.route(1, 0x07, 0, false, false); // an IOAPIC message with an illegal vector
        h.chip.line(1).pulse();
        h.write(0, ESR, 0);
        assertEquals(0x40, h.read(0, ESR), "receive illegal vector");
        h.write(0, ESR, 0);
        assertEquals(0, h.read(0, ESR), "write-then-read: cleared by the next write");
    }

    // ---- IOAPIC ---------------------------------------------------------------------------------

    @Test
    void ioapicIdentityAndPowerOnMasks() {
        make(1);
        assertEquals(0x0017_0020, h.ioRead(1));
        h.ioWrite(0, 0x0F00_0000 | 0xFF);
        assertEquals(0x0F00_0000, h.ioRead(0));
        for (int pin = 0; pin < 24; pin++) {
            assertEquals(0x0001_0000, h.ioRead(0x10 + 2 * pin), "pin " + pin + " masked");
        }
    }

    @Test
    void edgePinDeliversOncePerEdge() {
        make(1);
        h.enable(0);
        h.route(4, 0x34, 0, false, false);
        h.chip.line(4).raise();
        assertTrue(h.has(0));
        h.chip.line(4).raise(); // no new edge
        assertEquals(0x34, h.ack(0));
        assertFalse(h.has(0));
        h.eoi(0);
        assertFalse(h.has(0));
        h.chip.line(4).lower();
        h.chip.line(4).raise();
        assertTrue(h.has(0));
        assertEquals(0x34, h.ack(0));
    }

    @Test
    void isaIrq0IsOnPin2AndTheOthersOnTheirOwnPin() {
        make(1);
        h.enable(0);
        h.route(2, 0x30, 0, false, false);
        h.route(0, 0x3F, 0, false, false);
        h.route(8, 0x38, 0, false, false);
        h.chip.line(0).pulse();
        assertEquals(0x30, h.ack(0));
        h.eoi(0);
        h.chip.line(8).pulse();
        assertEquals(0x38, h.ack(0));
    }

    /** KVM-style reinjection: PIT ticks that pile up while the vCPU is late are all delivered, one per EOI. */
    @Test
    void pitTicksThatFindTheirVectorPendingAreDeliveredAgainOnePerEoi() {
        make(1);
        h.enable(0);
        h.route(2, 0x30, 0, false, false);
        h.route(8, 0x38, 0, false, false);
        for (int i = 0; i < 5; i++) {
            h.chip.line(0).pulse(); // five timer ticks before the vCPU takes one
        }
        assertEquals(4, h.stat("pit-ticks-kept"));
        assertEquals(5, h.drain(0), "every tick reaches the guest");
        assertEquals(4, h.stat("pit-ticks-reinjected"));
        assertEquals(0, h.drain(0));
        // other edge lines still merge while requested, as the hardware's IRR does
        h.chip.line(8).pulse();
        h.chip.line(8).pulse();
        assertEquals(1, h.drain(0));
    }

    @Test
    void levelPinSetsRemoteIrrUntilEoiAndRedeliversWhileAsserted() {
        make(1);
        h.enable(0);
        h.route(10, 0x5A, 0, true, false);
        h.chip.line(10).raise();
        assertEquals(0x5A, h.ack(0));
        assertTrue((h.ioRead(0x10 + 20) & 1 << 14) != 0, "remote IRR");
        assertEquals(1 << (0x5A - 0x40), h.read(0, TMR + 0x20), "TMR marks the level vector");
        assertFalse(h.has(0));
        h.eoi(0); // broadcast EOI: remote IRR clears, line still high: delivered again
        assertTrue(h.has(0));
        assertEquals(0x5A, h.ack(0));
        h.chip.line(10).lower();
        h.eoi(0);
        assertEquals(0, h.ioRead(0x10 + 20) & 1 << 14);
        assertFalse(h.has(0));
    }

    @Test
    void ioapicEoiRegisterClearsRemoteIrr() {
        make(1);
        h.enable(0);
        h.route(11, 0x5B, 0, true, false);
        h.chip.line(11).raise();
        assertEquals(0x5B, h.ack(0));
        h.chip.line(11).lower();
        h.run(0, () -> h.ctx.mmio().write(IOAPIC + 0x40, 4, 0x5B));
        assertEquals(0, h.ioRead(0x10 + 22) & 1 << 14);
    }

    @Test
    void maskedEdgeIsHeldAndDeliveredOnUnmask() {
        make(1);
        h.enable(0);
        h.route(5, 0x35, 0, false, true);
        h.chip.line(5).pulse();
        assertFalse(h.has(0));
        h.route(5, 0x35, 0, false, false);
        assertTrue(h.has(0));
        assertEquals(0x35, h.ack(0));
    }

    @Test
    void redirectionToANonexistentApicIdIsDroppedAndCounted() {
        make(2);
        h.enable(0);
        h.enable(1);
        h.route(6, 0x36, 7, false, false);
        h.chip.line(6).pulse();
        assertFalse(h.has(0));
        assertFalse(h.has(1));
        assertEquals(1, h.stat("ioapic-undeliverable"));
        h.route(7, 0x37, 7, true, false);
        h.chip.line(7).raise();
        assertEquals(0, h.ioRead(0x10 + 14) & 1 << 14, "no remote IRR for a message nobody took");
    }

    @Test
    void logicalFlatAndClusterDestinations() {
        make(2);
        h.enable(0);
        h.enable(1);
        h.write(0, LDR, 0x01 << 24);
        h.write(1, LDR, 0x02 << 24);
        h.ioWrite(0x11 + 2 * 9, 0x02 << 24);
        h.ioWrite(0x10 + 2 * 9, 0x49 | 1 << 11);
        h.chip.line(9).pulse();
        assertFalse(h.has(0));
        assertEquals(0x49, h.ack(1));
        h.eoi(1);
        h.write(0, DFR, 0x0FFF_FFFF); // cluster model
        h.write(1, DFR, 0x0FFF_FFFF);
        h.write(0, LDR, 0x11 << 24);  // cluster 1, bit 0
        h.write(1, LDR, 0x21 << 24);  // cluster 2, bit 0
        h.ioWrite(0x11 + 2 * 9, 0x21 << 24);
        h.chip.line(9).pulse();
        assertFalse(h.has(0));
        assertTrue(h.has(1));
    }

    @Test
    void lowestPriorityPicksTheLowestTpr() {
        make(2);
        h.enable(0);
        h.enable(1);
        h.write(0, TPR, 0x20);
        h.route(12, 0x4C, 0xFF, false, false);
        h.ioWrite(0x10 + 24, 0x4C | 1 << 8); // lowest priority, broadcast destination
        h.chip.line(12).pulse();
        assertFalse(h.has(0));
        assertEquals(0x4C, h.ack(1));
    }

    // ---- 8259 pair and ExtINT --------------------------------------------------------------------

    private void initPic() {
        h.outb(0x20, 0x11);
        h.outb(0x21, 0x08);
        h.outb(0x21, 0x04);
        h.outb(0x21, 0x01);
        h.outb(0xA0, 0x11);
        h.outb(0xA1, 0x70);
        h.outb(0xA1, 0x02);
        h.outb(0xA1, 0x01);
        h.outb(0x21, 0x00);
        h.outb(0xA1, 0x00);
    }

    @Test
    void picReachesTheBspThroughLint0ExtIntAtPowerOn() {
        make(2);
        initPic();
        h.chip.line(0).pulse();
        assertTrue(h.has(0), "BIOS-style virtual wire: LINT0 ExtINT, APIC software disabled");
        assertFalse(h.has(1));
        assertEquals(0x08, h.ack(0));
        h.outb(0x20, 0x20);
        h.chip.line(14).pulse();
        assertEquals(0x76, h.ack(0), "slave through the cascade");
        assertEquals(1, h.stat("delivered-extint") - 1);
    }

    @Test
    void picReachesTheBspThroughIoapicPin0ExtIntWhenLint0IsMasked() {
        make(1);
        h.enable(0);
        initPic();
        h.write(0, LVT_LINT0, 0x10700);
        h.chip.line(1).pulse();
        assertFalse(h.has(0));
        h.ioWrite(0x11, 0);
        h.ioWrite(0x10, 0x700); // pin 0 ExtINT, unmasked, to APIC 0
        assertTrue(h.has(0));
        assertEquals(0x09, h.ack(0));
    }

    @Test
    void picWorksWithTheApicHardwareDisabled() {
        make(1);
        h.run(0, () -> assertFalse(h.chip.writeMsr(0, 0x1B, 0xFEE0_0000L | 1 << 8, 0).fault()));
        initPic();
        h.chip.line(4).pulse();
        assertEquals(0x0C, h.ack(0));
        assertEquals(0xFFFF_FFFF, h.read(0, ID), "the xAPIC page is not decoded");
    }

    @Test
    void elcrAndPollAndSpuriousIrq7() {
        make(1);
        initPic();
        h.outb(0x4D1, 0xFF);
        assertEquals(0xDE, h.inb(0x4D1), "IRQ 8 and 13 are edge only");
        h.chip.line(3).pulse();
        h.outb(0x20, 0x0C); // poll
        assertEquals(0x83, h.inb(0x20));
        h.outb(0x20, 0x20);
        h.chip.line(5).raise();
        h.outb(0x21, 0x20); // masked before the INTA
        assertEquals(0x0F, h.ack(0), "spurious IRQ 7");
        assertEquals(1, h.stat("spurious-irq7"));
    }

    @Test
    void takesOverAPicStrategyState() {
        make(1);
        SavedState pic = SavedState.builder("i8259-pair", 1)
                .put("master.irr", 0x10).put("master.isr", 0).put("master.imr", 0).put("master.lines", 0x10)
                .put("master.elcr", 0).put("master.icw1", 0x11).put("master.vector-base", 0x20).put("master.icw3", 4)
                .put("master.icw4", 1).put("master.init-step", 0).put("master.priority-add", 0)
                .put("master.read-isr", false).put("master.poll", false).put("master.special-mask", false)
                .put("master.rotate-on-aeoi", false)
                .put("slave.irr", 0).put("slave.isr", 0).put("slave.imr", 0).put("slave.lines", 0)
                .put("slave.elcr", 0).put("slave.icw1", 0x11).put("slave.vector-base", 0x28).put("slave.icw3", 2)
                .put("slave.icw4", 1).put("slave.init-step", 0).put("slave.priority-add", 0)
                .put("slave.read-isr", false).put("slave.poll", false).put("slave.special-mask", false)
                .put("slave.rotate-on-aeoi", false).put("device-levels", 0x10).build();
        h.chip.restoreState(pic);
        assertEquals(0x24, h.ack(0));
    }

    // ---- IPIs, INIT/SIPI, NMI -------------------------------------------------------------------

    @Test
    void fixedIpiReachesTheOtherVcpuAndKicksIt() {
        make(2);
        h.enable(0);
        h.enable(1);
        int before = h.ctx.kicks(1);
        h.write(0, ICR_HI, 1 << 24);
        h.write(0, ICR_LO, 0x40F1); // fixed, assert, vector 0xf1
        assertEquals(0xF1, h.read(0, ICR_LO) & 0xFF);
        assertEquals(0, h.read(0, ICR_LO) & 1 << 12, "delivery status idle");
        assertTrue(h.has(1));
        assertEquals(before + 1, h.ctx.kicks(1));
        assertEquals(0xF1, h.ack(1));
    }

    @Test
    void shorthandsSelfAllAndAllButSelf() {
        make(3);
        for (int v = 0; v < 3; v++) {
            h.enable(v);
        }
        h.write(1, ICR_LO, 0xC_0000 | 0x80); // all excluding self
        assertTrue(h.has(0));
        assertFalse(h.has(1));
        assertTrue(h.has(2));
        h.write(1, ICR_LO, 0x4_0000 | 0x81); // self
        assertTrue(h.has(1));
        h.write(1, ICR_LO, 0x8_0000 | 0x82); // all including self
        assertEquals(0x82, h.ack(1));
        assertEquals(0x82, h.ack(0));
        assertEquals(0x82, h.ack(2));
    }

    @Test
    void initSipiBringsUpAnApplicationProcessor() {
        make(2);
        h.enable(0);
        h.write(1, SVR, 0x1FF);
        h.write(1, TPR, 0x20);
        var ap = h.chip.source(1);
        // An AP waits for SIPI from power-on; a SIPI before INIT is still accepted then.
        h.write(0, ICR_HI, 1 << 24);
        h.write(0, ICR_LO, 0x4500);          // INIT, assert
        h.write(0, ICR_LO, 0x8500);          // INIT level de-assert: ignored
        assertEquals(0, h.read(1, TPR), "INIT resets the APIC registers");
        assertEquals(1 << 24, h.read(1, ID), "but not the ID");
        assertEquals(-2, h.on(1, () -> ((ApicChip.VcpuPort) ap).takeStartupEvent()));
        h.write(0, ICR_LO, 0x4600 | 0x9A);   // SIPI, vector 0x9a -> CS 0x9a00
        h.write(0, ICR_LO, 0x4600 | 0x9B);   // a second SIPI is ignored once started
        assertEquals(0x9A, h.on(1, () -> ((ApicChip.VcpuPort) ap).takeStartupEvent()));
        assertEquals(-1, h.on(1, () -> ((ApicChip.VcpuPort) ap).takeStartupEvent()));
        assertEquals(1, h.stat("sipi-ignored"));
        assertEquals(1, h.stat("init-deassert"));
    }

    @Test
    void startupEventsAndMsrsThroughTheInterruptSourceApi() {
        make(2);
        h.enable(0);
        org.polyvisor.irq.InterruptSource ap = h.chip.source(1);
        assertTrue(ap.ownsMsr(0x1B) && ap.ownsMsr(0x6E0) && ap.ownsMsr(0x800) && ap.ownsMsr(0x8FF));
        assertFalse(ap.ownsMsr(0x10) || ap.ownsMsr(0x900));
        assertEquals(0xFEE0_0000L | 1 << 11, h.on(1, () -> ap.readMsr(0x1B, 1234).getAsLong()));
        assertTrue(h.on(1, () -> ap.readMsr(0x802, 0).isEmpty()), "x2APIC MSR in xAPIC mode: #GP");
        assertFalse(h.on(1, () -> ap.writeMsr(0x1B, 1L << 10, 0)), "EXTD without EN: #GP");
        assertFalse(ap.hasStartupEvent());
        int kicks = h.ctx.kicks(1);
        h.write(0, ICR_HI, 1 << 24);
        h.write(0, ICR_LO, 0x4500); // INIT
        assertTrue(h.ctx.kicks(1) > kicks, "INIT kicks the target so a halted vCPU wakes");
        assertTrue(ap.hasStartupEvent());
        assertEquals(org.polyvisor.irq.InterruptSource.INIT, h.on(1, ap::takeStartupEvent));
        assertFalse(ap.hasStartupEvent());
        kicks = h.ctx.kicks(1);
        h.write(0, ICR_LO, 0x4600 | 0x12); // SIPI
        assertTrue(h.ctx.kicks(1) > kicks, "SIPI kicks the target");
        assertTrue(ap.hasStartupEvent());
        assertEquals(0x12, h.on(1, ap::takeStartupEvent));
        assertEquals(org.polyvisor.irq.InterruptSource.NO_STARTUP, h.on(1, ap::takeStartupEvent));
    }

    @Test
    void nmiIpiIsTakenOnce() {
        make(2);
        h.enable(0);
        h.write(0, ICR_HI, 1 << 24);
        h.write(0, ICR_LO, 0x400);
        assertTrue(h.on(1, () -> h.chip.source(1).takeNmi()));
        assertFalse(h.on(1, () -> h.chip.source(1).takeNmi()));
    }

    // ---- x2APIC ---------------------------------------------------------------------------------

    @Test
    void x2apicMsrInterface() {
        make(2);
        long base = 0xFEE0_0000L | 1 << 11;
        assertTrue(h.on(1, () -> h.chip.writeMsr(1, 0x1B, base | 1 << 10 & 0, 0)).fault() == false);
        assertTrue(h.on(1, () -> h.chip.readMsr(1, 0x802, 0)).fault(), "x2APIC MSRs fault in xAPIC mode");
        assertTrue(h.on(1, () -> h.chip.writeMsr(1, 0x1B, 1L << 10, 0)).fault(), "EXTD without EN");
        assertFalse(h.on(1, () -> h.chip.writeMsr(1, 0x1B, base | 1 << 10, 0)).fault());
        assertEquals(1, h.on(1, () -> h.chip.readMsr(1, 0x802, 0)).value(), "32-bit x2APIC ID");
        assertEquals(1 << 1, h.on(1, () -> h.chip.readMsr(1, 0x80D, 0)).value(), "derived LDR");
        assertTrue(h.on(1, () -> h.chip.writeMsr(1, 0x1B, base, 0)).fault(), "x2APIC -> xAPIC directly");
        assertTrue(h.on(1, () -> h.chip.writeMsr(1, 0x802, 5, 0)).fault(), "ID is read-only");
        assertTrue(h.on(1, () -> h.chip.readMsr(1, 0x80B, 0)).fault(), "EOI is write-only");
        assertTrue(h.on(1, () -> h.chip.writeMsr(1, 0x80B, 1, 0)).fault(), "non-zero EOI");
        assertEquals(0xFFFF_FFFFL, h.read(1, ID) & 0xFFFF_FFFFL, "no MMIO in x2APIC mode");
        assertFalse(h.on(1, () -> h.chip.writeMsr(1, 0x80F, 0x1FF, 0)).fault());
        assertFalse(h.on(1, () -> h.chip.writeMsr(1, 0x83F, 0x66, 0)).fault(), "SELF IPI");
        assertEquals(0x66, h.ack(1));
        assertFalse(h.on(1, () -> h.chip.writeMsr(1, 0x80B, 0, 0)).fault());
        h.enable(0);
        // 64-bit ICR: fixed 0x77 to x2APIC ID 0 (vCPU 0 is xAPIC; physical ID 0 matches).
        assertFalse(h.on(1, () -> h.chip.writeMsr(1, 0x830, 0x77, 0)).fault());
        assertEquals(0x77, h.ack(0));
        assertEquals(0x77, h.on(1, () -> h.chip.readMsr(1, 0x830, 0)).value());
    }

    // ---- robustness ------------------------------------------------------------------------------

    @Test
    void randomGuestWritesNeverThrow() {
        make(2);
        Random r = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            int v = r.nextInt(2);
            long off = r.nextInt(0x1000);
            int size = 1 << r.nextInt(4);
            long value = r.nextLong();
            switch (r.nextInt(5)) {
                case 0 -> h.run(v, () -> h.ctx.mmio().write(LAPIC + off, size, value));
                case 1 -> h.run(v, () -> h.ctx.mmio().write(IOAPIC + (off & 0x4F), size, value));
                case 2 -> h.run(v, () -> h.ctx.ports().write(0x20 + (r.nextBoolean() ? 0x80 : 0) + (int) (off & 1), 1,
                        (int) value));
                case 3 -> h.chip.line(r.nextInt(24)).set(r.nextBoolean());
                default -> {
                    if (h.has(v)) {
                        h.ack(v);
                    }
                    h.run(v, () -> h.chip.writeMsr(v, 0x800 + r.nextInt(0x100), value, 0));
                }
            }
            h.ctx.clock().advance(r.nextInt(1000));
        }
        SavedState s = h.chip.saveState();
        h.chip.restoreState(s);
        assertEquals(s, h.chip.saveState());
    }

    @Test
    void restoreRejectsAnotherVcpuCount() {
        make(2);
        SavedState s = h.chip.saveState();
        try (ApicHarness one = new ApicHarness(1, ApicChip.Delivery.EMULATED)) {
            assertThrows(IllegalArgumentException.class, () -> one.chip.restoreState(s));
        }
    }
}
