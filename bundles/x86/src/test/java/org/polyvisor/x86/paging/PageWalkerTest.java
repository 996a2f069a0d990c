package org.polyvisor.x86.paging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;

class PageWalkerTest {

    /** Sparse dword memory, enough for page tables. */
    static final class Sparse implements GuestMemory {
        final Map<Long, Integer> words = new HashMap<>();

        public List<MemoryRegion> regions() { return List.of(); }
        public long ramSize() { return 1 << 30; }
        public boolean isMemory(long gpa) { return true; }
        public int readByte(long gpa) { return (readDword(gpa & ~3) >>> (8 * (int) (gpa & 3))) & 0xFF; }
        public int readWord(long gpa) { return readByte(gpa) | readByte(gpa + 1) << 8; }
        public int readDword(long gpa) { return words.getOrDefault(gpa, 0); }
        public long readQword(long gpa) { return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32; }
        public void writeByte(long gpa, int value) { throw new UnsupportedOperationException(); }
        public void writeWord(long gpa, int value) { throw new UnsupportedOperationException(); }
        public void writeDword(long gpa, int value) { words.put(gpa, value); }
        public void writeQword(long gpa, long value) { writeDword(gpa, (int) value); writeDword(gpa + 4, (int) (value >>> 32)); }
        public boolean compareAndSwapInt(long gpa, int expected, int value) {
            if (readDword(gpa) != expected) {
                return false;
            }
            writeDword(gpa, value);
            return true;
        }
        public void read(long gpa, byte[] dst, int offset, int length) { throw new UnsupportedOperationException(); }
        public void write(long gpa, byte[] src, int offset, int length) { throw new UnsupportedOperationException(); }
        public void loadRom(MemoryRegion region, long offset, byte[] image) { throw new UnsupportedOperationException(); }
        public WriteWatch watch(long gpa, long length, WriteListener listener) { return () -> { }; }
        public boolean isWatched(long gpa) { return false; }
    }

    @Test
    void twoLevelWalkSetsAccessedAndDirty() throws PageFault {
        Sparse mem = new Sparse();
        mem.writeDword(0x1000 + 4 * 1, 0x2000 | 7);          // PDE for 4-8 MiB: user, writable
        mem.writeDword(0x2000 + 4 * 3, 0x0055_5000 | 7);     // PTE for 0x403000
        PagingMode mode = new PagingMode(0x8000_0011L, 0x1000, 0, 0);
        long r = PageWalker.walk(mem, mode, 0x0040_3123L, Access.WRITE, true);
        assertEquals(0x0055_5123L, PageWalker.address(r));
        assertTrue(PageWalker.writable(r) && PageWalker.user(r) && PageWalker.dirty(r));
        assertEquals(0x20, mem.readDword(0x1004) & 0x60, "PDE accessed, never dirty");
        assertEquals(0x60, mem.readDword(0x200C) & 0x60, "PTE accessed and dirty");
    }

    @Test
    void faultsCarryArchitecturalErrorCodes() {
        Sparse mem = new Sparse();
        mem.writeDword(0x1000, 0x2000 | 5);                  // user, read-only
        mem.writeDword(0x2000, 0x3000 | 5);
        PagingMode wp = new PagingMode(0x8001_0011L, 0x1000, 0, 0);
        PageFault f = assertThrows(PageFault.class, () -> PageWalker.walk(mem, wp, 0x10, Access.WRITE, true));
        assertEquals(PageFault.P | PageFault.W | PageFault.U, f.errorCode());
        f = assertThrows(PageFault.class, () -> PageWalker.walk(mem, wp, 0x0080_0000L, Access.READ, false));
        assertEquals(0, f.errorCode());
        assertEquals(0x0080_0000L, f.linearAddress());
        f = assertThrows(PageFault.class, () -> PageWalker.walk(mem, wp, 0x20, Access.WRITE, false));
        assertEquals(PageFault.P | PageFault.W, f.errorCode(), "CR0.WP protects supervisor writes");
    }

    @Test
    void largePagesWithPse() throws PageFault {
        Sparse mem = new Sparse();
        mem.writeDword(0x1000 + 4 * 2, 0x00C0_0000 | 0x83);  // 4 MiB page at 8 MiB -> 12 MiB
        PagingMode mode = new PagingMode(0x8000_0011L, 0x1000, 0x10, 0);
        long r = PageWalker.walk(mem, mode, 0x0081_2345L, Access.READ, false);
        assertEquals(0x00C1_2345L, PageWalker.address(r));
        assertTrue(PageWalker.large(r));
    }
}
