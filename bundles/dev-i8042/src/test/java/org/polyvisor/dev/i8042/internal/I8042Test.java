package org.polyvisor.dev.i8042.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeDeviceContext;

/** The 8042 as Linux's i8042/atkbd/psmouse drivers probe it, reset and A20. */
class I8042Test {

    private final FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
    private final I8042 kbc = (I8042) new I8042Model().create(ctx);

    private void command(int c) {
        ctx.outb(0x64, c);
    }

    private int read() {
        assertEquals(1, ctx.inb(0x64) & 1, "OBF set");
        return ctx.inb(0x60);
    }

    @Test
    void linuxI8042ProbeSequence() {
        assertEquals(0x18, ctx.inb(0x64) & 0x19, "idle after power-on");
        command(0x20);                       // i8042_ctl_test: read CTR
        int ctr = read();
        assertEquals(0x03, ctr);
        command(0x60);
        ctx.outb(0x60, ctr & ~0x03);         // interrupts off while probing
        command(0xAA);
        assertEquals(0x55, read());
        assertEquals(0x04, ctx.inb(0x64) & 0x04, "system flag after self test");
        command(0xAB);
        assertEquals(0x00, read());
        command(0xA9);
        assertEquals(0x00, read());
        command(0x60);
        ctx.outb(0x60, 0x47);                // kbd int, aux int, sys, translate
        command(0x20);
        assertEquals(0x47, read());
        assertEquals(0, ctx.inb(0x64) & 1);
    }

    @Test
    void keyboardResetAndIdentifyRaiseIrq1() {
        command(0x60);
        ctx.outb(0x60, 0x41);                // IRQ 1 on, translation
        ctx.outb(0x60, 0xFF);
        assertTrue(ctx.irq(1).high());
        assertEquals(0xFA, read());
        assertTrue(ctx.irq(1).high(), "next byte waiting");
        assertEquals(0xAA, read());
        assertFalse(ctx.irq(1).high());
        ctx.outb(0x60, 0xF2);
        assertEquals(0xFA, read());
        assertEquals(0xAB, read());
        assertEquals(0x41, read(), "translated MF2 id");
        ctx.outb(0x60, 0xED);                // LEDs, with parameter
        assertEquals(0xFA, read());
        ctx.outb(0x60, 0x07);
        assertEquals(0xFA, read());
        ctx.outb(0x60, 0x12);                // nonsense command
        assertEquals(0xFE, read(), "resend");
    }

    /**
     * IRQ 1 and 12 are edge triggered: every byte of a multi-byte reply must raise its line afresh
     * once the one before was read, or the driver's interrupt handler sees only the first byte.
     * (Linux's atkbd then timed out on GETID's ID bytes and retried the probe for ever, and a
     * halting kernel waited minutes for the keyboard's shutdown.)
     */
    @Test
    void eachByteOfAReplyGivesItsOwnInterruptEdge() {
        command(0x60);
        ctx.outb(0x60, 0x43);                // IRQ 1 and 12 on, translation
        var kbd = ctx.irq(1);
        int before = kbd.raises();
        ctx.outb(0x60, 0xF2);                // GETID: ACK, 0xAB, 0x41
        assertEquals(before + 1, kbd.raises());
        assertEquals(0xFA, read());
        assertEquals(before + 2, kbd.raises(), "ID byte 1 raised IRQ 1 again");
        assertEquals(0xAB, read());
        assertEquals(before + 3, kbd.raises(), "ID byte 2 raised IRQ 1 again");
        assertEquals(0x41, read());
        assertEquals(before + 3, kbd.raises());
        assertFalse(kbd.high(), "nothing left to read");

        var aux = ctx.irq(12);
        int auxBefore = aux.raises();
        ctx.outb(0x64, 0xD4);
        ctx.outb(0x60, 0xFF);                // mouse reset: ACK, BAT, ID
        for (int i = 1; i <= 3; i++) {
            assertEquals(auxBefore + i, aux.raises(), "mouse byte " + i);
            read();
        }
        assertFalse(aux.high());
        assertEquals(before + 3, kbd.raises(), "the mouse's bytes never touch IRQ 1");
    }

    @Test
    void mouseThroughD4RaisesIrq12() {
        ctx.outb(0x64, 0xD4);
        ctx.outb(0x60, 0xFF);
        assertTrue(ctx.irq(12).high());
        assertFalse(ctx.irq(1).high());
        assertEquals(0x20, ctx.inb(0x64) & 0x20, "aux data");
        assertEquals(0xFA, read());
        assertEquals(0xAA, read());
        assertEquals(0x00, read());
        assertFalse(ctx.irq(12).high());
        ctx.outb(0x64, 0xD4);
        ctx.outb(0x60, 0xF3);
        assertEquals(0xFA, read());
        ctx.outb(0x64, 0xD4);
        ctx.outb(0x60, 200);
        assertEquals(0xFA, read());
        ctx.outb(0x64, 0xD4);
        ctx.outb(0x60, 0xE9);
        assertEquals(0xFA, read());
        assertEquals(0x00, read());
        assertEquals(2, read());
        assertEquals(200, read());
    }

    @Test
    void command0xFeResetsTheMachine() {
        command(0xFE);
        assertEquals(1, ctx.control().resets());
        command(0xFF);                       // pulse nothing
        assertEquals(1, ctx.control().resets());
        command(0xD1);
        ctx.outb(0x60, 0x02);                // output port with reset bit 0 low
        assertEquals(2, ctx.control().resets());
        assertEquals(2L, kbc.stats().get("resets"));
    }

    @Test
    void a20ThroughTheOutputPortAndPort92() {
        assertTrue(kbc.a20());
        command(0xD1);
        ctx.outb(0x60, 0x01);                // A20 off, not reset
        assertFalse(kbc.a20());
        command(0xD0);
        assertEquals(0x01, read() & 0x03);
        ctx.outb(0x92, 0x02);                // fast A20
        assertTrue(kbc.a20());
        assertEquals(0x02, ctx.inb(0x92));
        ctx.outb(0x92, 0x00);
        assertFalse(kbc.a20());
        command(0xDF);
        assertTrue(kbc.a20());
        assertEquals(1L, kbc.stats().get("a20-enabled"));
        assertEquals(4L, kbc.stats().get("a20-changes"));
        assertEquals(java.util.List.of(false, true, false, true), ctx.control().a20Changes(),
                "every gate change reaches VmControl.setA20");
        assertTrue(ctx.control().a20());
        assertEquals(0, ctx.control().resets());
        ctx.outb(0x92, 0x03);                // fast reset: bit 0 from 0 to 1
        assertEquals(1, ctx.control().resets());
    }

    @Test
    void restoreTellsThePlatformTheGate() {
        command(0xDD);                       // A20 off
        assertFalse(ctx.control().a20());
        SavedState closed = kbc.saveState();
        command(0xDF);
        assertTrue(ctx.control().a20());
        kbc.restoreState(closed);
        assertFalse(ctx.control().a20(), "restoreState re-applies the saved gate");
        kbc.reset();
        assertTrue(ctx.control().a20(), "reset opens it again");
    }

    @Test
    void stateRoundTripKeepsQueuedBytes() {
        ctx.outb(0x60, 0xF2);
        SavedState s = kbc.saveState();
        kbc.close();
        I8042 next = (I8042) new I8042Model().create(ctx);
        next.restoreState(s);
        assertEquals(0xFA, read());
        assertEquals(0xAB, read());
        assertEquals(s.getBoolean("a20"), next.a20());
    }

    @Test
    void floodsAreBoundedAndNothingThrows() {
        for (int i = 0; i < 1000; i++) {
            ctx.outb(0x60, 0xF2);
        }
        assertTrue(kbc.stats().get("queue-dropped") > 0);
        Random r = new Random(5);
        for (int i = 0; i < 50_000; i++) {
            int port = new int[] {0x60, 0x64, 0x92}[r.nextInt(3)];
            if (r.nextBoolean()) {
                ctx.outb(port, r.nextInt(256));
            } else {
                ctx.inb(port);
            }
        }
        kbc.restoreState(kbc.saveState());
        assertThrows(IllegalArgumentException.class,
                () -> new I8042Model().create(new FakeDeviceContext(Map.of("port", "0x60"))));
    }
}
