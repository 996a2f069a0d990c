package org.polyvisor.dev.pit8254.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeDeviceContext;
import org.polyvisor.testing.RecordingIrqLine;

/** The 8254 against its datasheet (Intel 231164): modes 0-5, latches, read-back, BCD, gate 2. */
class Pit8254Test {

    private final FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
    private final Pit8254 pit = (Pit8254) new Pit8254Model().create(ctx);

    /** Nanoseconds of n PIT clocks. */
    private static long ticks(long n) {
        return Pit8254.nanosAt(n);
    }

    private void program(int channel, int mode, int count) {
        ctx.outb(0x43, channel << 6 | 0x30 | mode << 1);
        ctx.outb(0x40 + channel, count & 0xFF);
        ctx.outb(0x40 + channel, count >>> 8);
    }

    private int readCount(int channel) {
        return ctx.inb(0x40 + channel) | ctx.inb(0x40 + channel) << 8;
    }

    @Test
    void mode2RateGeneratorGivesOneIrq0EdgePerPeriod() {
        program(0, 2, 1193); // ~1 ms, Linux's classic HZ=1000 setup
        assertTrue(ctx.irq(0).high());
        ctx.advance(10 * ticks(1193) + 1000);
        assertEquals(10, ctx.irq(0).raises() - 1, "one edge per period after the initial level");
        assertEquals(11, pit.stats().get("irq0-edges"), "the initial rise and ten periods");
    }

    @Test
    void mode3SquareWaveIsHighForTheFirstHalf() {
        program(0, 3, 1000);
        assertTrue(pit.channel(0).out(Pit8254.ticksAt(ctx.clock().nanos())));
        ctx.advance(ticks(499));
        assertTrue(ctx.irq(0).high());
        ctx.advance(ticks(501) - ticks(499));
        assertFalse(ctx.irq(0).high());
        ctx.advance(ticks(1000) - ticks(501));
        assertTrue(ctx.irq(0).high());
        ctx.advance(ticks(100_000) - ticks(1000));
        assertEquals(101, ctx.irq(0).raises());
    }

    @Test
    void mode0InterruptOnTerminalCount() {
        ctx.outb(0x43, 0x30);
        assertFalse(ctx.irq(0).high(), "OUT low after the control word");
        ctx.outb(0x40, 100);
        ctx.outb(0x40, 0);
        ctx.advance(ticks(99));
        assertFalse(ctx.irq(0).high());
        assertEquals(1, readCount(0));
        ctx.advance(ticks(100) - ticks(99));
        assertTrue(ctx.irq(0).high());
        ctx.advance(ticks(70_000));
        assertEquals(1, ctx.irq(0).raises(), "stays high: one interrupt");
    }

    @Test
    void counterLatchFreezesTheReadValue() {
        program(0, 2, 50_000);
        ctx.advance(ticks(1000));
        ctx.outb(0x43, 0x00); // latch channel 0
        ctx.advance(ticks(3000) - ticks(1000));
        ctx.outb(0x43, 0x00); // a second latch before the read is ignored
        assertEquals(49_000, readCount(0));
        assertEquals(47_000, readCount(0), "then it reads live again");
    }

    @Test
    void readBackLatchesStatusThenCount() {
        ctx.outb(0x43, 0x34);
        ctx.outb(0x43, 0xE2); // read-back: count and status of channel 0
        assertEquals(0x80 | 0x40 | 0x34, ctx.inb(0x40), "OUT high, null count, RW 3, mode 2");
        ctx.outb(0x40, 0x10);
        ctx.outb(0x40, 0x27);
        ctx.outb(0x43, 0xE2);
        assertEquals(0x80 | 0x34, ctx.inb(0x40) & 0xFF, "count loaded: null count clear");
        assertEquals(10_000, readCount(0));
    }

    @Test
    void bcdCounting() {
        ctx.outb(0x43, 0x31); // channel 0, mode 0, BCD
        ctx.outb(0x40, 0x00);
        ctx.outb(0x40, 0x01); // 0100 BCD = 100
        ctx.advance(ticks(25));
        assertEquals(0x0075, readCount(0));
        ctx.advance(ticks(100) - ticks(25));
        assertTrue(ctx.irq(0).high());
    }

    @Test
    void lsbOnlyAndMsbOnlyAccess() {
        ctx.outb(0x43, 0x14); // channel 0, LSB only, mode 2
        ctx.outb(0x40, 200);
        assertEquals(200, ctx.inb(0x40));
        ctx.outb(0x43, 0x24); // MSB only
        ctx.outb(0x40, 2);
        assertEquals(2, ctx.inb(0x40));
        assertEquals(512, pit.channel(0).count);
    }

    @Test
    void channel2GateAndOutOnPort61() {
        program(2, 0, 1000);
        assertEquals(0, ctx.inb(0x61) & 0x21, "gate low, OUT2 low");
        ctx.advance(ticks(2000));
        assertEquals(1000, readCount(2), "gate low: mode 0 does not count");
        ctx.outb(0x61, 0x01);
        ctx.advance(ticks(2500) - ticks(2000));
        ctx.outb(0x61, 0x00); // pause half way
        ctx.advance(ticks(10_000) - ticks(2500));
        assertEquals(500, readCount(2));
        ctx.outb(0x61, 0x03); // gate on, speaker on
        ctx.advance(ticks(10_500) - ticks(10_000));
        assertEquals(0x23, ctx.inb(0x61) & 0x23, "OUT2 high at terminal count");
    }

    @Test
    void mode1IsTriggeredByTheGate() {
        program(2, 1, 300);
        assertEquals(0x20, ctx.inb(0x61) & 0x20, "OUT high until triggered");
        ctx.advance(ticks(1000));
        assertEquals(300, readCount(2));
        ctx.outb(0x61, 0x01); // rising gate: trigger
        assertEquals(0, ctx.inb(0x61) & 0x20, "OUT low while counting");
        ctx.advance(ticks(1300) - ticks(1000));
        assertEquals(0x20, ctx.inb(0x61) & 0x20);
        ctx.outb(0x61, 0x00);
        ctx.outb(0x61, 0x01); // retrigger
        assertEquals(0, ctx.inb(0x61) & 0x20);
    }

    @Test
    void mode4StrobesOneClockLowAndMode5WaitsForTheGate() {
        program(0, 4, 100);
        assertTrue(ctx.irq(0).high());
        ctx.advance(ticks(100));
        assertFalse(ctx.irq(0).high());
        ctx.advance(ticks(101) - ticks(100));
        assertTrue(ctx.irq(0).high());
        ctx.advance(ticks(100_000));
        assertTrue(ctx.irq(0).high());
        program(2, 5, 100);
        ctx.advance(ticks(1000));
        assertEquals(0x20, ctx.inb(0x61) & 0x20);
        ctx.outb(0x61, 0x01);
        long t0 = ctx.clock().nanos();
        ctx.advance(Pit8254.nanosAt(Pit8254.ticksAt(t0) + 100) - t0);
        assertEquals(0, ctx.inb(0x61) & 0x20, "strobe after the trigger");
    }

    @Test
    void port61RefreshBitToggles() {
        int a = ctx.inb(0x61) & 0x10;
        ctx.advance(Pit8254.REFRESH_NANOS);
        assertEquals(0x10, (ctx.inb(0x61) & 0x10) ^ a);
    }

    @Test
    void stateCarriesOverWithoutLosingOrRepeatingTicks() {
        program(0, 2, 1193);
        ctx.advance(ticks(1193 * 5 + 600));
        SavedState s = pit.saveState();
        pit.close();
        RecordingIrqLine line = ctx.irq(0);
        int before = line.raises();
        Pit8254 next = (Pit8254) new Pit8254Model().create(ctx);
        next.restoreState(s);
        ctx.advance(ticks(1193 * 10) - ticks(1193 * 5 + 600));
        assertEquals(5, line.raises() - before);
        assertEquals(s.type(), next.saveState().type());
        assertThrows(IllegalArgumentException.class, () -> next.restoreState(
                SavedState.builder("i8254", 99).build()));
    }

    @Test
    void randomGuestBytesNeverThrow() {
        Random r = new Random(1);
        for (int i = 0; i < 50_000; i++) {
            int port = r.nextInt(5);
            if (r.nextBoolean()) {
                ctx.outb(port == 4 ? 0x61 : 0x40 + port, r.nextInt(256));
            } else {
                ctx.inb(port == 4 ? 0x61 : 0x40 + port);
            }
            ctx.advance(r.nextInt(5000));
        }
        pit.restoreState(pit.saveState());
    }

    @Test
    void rejectsOptions() {
        assertThrows(IllegalArgumentException.class,
                () -> new Pit8254Model().create(new FakeDeviceContext(Map.of("irq", "3"))));
    }
}
