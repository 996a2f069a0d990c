package org.example.polyvisor.counter;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;

class CounterTest {

    @Test
    void takesOverAVersion1StateAndCountsOn() {
        FakeContext ctx = new FakeContext(Map.of("step", "3"));
        Device d = new CounterModel().create(ctx);
        // exactly what version 1 saves
        d.restoreState(SavedState.builder("example-counter", 1).put("ticks", 500L).put("scratch", 7).build());
        assertEquals(1L, d.stats().get("took-over-state-version"));
        ctx.advance(20_000_000L);
        assertEquals(506, ctx.in(0xE00), "two periods of step 3 after 500");
        SavedState s = d.saveState();
        assertEquals(2, s.version());
        assertEquals(3, s.getInt("step"));
        assertEquals(7, s.getInt("scratch"));
        d.close();
    }
}
