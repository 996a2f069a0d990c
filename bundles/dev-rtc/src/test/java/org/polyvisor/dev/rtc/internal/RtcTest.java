package org.polyvisor.dev.rtc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeDeviceContext;

/** The MC146818 against its datasheet, and the CMOS bytes a BIOS reads. */
class RtcTest {

    private static final long SECOND = 1_000_000_000L;

    private FakeDeviceContext ctx = new FakeDeviceContext(Map.of("base", "2024-02-29T23:59:58"));
    private Rtc rtc = (Rtc) new RtcModel().create(ctx);

    private int cmos(int reg) {
        ctx.outb(0x70, reg);
        return ctx.inb(0x71);
    }

    private void cmos(int reg, int value) {
        ctx.outb(0x70, reg);
        ctx.outb(0x71, value);
    }

    @Test
    void readsTheBaseTimeInBcd24h() {
        assertEquals(0x58, cmos(0x00));
        assertEquals(0x59, cmos(0x02));
        assertEquals(0x23, cmos(0x04));
        assertEquals(0x05, cmos(0x06), "Thursday (Sunday = 1)");
        assertEquals(0x29, cmos(0x07));
        assertEquals(0x02, cmos(0x08));
        assertEquals(0x24, cmos(0x09));
        assertEquals(0x20, cmos(0x32));
        assertEquals(0x80, cmos(0x0D), "valid RAM and time");
        assertEquals(0x26, cmos(0x0A));
    }

    @Test
    void timeFollowsTheVmClockAcrossMonthEnd() {
        ctx.advance(2 * SECOND);
        assertEquals(0x00, cmos(0x00));
        assertEquals(0x00, cmos(0x04));
        assertEquals(0x01, cmos(0x07));
        assertEquals(0x03, cmos(0x08), "leap year: 29 Feb, then 1 Mar");
    }

    @Test
    void binaryAnd12HourModes() {
        cmos(0x0B, 0x04); // binary, 12-hour
        assertEquals(0x80 | 11, cmos(0x04), "11 PM");
        assertEquals(59, cmos(0x02));
        assertEquals(24, cmos(0x09));
        ctx.advance(2 * SECOND);
        assertEquals(12, cmos(0x04), "12 AM");
    }

    @Test
    void setBitFreezesAndTheNewTimeStartsWhenCleared() {
        cmos(0x0B, 0x82); // SET, 24h, BCD
        cmos(0x00, 0x30);
        cmos(0x02, 0x15);
        cmos(0x04, 0x08);
        cmos(0x07, 0x15);
        cmos(0x08, 0x06);
        cmos(0x09, 0x31);
        ctx.advance(10 * SECOND);
        assertEquals(0x30, cmos(0x00), "no updates while SET");
        cmos(0x0B, 0x02);
        ctx.advance(SECOND);
        assertEquals(0x31, cmos(0x00));
        assertEquals(0x15, cmos(0x02));
        assertEquals(0x08, cmos(0x04));
        assertEquals(0x06, cmos(0x08));
        assertEquals(0x31, cmos(0x09));
        assertEquals(1L, rtc.stats().get("time-sets"));
    }

    @Test
    void nonsenseTimeIsNormalisedNotThrown() {
        cmos(0x0B, 0x86); // SET, binary
        cmos(0x08, 200);
        cmos(0x07, 99);
        cmos(0x04, 77);
        cmos(0x0B, 0x06);
        assertEquals(12, cmos(0x08) & 0xFF, "month clamped");
        assertEquals(23, cmos(0x04));
        assertEquals(21, cmos(0x32), "year 3236 (BCD digits read as binary) clamped to 2199");
    }

    @Test
    void updateInProgressInTheLast244Microseconds() {
        ctx.advance(SECOND - 300_000);
        assertEquals(0, cmos(0x0A) & 0x80);
        ctx.advance(100_000);
        assertEquals(0x80, cmos(0x0A) & 0x80);
        ctx.advance(200_000);
        assertEquals(0, cmos(0x0A) & 0x80);
    }

    @Test
    void periodicInterruptAt1024Hz() {
        cmos(0x0B, 0x42); // PIE
        int irqs = 0;
        for (int i = 0; i < 1024 * 4; i++) {
            ctx.advance(SECOND / 4096);
            if (ctx.irq(8).high()) {
                assertEquals(0xC0, cmos(0x0C) & 0xC0);
                assertFalse(ctx.irq(8).high(), "reading C lowers IRQ 8");
                irqs++;
            }
        }
        assertTrue(irqs >= 1023 && irqs <= 1025, "irqs " + irqs);
    }

    @Test
    void updateEndedInterruptOncePerSecond() {
        cmos(0x0B, 0x12); // UIE
        int irqs = 0;
        for (int i = 0; i < 50; i++) {
            ctx.advance(SECOND / 10);
            if (ctx.irq(8).high()) {
                assertEquals(0x90, cmos(0x0C) & 0x90, "IRQF and UF (PF is set too: flags do not need their enable)");
                irqs++;
            }
        }
        assertEquals(5, irqs);
    }

    @Test
    void alarmFiresAtItsTimeOnly() {
        cmos(0x01, 0x05);
        cmos(0x03, 0x00);
        cmos(0x05, 0x00); // 00:00:05
        cmos(0x0B, 0x22); // AIE
        ctx.advance(6 * SECOND);
        assertFalse(ctx.irq(8).high(), "00:00:04");
        ctx.advance(SECOND);
        assertTrue(ctx.irq(8).high(), "alarm at 00:00:05");
        assertEquals(0xA0, cmos(0x0C) & 0xA0);
        ctx.advance(60 * SECOND);
        assertFalse(ctx.irq(8).high());
        cmos(0x01, 0xC0); // don't care everywhere: every second
        cmos(0x03, 0xC0);
        cmos(0x05, 0xC0);
        ctx.advance(SECOND);
        assertTrue(ctx.irq(8).high());
    }

    @Test
    void memorySizeBytesFor16MiB() {
        assertEquals(0x80, cmos(0x15));
        assertEquals(0x02, cmos(0x16));
        int ext = cmos(0x17) | cmos(0x18) << 8;
        assertEquals(15 * 1024, ext);
        assertEquals(ext, cmos(0x30) | cmos(0x31) << 8);
        assertEquals(0, cmos(0x34) | cmos(0x35) << 8);
        assertEquals(0, cmos(0x5B) | cmos(0x5C) << 8 | cmos(0x5D) << 16);
    }

    @Test
    void memorySizeBytesFor6GiBWithRamAbove4GiB() {
        ctx = FakeDeviceContext.builder().ramSize(6L << 30).build();
        rtc = (Rtc) new RtcModel().create(ctx);
        assertEquals(0xFFFF, cmos(0x17) | cmos(0x18) << 8, "capped");
        assertEquals((0xE000_0000L - (16 << 20)) / 0x1_0000, cmos(0x34) | cmos(0x35) << 8);
        assertEquals(((6L << 30) - 0xE000_0000L) / 0x1_0000, cmos(0x5B) | cmos(0x5C) << 8 | cmos(0x5D) << 16);
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++) {
            sum += cmos(i);
        }
        assertEquals(sum, cmos(0x2E) << 8 | cmos(0x2F), "AT checksum");
    }

    @Test
    void nvramAndTheNmiMaskBit() {
        ctx.outb(0x70, 0x80 | 0x40);
        ctx.outb(0x71, 0xA5);
        assertEquals(0xA5, cmos(0x40));
        assertEquals(0L, rtc.stats().get("nmi-disabled"));
        ctx.outb(0x70, 0x80);
        assertEquals(1L, rtc.stats().get("nmi-disabled"));
    }

    @Test
    void stateCarriesTheClockAndNvram() {
        cmos(0x50, 0x42);
        ctx.advance(3 * SECOND);
        SavedState s = rtc.saveState();
        rtc.close();
        // A new instance with another base takes the old clock over: the base is not state.
        Rtc again = (Rtc) new RtcModel().create(ctx.withOptions(Map.of("base", "1999-01-01T00:00:00")));
        again.restoreState(s);
        assertEquals(0x42, cmos(0x50));
        assertEquals(0x01, cmos(0x00), "23:59:58 + 3 s");
        assertThrows(IllegalArgumentException.class, () -> again.restoreState(SavedState.builder("uart16550", 1).build()));
    }

    @Test
    void deterministicDefaultBaseAndBadOptions() {
        assertThrows(IllegalArgumentException.class,
                () -> new RtcModel().create(new FakeDeviceContext(Map.of("base", "yesterday"))));
        assertThrows(IllegalArgumentException.class,
                () -> new RtcModel().create(new FakeDeviceContext(Map.of("colour", "red"))));
        FakeDeviceContext d = new FakeDeviceContext(Map.of());
        new RtcModel().create(d);
        d.outb(0x70, 0x09);
        assertEquals(0x20, d.inb(0x71), "the fake clock is deterministic: 2020-01-01");
    }

    @Test
    void randomGuestBytesNeverThrow() {
        Random r = new Random(3);
        for (int i = 0; i < 50_000; i++) {
            if (r.nextBoolean()) {
                ctx.outb(0x70 + r.nextInt(2), r.nextInt(256));
            } else {
                ctx.inb(0x70 + r.nextInt(2));
            }
            ctx.advance(r.nextInt(2_000_000));
        }
        rtc.restoreState(rtc.saveState());
    }
}
