package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TrailingOptionsTest {

    @Test
    void setsOptionsGivenAfterTheVmName() {
        ConsoleCommand c = new ConsoleCommand();
        TrailingOptions.apply(c, List.of("--timeout", "5", "-n", "--tail=3"));
        assertEquals(5, c.timeoutSeconds);
        assertTrue(c.noInput);
        assertEquals(3, c.tailLines);

        SwapCommand s = new SwapCommand();
        TrailingOptions.apply(s, List.of("--cpu", "interpreter", "--irqchip", "pic"));
        assertEquals("interpreter", s.cpu);
        assertEquals("pic", s.irqchip);

        CreateCommand cr = new CreateCommand();
        TrailingOptions.apply(cr, List.of("--memory", "16M", "--start", "--vcpus", "2"));
        assertEquals("16M", cr.memory);
        assertTrue(cr.start);
        assertEquals(2, cr.vcpus);
    }

    @Test
    void refusesWhatItCannotPlace() {
        SwapCommand s = new SwapCommand();
        assertEquals("unknown option --gpu", assertThrows(CommandFailure.class,
                () -> TrailingOptions.apply(s, List.of("--gpu", "x"))).getMessage());
        assertEquals("option --cpu needs a value", assertThrows(CommandFailure.class,
                () -> TrailingOptions.apply(s, List.of("--cpu"))).getMessage());
        assertEquals("unexpected argument 'other'", assertThrows(CommandFailure.class,
                () -> TrailingOptions.apply(s, List.of("other"))).getMessage());
        ConsoleCommand c = new ConsoleCommand();
        assertTrue(assertThrows(CommandFailure.class,
                () -> TrailingOptions.apply(c, List.of("--timeout", "soon"))).getMessage().contains("not a number"));
    }
}
