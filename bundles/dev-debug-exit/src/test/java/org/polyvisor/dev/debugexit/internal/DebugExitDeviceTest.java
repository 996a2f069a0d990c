package org.polyvisor.dev.debugexit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeDeviceContext;

class DebugExitDeviceTest {

    private final DebugExitModel model = new DebugExitModel();

    @Test
    void zeroGivesStatusOne() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        model.create(ctx);
        ctx.ports().write(0xF4, 1, 0);
        assertEquals(List.of(1), ctx.control().powerOffs());
    }

    @Test
    void sixteenGivesThirtyThree() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        model.create(ctx);
        ctx.ports().write(0xF4, 4, 0x10);
        assertEquals(List.of(33), ctx.control().powerOffs());
    }

    @Test
    void widthsAndOffsets() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        Device dev = model.create(ctx);
        ctx.ports().write(0xF4, 1, 0x1FF);       // a byte OUT carries only the low byte
        ctx.ports().write(0xF4, 2, 0x1_2345);    // a word OUT carries 16 bits
        ctx.ports().write(0xF6, 2, 0x0001);      // any offset in the window
        ctx.ports().write(0xF4, 4, 0x4000_0000); // 32 bits; the top bit is shifted out as in QEMU
        ctx.ports().write(0xF7, 1, 0x01);
        assertEquals(List.of(0x1FF, 0x4_68B, 3, 0x8000_0001, 3), ctx.control().powerOffs());
        assertEquals(5L, dev.stats().get("writes"));
    }

    @Test
    void readsReturnZeroAsQemu() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        model.create(ctx);
        assertEquals(0, ctx.ports().read(0xF4, 1));
        assertEquals(0, ctx.ports().read(0xF4, 4));
        assertEquals(0xFF, ctx.ports().read(0xF8, 1)); // outside the window: unclaimed
        assertTrue(ctx.control().powerOffs().isEmpty());
    }

    @Test
    void optionsInHexAndDecimal() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of("port", "0x501", "size", "2"));
        Device dev = model.create(ctx);
        assertEquals(List.of("io 0x501-0x502"), dev.resources());
        ctx.ports().write(0x502, 1, 2);
        ctx.ports().write(0x503, 1, 2); // outside
        assertEquals(List.of(5), ctx.control().powerOffs());

        FakeDeviceContext dec = new FakeDeviceContext(Map.of("port", "244"));
        assertEquals(List.of("io 0xf4-0xf7"), model.create(dec).resources());
    }

    @Test
    void badOptionsAreNamed() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("port", "0xzz"))));
        assertTrue(e.getMessage().contains("port"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("size", "0"))));
        assertTrue(e.getMessage().contains("size"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("port", "0xFFFE"))));
        assertTrue(e.getMessage().contains("port space"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("iobase", "1"))));
        assertTrue(e.getMessage().contains("iobase"), e.getMessage());
    }

    @Test
    void stateIsVersionedAndCloseUnmaps() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        Device dev = model.create(ctx);
        SavedState s = dev.saveState();
        assertEquals("debug-exit", s.type());
        assertEquals(1, s.version());
        dev.restoreState(s);
        assertThrows(IllegalArgumentException.class,
                () -> dev.restoreState(SavedState.builder("uart16550", 1).build()));
        dev.close();
        assertTrue(ctx.ports().windows().isEmpty());
    }
}
