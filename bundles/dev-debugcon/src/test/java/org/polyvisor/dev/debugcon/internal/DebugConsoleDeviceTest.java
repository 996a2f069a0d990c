package org.polyvisor.dev.debugcon.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;
import org.polyvisor.testing.FakeDeviceContext;

class DebugConsoleDeviceTest {

    private final DebugConsoleModel model = new DebugConsoleModel();

    @Test
    void bytesWrittenReachTheVmLog() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        Device dev = model.create(ctx);
        for (char c : "SeaBIOS\n".toCharArray()) {
            ctx.ports().write(0x402, 1, c);
        }
        ctx.ports().write(0x402, 2, 0x4121); // a wider OUT carries its low byte only
        assertEquals("SeaBIOS\n!", ctx.logged());
        assertEquals(9L, dev.stats().get("bytes"));
    }

    @Test
    void readsGiveTheReadbackValueSeaBiosLooksFor() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        model.create(ctx);
        assertEquals(0xE9, ctx.ports().read(0x402, 1));
        assertEquals(0xFF, ctx.ports().read(0x403, 1)); // one port only
        FakeDeviceContext other = new FakeDeviceContext(Map.of("port", "0xe9", "readback", "0x42"));
        model.create(other);
        assertEquals(0x42, other.ports().read(0xE9, 1));
        other.ports().write(0xE9, 1, 'x');
        assertEquals("x", other.logged());
    }

    @Test
    void badOptionsAreRefusedNamingThem() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("iobase", "0xe9"))));
        assertTrue(e.getMessage().contains("unknown option 'iobase'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("port", "0x10000"))));
        assertTrue(e.getMessage().contains("port"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("readback", "256"))));
        assertTrue(e.getMessage().contains("readback"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> model.create(new FakeDeviceContext(Map.of("port", "e9"))));
        assertTrue(e.getMessage().contains("not a number"), e.getMessage());
    }

    @Test
    void stateAndResources() {
        FakeDeviceContext ctx = new FakeDeviceContext(Map.of());
        Device dev = model.create(ctx);
        SavedState s = dev.saveState();
        dev.restoreState(s);
        assertThrows(RuntimeException.class, () -> dev.restoreState(SavedState.builder("uart", 1).build()));
        assertEquals(List.of("io 0x402"), dev.resources());
        dev.close();
        assertEquals(0xFF, ctx.ports().read(0x402, 1)); // unmapped after close
    }
}
