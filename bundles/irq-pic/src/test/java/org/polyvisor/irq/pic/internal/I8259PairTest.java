package org.polyvisor.irq.pic.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeIrqChipContext;

/** The PIC pair driven through its ports the way Linux and a BIOS drive it. */
class I8259PairTest {

    private static final int MASTER_CMD = 0x20;
    private static final int MASTER_IMR = 0x21;
    private static final int SLAVE_CMD = 0xA0;
    private static final int SLAVE_IMR = 0xA1;
    private static final int ELCR1 = 0x4D0;
    private static final int ELCR2 = 0x4D1;

    private final FakeIrqChipContext ctx = new FakeIrqChipContext(2).kickingOnly(0);
    private IrqChip pic = new PicStrategy().create(ctx);
    private InterruptSource cpu = pic.source(0);

    private void outb(int port, int value) {
        ctx.ports().write(port, 1, value);
    }

    private int inb(int port) {
        return ctx.ports().read(port, 1);
    }

    /** Linux's init_8259A(0) (arch/x86/kernel/i8259.c), with the classic vector base 0x20. */
    private void linuxInit(boolean autoEoi) {
        outb(MASTER_IMR, 0xFF);
        outb(SLAVE_IMR, 0xFF);
        outb(MASTER_CMD, 0x11);          // ICW1: edge, cascade, ICW4 follows
        outb(MASTER_IMR, 0x20);          // ICW2: IRQ0-7 at vectors 0x20-0x27
        outb(MASTER_IMR, 0x04);          // ICW3: slave on IR2
        outb(MASTER_IMR, autoEoi ? 0x03 : 0x01); // ICW4: 8086 mode (+AEOI)
        outb(SLAVE_CMD, 0x11);
        outb(SLAVE_IMR, 0x28);           // IRQ8-15 at 0x28-0x2f
        outb(SLAVE_IMR, 0x02);           // cascade identity 2
        outb(SLAVE_IMR, 0x01);
        outb(MASTER_IMR, 0x00);          // unmask everything (tests mask what they need)
        outb(SLAVE_IMR, 0x00);
    }

    /** Linux's mask_and_ack_8259A EOIs: specific EOI to the slave, then to the master's IR2. */
    private void eoi(int irq) {
        if (irq >= 8) {
            outb(SLAVE_CMD, 0x60 | (irq & 7));
            outb(MASTER_CMD, 0x62);
        } else {
            outb(MASTER_CMD, 0x60 | irq);
        }
    }

    private int isr(int cmdPort) {
        outb(cmdPort, 0x0B);
        int v = inb(cmdPort);
        outb(cmdPort, 0x0A);
        return v;
    }

    private int irr(int cmdPort) {
        outb(cmdPort, 0x0A);
        return inb(cmdPort);
    }

    @Test
    void linuxInitThenIrq4GivesVector0x24() {
        linuxInit(false);
        assertFalse(cpu.hasInterrupt());
        pic.line(4).raise();
        assertTrue(cpu.hasInterrupt());
        assertEquals(1, ctx.kicks(0));
        assertEquals(0x10, irr(MASTER_CMD));
        assertEquals(0x24, cpu.acknowledge());
        assertFalse(cpu.hasInterrupt());
        assertEquals(0x10, isr(MASTER_CMD));
        assertEquals(0x00, irr(MASTER_CMD) & 0x10); // edge request taken by INTA
        pic.line(4).lower();
        eoi(4);
        assertEquals(0, isr(MASTER_CMD));
        assertEquals(1L, pic.stats().get("delivered"));
        assertEquals(1L, pic.stats().get("raised-irq4"));
    }

    @Test
    void maskingHoldsTheRequest() {
        linuxInit(false);
        outb(MASTER_IMR, 0x10);
        assertEquals(0x10, inb(MASTER_IMR));
        pic.line(4).pulse();
        assertFalse(cpu.hasInterrupt());
        assertEquals(0, ctx.kicks(0));
        outb(MASTER_IMR, 0x00);                  // unmasking delivers the latched edge
        assertTrue(cpu.hasInterrupt());
        assertEquals(1, ctx.kicks(0));
        assertEquals(0x24, cpu.acknowledge());

        outb(MASTER_IMR, 0x04);                  // masking the cascade hides the whole slave
        pic.line(12).pulse();
        assertFalse(cpu.hasInterrupt());
        outb(SLAVE_IMR, 0x10);                   // masked on the slave after the master saw IR2
        outb(MASTER_IMR, 0x00);
        assertTrue(cpu.hasInterrupt());          // the master's IR2 edge stayed latched...
        assertEquals(0x2F, cpu.acknowledge());   // ... and the slave has nothing: spurious IRQ15
        outb(MASTER_CMD, 0x62);
        outb(SLAVE_IMR, 0x00);                   // unmasking gives the slave's INT a new edge
        assertTrue(cpu.hasInterrupt());
        assertEquals(0x2C, cpu.acknowledge());
        assertEquals(1L, pic.stats().get("spurious-irq15"));
    }

    @Test
    void priorityBetweenIrqs() {
        linuxInit(false);
        pic.line(5).pulse();
        pic.line(3).pulse();
        assertEquals(0x23, cpu.acknowledge());   // lower number first
        assertFalse(cpu.hasInterrupt());         // 5 waits behind 3 in service
        pic.line(1).pulse();
        assertTrue(cpu.hasInterrupt());          // 1 preempts 3 (fully nested)
        assertEquals(0x21, cpu.acknowledge());
        assertEquals(0x0A, isr(MASTER_CMD));
        outb(MASTER_CMD, 0x20);                  // non-specific EOI ends the highest: 1
        assertEquals(0x08, isr(MASTER_CMD));
        assertFalse(cpu.hasInterrupt());
        outb(MASTER_CMD, 0x20);                  // ... then 3
        assertTrue(cpu.hasInterrupt());
        assertEquals(0x25, cpu.acknowledge());
    }

    @Test
    void cascadeDeliversSlaveIrqsThroughIr2() {
        linuxInit(false);
        pic.line(12).raise();
        assertTrue(cpu.hasInterrupt());
        assertEquals(0x10, irr(SLAVE_CMD));
        assertEquals(0x04, irr(MASTER_CMD));
        assertEquals(0x2C, cpu.acknowledge());
        assertEquals(0x04, isr(MASTER_CMD));
        assertEquals(0x10, isr(SLAVE_CMD));
        pic.line(12).lower();
        eoi(12);
        assertEquals(0, isr(MASTER_CMD));
        assertEquals(0, isr(SLAVE_CMD));

        // Slave IRQs sit between IRQ1 and IRQ3 in priority.
        pic.line(3).pulse();
        pic.line(9).pulse();
        assertEquals(0x29, cpu.acknowledge());
        eoi(9);
        assertEquals(0x23, cpu.acknowledge());
        eoi(3);
        pic.line(1).pulse();
        pic.line(8).pulse();
        assertEquals(0x21, cpu.acknowledge());
        eoi(1);
        assertEquals(0x28, cpu.acknowledge());
        eoi(8);
        assertFalse(cpu.hasInterrupt());

        // Two slave requests: the second comes after the first's EOI, through a new IR2 edge.
        pic.line(14).pulse();
        pic.line(15).pulse();
        assertEquals(0x2E, cpu.acknowledge());
        assertFalse(cpu.hasInterrupt());
        eoi(14);
        assertTrue(cpu.hasInterrupt());
        assertEquals(0x2F, cpu.acknowledge());
        eoi(15);
        assertEquals(0L, pic.stats().get("spurious-irq15"));
    }

    @Test
    void specificAndNonSpecificEoi() {
        linuxInit(false);
        pic.line(0).pulse();
        assertEquals(0x20, cpu.acknowledge());
        pic.line(6).pulse();
        outb(MASTER_CMD, 0x66);                  // specific EOI for a level not in service
        assertEquals(0x01, isr(MASTER_CMD));
        assertFalse(cpu.hasInterrupt());
        outb(MASTER_CMD, 0x60);
        assertEquals(0x26, cpu.acknowledge());
        outb(MASTER_CMD, 0x20);
        assertEquals(0, isr(MASTER_CMD));
        outb(MASTER_CMD, 0x20);                  // EOI with nothing in service is harmless
        assertEquals(0, isr(MASTER_CMD));
    }

    @Test
    void levelTriggeredLinesReassertUntilLowered() {
        linuxInit(false);
        outb(ELCR2, 0x04);                       // IRQ10 level triggered (a PCI line)
        assertEquals(0x04, inb(ELCR2));
        outb(ELCR1, 0xFF);
        assertEquals(0xF8, inb(ELCR1));          // IRQ0-2 cannot be level
        outb(ELCR1, 0x00);
        outb(ELCR2, 0xFF);
        assertEquals(0xDE, inb(ELCR2));          // nor IRQ8 and IRQ13
        assertEquals(0xDE00, ctx.ports().read(ELCR1, 2));
        ctx.ports().write(ELCR1, 2, 0x0400);

        pic.line(10).raise();
        assertEquals(0x2A, cpu.acknowledge());
        eoi(10);
        assertTrue(cpu.hasInterrupt());          // still high: requests again
        assertEquals(0x2A, cpu.acknowledge());
        outb(SLAVE_IMR, 0x04);                   // Linux's mask_and_ack_8259A: mask, then EOI
        eoi(10);
        pic.line(10).lower();                    // device serviced
        outb(SLAVE_IMR, 0x00);
        assertFalse(cpu.hasInterrupt());
        assertEquals(0, irr(SLAVE_CMD));

        // Level request withdrawn between hasInterrupt() and INTA: spurious IRQ15.
        pic.line(10).raise();
        assertTrue(cpu.hasInterrupt());
        pic.line(10).lower();
        assertEquals(0x2F, cpu.acknowledge());
        assertEquals(0, isr(SLAVE_CMD));         // no ISR bit on the slave
        assertEquals(0x04, isr(MASTER_CMD));     // the master did acknowledge IR2
        outb(MASTER_CMD, 0x62);                  // what Linux sends for a spurious IRQ15
        assertEquals(1L, pic.stats().get("spurious-irq15"));
    }

    @Test
    void ltimMakesAllInputsLevelTriggered() {
        outb(MASTER_CMD, 0x19);                  // ICW1 with LTIM
        outb(MASTER_IMR, 0x08);
        outb(MASTER_IMR, 0x04);
        outb(MASTER_IMR, 0x01);
        pic.line(1).raise();
        assertEquals(0x09, cpu.acknowledge());
        outb(MASTER_CMD, 0x20);
        assertEquals(0x09, cpu.acknowledge());
        pic.line(1).lower();
        outb(MASTER_CMD, 0x20);
        assertFalse(cpu.hasInterrupt());
    }

    @Test
    void spuriousIrq7WhenTheRequestVanishes() {
        linuxInit(false);
        outb(ELCR1, 0x20);                       // IRQ5 level triggered
        pic.line(5).raise();
        assertTrue(cpu.hasInterrupt());
        pic.line(5).lower();
        assertFalse(cpu.hasInterrupt());
        assertEquals(0x27, cpu.acknowledge());   // the engine had already decided to take it
        assertEquals(0, isr(MASTER_CMD));        // spurious: no ISR bit
        assertEquals(1L, pic.stats().get("spurious-irq7"));
        assertEquals(0L, pic.stats().get("delivered"));

        // Masked after the decision: also spurious.
        pic.line(3).pulse();
        outb(MASTER_IMR, 0x08);
        assertEquals(0x27, cpu.acknowledge());
        outb(MASTER_IMR, 0x00);
        assertEquals(0x23, cpu.acknowledge());   // the edge is still latched
    }

    @Test
    void edgeInputsLatchRisingEdgesOnly() {
        linuxInit(false);
        pic.line(1).raise();
        assertEquals(0x21, cpu.acknowledge());
        eoi(1);
        pic.line(1).raise();                     // still high: no new edge
        assertFalse(cpu.hasInterrupt());
        pic.line(1).lower();
        pic.line(1).raise();
        assertTrue(cpu.hasInterrupt());
        pic.line(1).lower();                     // an edge stays latched after the line drops
        assertTrue(cpu.hasInterrupt());
        assertEquals(0x21, cpu.acknowledge());
        assertEquals(2L, pic.stats().get("raised-irq1"));
    }

    @Test
    void reinitialisationResetsEdgeSenseAndMask() {
        linuxInit(false);
        outb(MASTER_IMR, 0xAA);
        pic.line(4).raise();
        assertEquals(0x24, cpu.acknowledge());
        outb(MASTER_CMD, 0x11);                  // ICW1 again
        assertEquals(0x00, inb(MASTER_IMR));     // IMR cleared
        outb(MASTER_IMR, 0x40);                  // ICW2: new base 0x40
        outb(MASTER_IMR, 0x04);
        outb(MASTER_IMR, 0x01);
        assertEquals(0x00, inb(MASTER_IMR));     // the ICWs did not land in IMR
        assertEquals(0, isr(MASTER_CMD));
        assertFalse(cpu.hasInterrupt());         // line 4 is high but needs a new edge
        pic.line(4).lower();
        pic.line(4).raise();
        assertEquals(0x44, cpu.acknowledge());
    }

    @Test
    void autoEoi() {
        linuxInit(true);
        pic.line(3).pulse();
        assertEquals(0x23, cpu.acknowledge());
        assertEquals(0, isr(MASTER_CMD));        // no ISR bit in automatic EOI
        pic.line(5).pulse();
        assertEquals(0x25, cpu.acknowledge());   // not blocked: 3 is not in service

        // Several slave requests with the slave in AEOI too (Linux leaves the slave out): each
        // gets through without an EOI.
        outb(SLAVE_CMD, 0x11);
        outb(SLAVE_IMR, 0x28);
        outb(SLAVE_IMR, 0x02);
        outb(SLAVE_IMR, 0x03);
        pic.line(9).pulse();
        pic.line(11).pulse();
        assertEquals(0x29, cpu.acknowledge());
        assertTrue(cpu.hasInterrupt());
        assertEquals(0x2B, cpu.acknowledge());
        assertFalse(cpu.hasInterrupt());

        // Rotate in automatic EOI: the level just served becomes the lowest.
        outb(MASTER_CMD, 0x80);
        pic.line(3).pulse();
        assertEquals(0x23, cpu.acknowledge());
        pic.line(3).pulse();
        pic.line(6).pulse();
        assertEquals(0x26, cpu.acknowledge());   // 4..7 now outrank 3
        assertEquals(0x23, cpu.acknowledge());
        outb(MASTER_CMD, 0x00);                  // clear rotate in AEOI
    }

    @Test
    void rotationCommands() {
        linuxInit(false);
        pic.line(3).pulse();
        assertEquals(0x23, cpu.acknowledge());
        outb(MASTER_CMD, 0xA0);                  // rotate on non-specific EOI: 3 becomes lowest
        pic.line(3).pulse();
        pic.line(5).pulse();
        assertEquals(0x25, cpu.acknowledge());
        outb(MASTER_CMD, 0xE5);                  // rotate on specific EOI 5: 5 becomes lowest
        assertEquals(0x23, cpu.acknowledge());
        outb(MASTER_CMD, 0x63);
        outb(MASTER_CMD, 0xC7);                  // set priority: 7 lowest, 0 highest again
        pic.line(6).pulse();
        pic.line(1).pulse();
        assertEquals(0x21, cpu.acknowledge());
        outb(MASTER_CMD, 0xC0);                  // 0 lowest, 1 highest: 6 must wait for 1's EOI
        assertFalse(cpu.hasInterrupt());
        eoi(1);
        assertEquals(0x26, cpu.acknowledge());
    }

    @Test
    void pollMode() {
        linuxInit(false);
        outb(MASTER_CMD, 0x0C);                  // OCW3 poll
        assertEquals(0x00, inb(MASTER_CMD));     // nothing pending
        pic.line(4).pulse();
        pic.line(6).pulse();
        outb(MASTER_CMD, 0x0C);
        assertEquals(0x84, inb(MASTER_CMD));     // IRQ4, acknowledged
        assertEquals(0x10, isr(MASTER_CMD));
        assertEquals(0x40, irr(MASTER_CMD));     // the next read is a normal read again
        outb(MASTER_CMD, 0x20);
        outb(MASTER_CMD, 0x0C);
        assertEquals(0x86, inb(MASTER_IMR));     // a poll read works at either address
        outb(MASTER_CMD, 0x20);

        // Cascaded poll: master reports IR2, then the slave is polled.
        pic.line(13).pulse();
        outb(MASTER_CMD, 0x0C);
        assertEquals(0x82, inb(MASTER_CMD));
        outb(SLAVE_CMD, 0x0C);
        assertEquals(0x85, inb(SLAVE_CMD));
        assertEquals(3L, pic.stats().get("polled") - 1);
    }

    @Test
    void specialMaskMode() {
        linuxInit(false);
        pic.line(3).pulse();
        assertEquals(0x23, cpu.acknowledge());
        pic.line(5).pulse();
        assertFalse(cpu.hasInterrupt());         // fully nested: 5 waits
        outb(MASTER_CMD, 0x68);                  // OCW3: set special mask mode
        outb(MASTER_IMR, 0x08);                  // mask the level in service
        assertTrue(cpu.hasInterrupt());          // lower levels are enabled now
        assertEquals(0x25, cpu.acknowledge());
        pic.line(5).pulse();
        assertFalse(cpu.hasInterrupt());         // a level in service still blocks itself
        outb(MASTER_CMD, 0x65);
        assertTrue(cpu.hasInterrupt());
        outb(MASTER_CMD, 0x48);                  // reset special mask mode
        outb(MASTER_IMR, 0x00);
        assertFalse(cpu.hasInterrupt());         // 3 in service blocks 5 again
        outb(MASTER_CMD, 0x63);
        assertEquals(0x25, cpu.acknowledge());
    }

    @Test
    void specialFullyNestedLetsHigherSlaveRequestsThrough() {
        linuxInit(false);
        outb(MASTER_CMD, 0x11);
        outb(MASTER_IMR, 0x20);
        outb(MASTER_IMR, 0x04);
        outb(MASTER_IMR, 0x11);                  // ICW4: 8086, SFNM
        pic.line(12).pulse();
        assertEquals(0x2C, cpu.acknowledge());
        pic.line(9).pulse();                     // higher than 12 on the slave
        assertTrue(cpu.hasInterrupt());
        assertEquals(0x29, cpu.acknowledge());
        pic.line(14).pulse();                    // lower than both: waits
        assertFalse(cpu.hasInterrupt());
    }

    @Test
    void singleModeHasNoCascade() {
        outb(MASTER_CMD, 0x13);                  // ICW1: single, ICW4 follows: no ICW3
        outb(MASTER_IMR, 0x50);
        outb(MASTER_IMR, 0x01);                  // this is ICW4
        assertEquals(0x00, inb(MASTER_IMR));
        pic.line(2).pulse();
        assertEquals(0x52, cpu.acknowledge());   // the master supplies IR2's vector itself
    }

    @Test
    void saveAndRestore() {
        linuxInit(false);
        outb(ELCR2, 0x08);
        outb(MASTER_IMR, 0x80);
        outb(SLAVE_IMR, 0x01);
        pic.line(4).pulse();
        pic.line(1).pulse();
        pic.line(11).raise();
        assertEquals(0x21, cpu.acknowledge());   // 1 in service; 11 and 4 pending
        outb(MASTER_CMD, 0x0B);                  // ISR selected for reads
        SavedState saved = pic.saveState();
        assertEquals("i8259-pair", saved.type());
        assertEquals(1, saved.version());

        FakeIrqChipContext ctx2 = new FakeIrqChipContext(2).kickingOnly(0);
        IrqChip pic2 = new PicStrategy().create(ctx2);
        pic2.restoreState(saved);
        assertEquals(saved, pic2.saveState());
        InterruptSource cpu2 = pic2.source(0);
        assertFalse(cpu2.hasInterrupt());        // everything waits behind 1
        assertEquals(0x02, ctx2.ports().read(MASTER_CMD, 1));
        assertEquals(0x80, ctx2.ports().read(MASTER_IMR, 1));
        ctx2.ports().write(MASTER_CMD, 1, 0x61);
        assertTrue(cpu2.hasInterrupt());
        assertEquals(1, ctx2.kicks(0));
        assertEquals(0x2B, cpu2.acknowledge());  // level IRQ11 survived with its line level
        ctx2.ports().write(SLAVE_CMD, 1, 0x63);
        ctx2.ports().write(MASTER_CMD, 1, 0x62);
        assertEquals(0x2B, cpu2.acknowledge());  // still high: requests again
        ctx2.ports().write(SLAVE_IMR, 1, 0x09);    // mask, EOI, service the device, unmask
        ctx2.ports().write(SLAVE_CMD, 1, 0x63);
        ctx2.ports().write(MASTER_CMD, 1, 0x62);
        pic2.line(11).lower();
        ctx2.ports().write(SLAVE_IMR, 1, 0x01);
        assertEquals(0x24, cpu2.acknowledge());

        // A state with the output high kicks the vCPU when restored.
        FakeIrqChipContext ctx3 = new FakeIrqChipContext(2).kickingOnly(0);
        IrqChip pic3 = new PicStrategy().create(ctx3);
        outb(MASTER_CMD, 0x61);
        pic3.restoreState(pic.saveState());
        assertTrue(pic3.source(0).hasInterrupt());
        assertEquals(1, ctx3.kicks(0));

        assertThrows(IllegalArgumentException.class,
                () -> pic2.restoreState(SavedState.builder("uart16550", 1).build()));
        assertThrows(IllegalArgumentException.class,
                () -> pic2.restoreState(SavedState.builder("i8259-pair", 9).build()));
    }

    @Test
    void resetGivesPowerOnState() {
        linuxInit(false);
        outb(ELCR1, 0x20);
        outb(MASTER_IMR, 0xFF);
        pic.line(3).pulse();
        pic.reset();
        assertFalse(cpu.hasInterrupt());
        assertEquals(0, inb(MASTER_IMR));
        assertEquals(0, inb(ELCR1));
        assertEquals(0, irr(MASTER_CMD));
        pic.line(3).pulse();
        assertEquals(0x03, cpu.acknowledge());   // uninitialised: vector base 0
    }

    @Test
    void linesAndSources() {
        assertEquals(16, pic.lineCount());
        assertSame(InterruptSource.NONE, pic.source(1));
        assertThrows(IllegalArgumentException.class, () -> pic.line(16));
        assertThrows(IllegalArgumentException.class, () -> pic.line(-1));
        assertEquals(3, ctx.ports().windows().size());
        pic.close();
        assertEquals(0, ctx.ports().windows().size());
        assertEquals("pic", new PicStrategy().name());
    }

    @Test
    void guestPortAccessNeverThrows() {
        Random r = new Random(7);
        int[] ports = {0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1};
        for (int i = 0; i < 200_000; i++) {
            int port = ports[r.nextInt(ports.length)];
            int size = 1 << r.nextInt(3);
            if (r.nextBoolean()) {
                ctx.ports().write(port, size, r.nextInt());
            } else {
                ctx.ports().read(port, size);
            }
            pic.line(r.nextInt(16)).set(r.nextBoolean());
            if (cpu.hasInterrupt()) {
                int v = cpu.acknowledge();
                assertTrue(v >= 0 && v <= 255);
            }
        }
    }

    @Test
    void devicesOnOtherThreads() throws Exception {
        linuxInit(false);
        int perThread = 20_000;
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> devices = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            int irq = new int[] {1, 4, 12}[t];
            Thread th = new Thread(() -> {
                for (int i = 0; i < perThread; i++) {
                    pic.line(irq).pulse();
                }
            });
            devices.add(th);
            th.start();
        }
        List<Integer> seen = new ArrayList<>();
        Thread vcpu = new Thread(() -> {
            while (!stop.get() || cpu.hasInterrupt()) {
                if (cpu.hasInterrupt()) {
                    int v = cpu.acknowledge();
                    seen.add(v);
                    eoi(v - 0x20);
                }
            }
        });
        vcpu.start();
        for (Thread th : devices) {
            th.join();
        }
        stop.set(true);
        vcpu.join();
        assertTrue(seen.stream().allMatch(v -> v == 0x21 || v == 0x24 || v == 0x2C), seen.toString());
        assertEquals((long) perThread, pic.stats().get("raised-irq4"));
        assertEquals((long) seen.size(), pic.stats().get("delivered"));
        assertFalse(cpu.hasInterrupt());
    }
}
