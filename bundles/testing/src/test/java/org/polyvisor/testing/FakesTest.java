package org.polyvisor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.time.VmClock;

/** The fakes keep the API's documented semantics, so tests against them mean something. */
class FakesTest {

    /** A port device that answers its offset and records writes as "offset=value". */
    private static final class Echo implements PortDevice, MmioDevice {
        final List<String> writes = new ArrayList<>();

        @Override
        public int read(int offset, int size) {
            return offset;
        }

        @Override
        public void write(int offset, int size, int value) {
            writes.add(offset + "=" + value);
        }

        @Override
        public long read(long offset, int size) {
            return offset;
        }

        @Override
        public void write(long offset, int size, long value) {
            writes.add(offset + "=" + value);
        }
    }

    @Test
    void portBusDispatchesOffsetsRefusesOverlapsAndReadsAllOnesElsewhere() {
        FakePortBus bus = new FakePortBus();
        Echo dev = new Echo();
        Registration r = bus.map(0x3F8, 8, "com1", dev);
        assertEquals(3, bus.inb(0x3FB));
        bus.write(0x3F9, 1, 7);
        assertEquals(List.of("1=7"), dev.writes);
        assertEquals(0xFF, bus.inb(0x400));
        assertEquals(0xFFFF, bus.read(0x400, 2));
        assertThrows(IllegalArgumentException.class, () -> bus.map(0x3FF, 1, "x", dev));
        assertThrows(IllegalArgumentException.class, () -> bus.map(0x3F0, 0x10, "x", dev), "covers the window");
        assertThrows(IllegalArgumentException.class, () -> bus.map(0xFFFF, 2, "x", dev), "past 64 KiB");
        bus.map(0x3F0, 8, "below", dev);
        assertEquals(List.of(0x3F0L, 0x3F8L), bus.windows().stream().map(Registration::base).toList());
        r.close();
        r.close();
        assertEquals(0xFF, bus.inb(0x3F8));
        assertEquals(1, bus.windows().size());
    }

    @Test
    void mmioBusRefusesWindowsOverMemoryAndOverlaps() {
        FakeGuestMemory mem = FakeGuestMemory.flat(0x10_0000);
        FakeMmioBus bus = new FakeMmioBus(mem);
        Echo dev = new Echo();
        assertThrows(IllegalArgumentException.class, () -> bus.map(0xF_F000, 0x2000, "x", dev));
        bus.map(0xFEC0_0000L, 0x1000, "ioapic", dev);
        assertThrows(IllegalArgumentException.class, () -> bus.map(0xFEBF_F000L, 0x2000, "x", dev));
        assertTrue(bus.isMapped(0xFEC0_0FFFL));
        assertFalse(bus.isMapped(0xFEC0_1000L));
        assertEquals(0x10, bus.read(0xFEC0_0010L, 4));
        assertEquals(-1L, bus.read(0xFEE0_0000L, 8));
        assertEquals(0xFFFF_FFFFL, bus.read(0xFEE0_0000L, 4));
    }

    @Test
    void memoryDropsRomAndOpenBusWritesAndTellsWatches() {
        FakeGuestMemory mem = FakeGuestMemory.builder().ram(0, 0x2000).rom(0xF000, 0x1000, "bios").build();
        mem.writeDword(0x0FFE, 0x1122_3344); // straddles a page
        assertEquals(0x1122_3344, mem.readDword(0x0FFE));
        assertEquals(0xFF, mem.readByte(0x5000));
        assertEquals(-1L, mem.readQword(0x5000));
        mem.writeByte(0xF000, 1);
        assertEquals(0, mem.readByte(0xF000), "ROM is written only by loadRom");
        mem.loadRom(mem.region("bios"), 0, new byte[] {0x55, (byte) 0xAA});
        assertEquals(0xAA55, mem.readWord(0xF000));
        assertThrows(IllegalArgumentException.class, () -> mem.loadRom(mem.region("ram"), 0, new byte[1]));

        List<String> seen = new ArrayList<>();
        GuestMemory.WriteWatch w = mem.watch(0x1000, 1, (gpa, n) -> seen.add(Long.toHexString(gpa) + "/" + n));
        assertTrue(mem.isWatched(0x1FFF));
        assertFalse(mem.isWatched(0x0FFF));
        mem.writeWord(0x1800, 1);
        mem.writeByte(0x0800, 1);
        assertTrue(mem.compareAndSwapInt(0x1004, 0, 5));
        assertFalse(mem.compareAndSwapInt(0x1004, 0, 6));
        mem.write(0x0FF0, new byte[0x20], 0, 0x20);
        assertEquals(List.of("1800/2", "1004/4", "ff0/32"), seen);
        w.close();
        w.close();
        assertFalse(mem.isWatched(0x1000));
        assertEquals(0, mem.watchCount());
    }

    @Test
    void pcLayoutHasTheHolesAndTheBiosRom() {
        FakeGuestMemory mem = FakeGuestMemory.pc(6L << 30);
        assertEquals(6L << 30, mem.ramSize());
        assertTrue(mem.isMemory(0x9_FFFF));
        assertFalse(mem.isMemory(0xA_0000));
        assertTrue(mem.isMemory(0x10_0000));
        assertFalse(mem.isMemory(0xE000_0000L));
        assertTrue(mem.isMemory(0xFFFF_FFF0L));
        assertTrue(mem.isMemory(0x1_A000_0000L - 1)); // 2.5 GiB above 4 GiB
        assertFalse(mem.isMemory(0x1_A000_0000L));
        mem.writeQword(0x1_2345_6780L, 42);
        assertEquals(42, mem.readQword(0x1_2345_6780L));
        for (MemoryRegion r : mem.regions()) {
            assertTrue(r.backing().isDirect());
        }
    }

    @Test
    void clockRunsDueTimersInOrderAtTheirDeadlines() {
        ManualClock clock = new ManualClock();
        List<String> ran = new ArrayList<>();
        clock.schedule(300, () -> ran.add("c@" + clock.nanos()));
        clock.schedule(100, () -> ran.add("a@" + clock.nanos()));
        clock.schedule(100, () -> {
            ran.add("b@" + clock.nanos());
            clock.schedule(150, () -> ran.add("d@" + clock.nanos()));
        });
        VmClock.Timer gone = clock.schedule(200, () -> ran.add("cancelled"));
        gone.cancel();
        assertEquals(3, clock.pending());
        clock.advance(250);
        assertEquals(List.of("a@100", "b@100", "d@150"), ran);
        assertEquals(250, clock.nanos());
        assertEquals(1, clock.pending());
        assertThrows(IllegalArgumentException.class, () -> clock.advance(-1));
    }

    @Test
    void lineControlAndConsoleRecord() {
        RecordingIrqLine line = new RecordingIrqLine();
        line.raise();
        line.raise();
        line.pulse();
        line.lower();
        assertEquals(1, line.raises());
        assertEquals(1, line.lowers());
        assertFalse(line.high());

        RecordingVmControl control = new RecordingVmControl();
        control.powerOff(3);
        control.reset();
        control.setA20(false);
        assertEquals(List.of(3), control.powerOffs());
        assertEquals(1, control.resets());
        assertFalse(control.a20());

        QueuedCharBackend console = new QueuedCharBackend();
        int[] told = {0};
        console.onInput(() -> told[0]++);
        console.type("hi");
        assertEquals(1, told[0]);
        assertEquals(2, console.pendingInput());
        assertEquals('h', console.read());
        console.write('x');
        assertEquals("x", console.output());

        RecordingInterruptSource source = new RecordingInterruptSource();
        source.request(0x20);
        assertTrue(source.hasInterrupt());
        assertEquals(0x20, source.acknowledge());
        assertEquals(-1, source.acknowledge());
        assertEquals(List.of(0x20), source.acknowledged());
    }

    @Test
    void deviceContextSharesItsVmWithOtherOptions() {
        FakeDeviceContext ctx = FakeDeviceContext.builder().options(Map.of("a", "1")).console(true).build();
        FakeDeviceContext other = ctx.withOptions(Map.of("b", "2"));
        assertEquals(Map.of("b", "2"), other.options());
        assertSame(ctx.ports(), other.ports());
        assertSame(ctx.irq(4), other.irq(4));
        assertSame(ctx.memory(), other.memory());
        assertSame(ctx.backend(), other.console().orElseThrow());
        assertEquals(16L << 20, ctx.memory().ramSize());
        assertThrows(IllegalStateException.class, () -> new FakeDeviceContext(Map.of()).backend());
        assertThrows(IllegalArgumentException.class, () -> ctx.mmio().map(0x1000, 0x1000, "x", new Echo()));

        AutoCloseable reg = ctx.provideVmService(String.class, "bus");
        assertEquals("bus", other.vmService(String.class).orElseThrow());
        assertThrows(IllegalStateException.class, () -> other.provideVmService(String.class, "again"));
        assertThrows(Exception.class, () -> {
            reg.close();
            other.vmService(String.class).orElseThrow();
        });
    }

    @Test
    void irqChipContextCountsKicksAndRefusesForbiddenOnes() {
        FakeIrqChipContext ctx = new FakeIrqChipContext(2);
        ctx.kick(1);
        ctx.wake(1);
        assertEquals(2, ctx.kicks(1));
        assertEquals(2, ctx.totalKicks());
        FakeIrqChipContext pic = ctx.kickingOnly(0);
        pic.kick(0);
        assertThrows(AssertionError.class, () -> pic.kick(1));
        assertSame(ctx.clock(), pic.clock());
    }
}
