package org.polyvisor.dev.uart16550.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeDeviceContext;

/** Register-level tests of the 16550A through the port bus, as a guest driver sees it. */
class Uart16550Test {

    private static final int COM1 = 0x3F8;
    private static final int THR = 0;
    private static final int IER = 1;
    private static final int IIR = 2;
    private static final int FCR = 2;
    private static final int LCR = 3;
    private static final int MCR = 4;
    private static final int LSR = 5;
    private static final int MSR = 6;
    private static final int SCR = 7;

    /** COM1's context; {@code console} gives it a backend with queued input. */
    private static FakeDeviceContext context(Map<String, String> options, boolean console) {
        return FakeDeviceContext.builder().instanceName("com1").options(options).console(console).build();
    }

    private FakeDeviceContext ctx = context(Map.of(), true);
    private Device dev = new Uart16550Model().create(ctx);

    private void out(int reg, int value) {
        ctx.ports().write(COM1 + reg, 1, value);
    }

    private int in(int reg) {
        return ctx.ports().read(COM1 + reg, 1);
    }

    private boolean irq() {
        return ctx.irq(4).high();
    }

    private String readAll() {
        StringBuilder sb = new StringBuilder();
        while ((in(LSR) & 0x01) != 0) {
            sb.append((char) in(THR));
        }
        return sb.toString();
    }

    @Test
    void powerOnValues() {
        assertEquals(0x00, in(IER));
        assertEquals(0x01, in(IIR));
        assertEquals(0x00, in(LCR));
        assertEquals(0x00, in(MCR));
        assertEquals(0x60, in(LSR));
        assertEquals(0xB0, in(MSR)); // DCD, DSR, CTS of a connected console; no deltas
        assertFalse(irq());
        assertEquals(List.of("io 0x3f8-0x3ff", "irq 4"), dev.resources());
    }

    @Test
    void divisorLatchAccess() {
        out(IER, 0x05);
        out(LCR, 0x80 | 0x03);
        assertEquals(12, in(THR));          // default divisor, 9600 bit/s
        assertEquals(0, in(IER));           // DLM, not IER
        out(THR, 0x01);                     // DLL = 1: 115200 bit/s
        out(IER, 0x00);
        assertEquals(0x01, in(THR));
        assertEquals("", ctx.backend().output()); // a DLL write transmits nothing
        out(LCR, 0x03);
        assertEquals(0x05, in(IER));        // IER untouched by DLM writes
        assertEquals(0x03, in(LCR));
        out(THR, 'A');
        assertEquals("A", ctx.backend().output());
        out(LCR, 0x83);
        assertEquals(0x01, in(THR));
        assertEquals(0x00, in(IER));
        out(IER, 0x02);
        out(LCR, 0x03);
        assertEquals(0x05, in(IER));
        out(LCR, 0x83);
        assertEquals(0x02, in(IER));
        SavedState s = dev.saveState();
        assertEquals(0x0201, s.getInt("divisor"));
    }

    @Test
    void lcrLsrAndScratch() {
        out(LCR, 0x1B); // 8 bits, even parity
        assertEquals(0x1B, in(LCR));
        out(SCR, 0xA5);
        assertEquals(0xA5, in(SCR));
        out(THR, 'x');
        assertEquals(0x60, in(LSR)); // THRE and TEMT right after a write: the line is infinitely fast
        ctx.backend().type("k");
        assertEquals(0x61, in(LSR));
        assertEquals('k', in(THR));
        assertEquals(0x60, in(LSR));
        assertEquals('k', in(THR));  // an empty RBR reads the last byte again
        out(LSR, 0xFF);              // factory test writes are ignored
        assertEquals(0x60, in(LSR));
        assertEquals(0xFF, ctx.ports().read(COM1 + 8, 1)); // outside the window
    }

    @Test
    void outputGoesToConsoleOrIsCounted() {
        for (char c : "hello".toCharArray()) {
            out(THR, c);
        }
        assertEquals("hello", ctx.backend().output());
        assertEquals(5L, dev.stats().get("tx-bytes"));
        assertEquals(0L, dev.stats().get("tx-discarded"));

        FakeDeviceContext quiet = context(Map.of("port", "0x2f8", "irq", "3"), false);
        Device com2 = new Uart16550Model().create(quiet);
        quiet.ports().write(0x2F8, 1, 'z');
        assertEquals(1L, com2.stats().get("tx-discarded"));
        assertEquals(List.of("io 0x2f8-0x2ff", "irq 3"), com2.resources());
        assertEquals(0x61 & 0x60, quiet.ports().read(0x2FD, 1)); // no input without a console
    }

    @Test
    void fifoTriggerLevelAndCharacterTimeout() {
        out(LCR, 0x03);
        out(FCR, 0x47);      // enable, clear both, trigger level 4
        out(IER, 0x01);      // ERBFI
        out(MCR, 0x08);      // OUT2
        assertEquals(0xC1, in(IIR));
        ctx.backend().type("abc");
        assertEquals(0xC1, in(IIR)); // 3 < 4: no interrupt yet
        assertFalse(irq());
        ctx.backend().type("d");
        assertEquals(0xC4, in(IIR)); // trigger level reached
        assertTrue(irq());
        assertEquals('a', in(THR));
        assertEquals(0xC1, in(IIR)); // below the level again
        assertFalse(irq());

        // Four character times (10 bits at 9600 bit/s, about 1.04 ms each) without reads.
        long charNanos = 10L * 12 * 16 * 1_000_000_000L / 1_843_200;
        ctx.clock().advance(3 * charNanos);
        assertFalse(irq());
        ctx.clock().advance(charNanos + 1);
        assertTrue(irq());
        assertEquals(0xCC, in(IIR));
        assertEquals("bcd", readAll());
        assertEquals(0xC1, in(IIR));
        assertFalse(irq());
        ctx.clock().advance(10 * charNanos);
        assertFalse(irq()); // an empty FIFO never times out
        assertEquals(0, ctx.clock().pending());
    }

    @Test
    void triggerLevels() {
        int[][] levels = {{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xC1, 14}};
        out(IER, 0x01);
        out(MCR, 0x08);
        for (int[] l : levels) {
            out(FCR, l[0] | 0x02);
            ctx.backend().type("x".repeat(l[1] - 1));
            assertEquals(0xC1, in(IIR), "below level " + l[1]);
            ctx.backend().type("x");
            assertEquals(0xC4, in(IIR), "at level " + l[1]);
        }
    }

    @Test
    void threInterruptIsClearedByReadingIirAndRaisedByEnabling() {
        out(MCR, 0x08);
        out(IER, 0x02);          // ETBEI while THR is empty: THRE at once
        assertTrue(irq());
        assertEquals(0x02, in(IIR));
        assertFalse(irq());      // reading IIR cleared it
        assertEquals(0x01, in(IIR));
        // Linux's UART_BUG_THRE probe (serial8250_do_startup): IER=0 then THRI again re-asserts.
        out(IER, 0x00);
        out(IER, 0x02);
        assertEquals(0x02, in(IIR));
        out(IER, 0x02);          // rewriting the same value is no rising edge
        assertEquals(0x01, in(IIR));
        out(THR, 'a');           // the byte leaves at once: THR empty again
        assertTrue(irq());
        assertEquals(0x02, in(IIR));
        assertEquals(1L, dev.stats().get("interrupts") - 2);
    }

    @Test
    void interruptPriority() {
        out(FCR, 0x07);           // FIFOs, trigger 1
        out(MCR, 0x08 | 0x10);    // OUT2, loopback
        out(IER, 0x0F);
        assertEquals(0xC2, in(IIR)); // THRE only
        out(MCR, 0x08 | 0x10 | 0x01); // DTR toggles DSR in loopback: modem status delta
        assertEquals(0xC0, in(IIR)); // THRE was cleared by the read; modem status is lowest
        for (int i = 0; i < 17; i++) {
            out(THR, 'a' + i);     // 16 fit, the 17th overruns
        }
        assertEquals(0xC6, in(IIR)); // line status (overrun) first
        assertEquals(0x63, in(LSR)); // OE, DR; reading clears OE
        assertEquals(0xC4, in(IIR)); // then received data
        assertEquals("abcdefghijklmnop", readAll());
        assertEquals(0xC2, in(IIR)); // then THRE (latched by the last THR write)
        assertEquals(0xC0, in(IIR));
        // Entering loopback dropped CTS and DSR (deltas), then DTR brought DSR back: DCTS, DDSR.
        assertEquals(0x01 | 0x02 | 0x20 | 0x80, in(MSR));
        assertEquals(0xC1, in(IIR));
        assertFalse(irq());
        assertEquals(1L, dev.stats().get("overruns"));
    }

    @Test
    void loopbackReturnsTransmittedBytesAndModemLines() {
        out(MCR, 0x10 | 0x0A);       // loopback, RTS, OUT2: Linux autoconfig's loopback test
        ctx.backend().type("typed");   // host input stays disconnected in loopback
        assertEquals(0x90, in(MSR) & 0xF0); // CTS from RTS, DCD from OUT2
        out(THR, 'L');
        assertEquals("", ctx.backend().output()); // nothing reaches the wire in loopback
        assertEquals(0x61, in(LSR));
        assertEquals('L', in(THR));
        assertEquals(0x60, in(LSR));   // host input stays disconnected in loopback
        out(THR, '1');
        out(THR, '2');                 // no FIFOs: the second byte overwrites the first
        assertEquals(0x63, in(LSR));
        assertEquals('2', in(THR));
        out(MCR, 0x0B);                // leave loopback: host input flows again, nothing lost
        assertEquals("typed", readAll());
        assertEquals(0xB0, in(MSR) & 0xF0);
    }

    @Test
    void out2GatesTheIrqLine() {
        out(IER, 0x02);
        assertFalse(irq());     // THRE pending but OUT2 clear
        out(MCR, 0x08);
        assertTrue(irq());
        out(MCR, 0x00);
        assertFalse(irq());
        out(MCR, 0x08);
        assertTrue(irq());
    }

    @Test
    void inputIsNeverLostWhenTheFifoIsFull() {
        String text = "The quick brown fox jumps over the lazy dog";
        out(FCR, 0xC7);
        ctx.backend().type(text);
        assertEquals(text.length() - 16, ctx.backend().pendingInput()); // FIFO full, rest waits
        assertEquals(text, readAll());
        assertEquals(0L, dev.stats().get("overruns"));
        assertEquals((long) text.length(), dev.stats().get("rx-bytes"));

        out(FCR, 0x00); // 16450 mode: one byte at a time
        ctx.backend().type(text);
        assertEquals(text.length() - 1, ctx.backend().pendingInput());
        assertEquals(text, readAll());
        assertEquals(0L, dev.stats().get("overruns"));
    }

    @Test
    void fifoResetDiscardsReceivedBytes() {
        out(FCR, 0x01);
        ctx.backend().type("abc");
        out(FCR, 0x03);       // clear RX, FIFOs stay on
        assertEquals(0x60, in(LSR));
        ctx.backend().type("d");
        assertEquals("d", readAll());
        assertEquals(0xC1, in(IIR));
        out(FCR, 0x00);
        assertEquals(0x01, in(IIR)); // FIFOs off: IIR bits 6-7 clear
    }

    @Test
    void saveAndRestoreMidStream() {
        out(LCR, 0x83);
        out(THR, 0x03);
        out(LCR, 0x03);
        out(FCR, 0x87);          // trigger 8
        out(IER, 0x03);
        out(MCR, 0x0B);
        out(SCR, 0x5A);
        ctx.backend().type("0123456789");
        assertEquals('0', in(THR));
        assertEquals(0xC4, in(IIR)); // 9 bytes >= 8
        assertTrue(irq());
        SavedState saved = dev.saveState();
        assertEquals("uart16550", saved.type());
        assertEquals(1, saved.version());

        // A new device, as after a bundle update or a snapshot restore.
        FakeDeviceContext ctx2 = context(Map.of(), true);
        Device dev2 = new Uart16550Model().create(ctx2);
        dev2.restoreState(saved);
        assertTrue(ctx2.irq(4).high());
        assertEquals(saved, dev2.saveState());
        FakeDeviceContext old = ctx;
        ctx = ctx2;
        assertEquals(0x5A, in(SCR));
        assertEquals(0x0B, in(MCR));
        out(LCR, 0x83);
        assertEquals(0x03, in(THR));
        out(LCR, 0x03);
        assertEquals("123456789", readAll());
        ctx.clock().advance(1_000_000_000L);
        assertEquals(0xC2, in(IIR));
        // The old device is untouched by the new one.
        ctx = old;
        assertEquals("123456789", readAll());

        assertThrows(IllegalArgumentException.class,
                () -> dev2.restoreState(SavedState.builder("i8259-pair", 1).build()));
        assertThrows(IllegalArgumentException.class,
                () -> dev2.restoreState(SavedState.builder("uart16550", 2).build()));
    }

    @Test
    void resetGivesPowerOnState() {
        out(IER, 0x0F);
        out(LCR, 0x1F);
        out(MCR, 0x1F);
        out(FCR, 0x01);
        ctx.backend().type("abc");
        dev.reset();
        assertEquals(0x00, in(IER));
        assertEquals(0x01, in(IIR));
        assertEquals(0x00, in(LCR));
        assertEquals(0x00, in(MCR));
        assertFalse(irq());
        assertEquals(0x61, in(LSR)); // input typed before the reset is still delivered
        assertEquals(UartState.powerOn().toSaved().getInt("divisor"), dev.saveState().getInt("divisor"));
    }

    @Test
    void wideAccessesAreSplitIntoBytes() {
        ctx.ports().write(COM1 + LCR, 2, 0x0B03); // LCR = 3, MCR = 0x0B
        assertEquals(0x0B03, ctx.ports().read(COM1 + LCR, 2));
        assertEquals(0xFFFFFF00 | in(SCR), ctx.ports().read(COM1 + SCR, 4));
    }

    @Test
    void guestInputNeverThrows() {
        Random r = new Random(1);
        for (int i = 0; i < 200_000; i++) {
            int port = COM1 - 2 + r.nextInt(12);
            int size = 1 << r.nextInt(3);
            if (r.nextBoolean()) {
                ctx.ports().write(port, size, r.nextInt());
            } else {
                ctx.ports().read(port, size);
            }
            if (r.nextInt(100) == 0) {
                ctx.backend().type("xy");
            }
            if (r.nextInt(50) == 0) {
                ctx.clock().advance(r.nextInt(10_000_000));
            }
        }
        assertTrue(ctx.clock().pending() <= 1, "timers do not pile up: " + ctx.clock().pending());
        SavedState s = dev.saveState();
        assertTrue(s.getBytes("rx-fifo").length <= 16);
    }

    @Test
    void inputFromAnotherThreadArrivesInOrder() throws Exception {
        out(FCR, 0xC7);
        out(IER, 0x01);
        out(MCR, 0x08);
        StringBuilder sent = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            sent.append((char) ('a' + i % 26));
        }
        Thread typist = new Thread(() -> {
            for (int i = 0; i < sent.length(); i += 7) {
                ctx.backend().type(sent.substring(i, Math.min(sent.length(), i + 7)));
            }
        });
        typist.start();
        StringBuilder got = new StringBuilder();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (got.length() < sent.length() && System.nanoTime() < deadline) {
            if ((in(LSR) & 0x01) != 0) {
                got.append((char) in(THR));
            }
        }
        typist.join();
        assertEquals(sent.toString(), got.toString());
        assertEquals(0L, dev.stats().get("overruns"));
    }

    @Test
    void closeUnmapsAndStopsListening() {
        dev.close();
        assertNull(ctx.backend().listener());
        assertTrue(ctx.ports().windows().isEmpty());
    }

    @Test
    void optionsAreValidated() {
        Uart16550Model model = new Uart16550Model();
        var e = assertThrows(IllegalArgumentException.class,
                () -> model.create(context(Map.of("port", "COM1"), false)));
        assertTrue(e.getMessage().contains("port"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(context(Map.of("irq", "-1"), false)));
        assertTrue(e.getMessage().contains("irq"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(context(Map.of("baud", "9600"), false)));
        assertTrue(e.getMessage().contains("baud"), e.getMessage());
        Device d = model.create(context(Map.of("port", "760", "irq", "0x3"), false));
        assertEquals(List.of("io 0x2f8-0x2ff", "irq 3"), d.resources());
    }
}
