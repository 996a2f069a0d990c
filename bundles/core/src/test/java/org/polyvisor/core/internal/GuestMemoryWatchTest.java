package org.polyvisor.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.polyvisor.memory.GuestMemory;

/** Write watches of guest memory: each write reaches exactly the watches of its page, in order. */
class GuestMemoryWatchTest {

    private final GuestMemoryImpl memory = GuestMemoryImpl.pc(16L << 20, null);
    private final List<String> seen = new ArrayList<>();

    private GuestMemory.WriteWatch watch(String name, long gpa, long length) {
        return memory.watch(gpa, length, (a, n) -> seen.add(String.format("%s 0x%x+%d", name, a, n)));
    }

    @Test
    void aWriteReachesOnlyTheWatchesOfItsPage() {
        watch("a", 0x20_0000, 4096);
        watch("b", 0x20_1000, 4096);
        watch("c", 0x30_0000, 4096);
        memory.writeDword(0x20_1010, 7);
        assertEquals(List.of("b 0x201010+4"), seen);
        seen.clear();
        memory.writeByte(0x40_0000, 1); // unwatched
        memory.writeWord(0x20_0ffe, 0x1234); // the last two bytes of a's page
        assertEquals(List.of("a 0x200ffe+2"), seen);
    }

    @Test
    void severalWatchesOfOnePageAreCalledInTheOrderTheyWereAdded() {
        watch("first", 0x10_0000, 1);
        watch("span", 0x0F_F000, 3 * 4096); // 0xFF000..0x101FFF
        watch("last", 0x10_0800, 16);
        memory.writeQword(0x10_0100, -1L);
        assertEquals(List.of("first 0x100100+8", "span 0x100100+8", "last 0x100100+8"), seen);
        seen.clear();
        memory.writeByte(0x10_1fff, 0);
        memory.writeByte(0x10_2000, 0);
        assertEquals(List.of("span 0x101fff+1"), seen, "a multi-page watch covers each of its pages, no more");
    }

    @Test
    void closingAWatchLeavesTheOthersOfItsPage() {
        GuestMemory.WriteWatch a = watch("a", 0x50_0000, 4096);
        watch("b", 0x50_0000, 8192);
        a.close();
        a.close(); // idempotent
        assertTrue(memory.isWatched(0x50_0000));
        memory.writeDword(0x50_0000, 1);
        memory.write(0x50_0ff0, new byte[32], 0, 32); // a bulk copy crossing into the next page
        assertEquals(List.of("b 0x500000+4", "b 0x500ff0+16", "b 0x501000+16"), seen);
    }

    @Test
    void aPageWithoutWatchesIsNotWatched() {
        GuestMemory.WriteWatch a = watch("a", 0x60_0000, 4096);
        assertTrue(memory.isWatched(0x60_0abc));
        a.close();
        assertFalse(memory.isWatched(0x60_0abc));
        memory.writeDword(0x60_0000, 5);
        assertEquals(List.of(), seen);
        assertEquals(5, memory.readDword(0x60_0000));
    }
}
