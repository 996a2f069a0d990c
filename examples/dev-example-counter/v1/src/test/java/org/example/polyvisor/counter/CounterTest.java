package org.example.polyvisor.counter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;

class CounterTest {

    @Test
    void ticksWithVmTimeAndSavesVersion1() {
        FakeContext ctx = new FakeContext(Map.of());
        Device d = new CounterModel().create(ctx);
        ctx.advance(105_000_000L); // 105 ms
        assertEquals(10, ctx.in(0xE00));
        SavedState s = d.saveState();
        assertEquals(1, s.version());
        assertEquals(10L, s.getLong("ticks"));
        assertThrows(IllegalArgumentException.class,
                () -> d.restoreState(SavedState.builder("example-counter", 2).put("ticks", 1L).build()),
                "v1 cannot read a newer format");
        d.close();
        assertThrows(IllegalArgumentException.class, () -> new CounterModel().create(new FakeContext(Map.of("step", "2"))));
    }
}
