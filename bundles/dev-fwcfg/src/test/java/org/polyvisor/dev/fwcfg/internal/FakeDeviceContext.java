package org.polyvisor.dev.fwcfg.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;
import org.polyvisor.time.VmClock;

/** A device context with a fake port bus, a hand-driven clock, recording IRQ lines and small RAM. */
final class FakeDeviceContext implements DeviceContext {

    /** An IRQ line that records its level and counts rising edges. */
    static final class Line implements IrqLine {
        boolean high;
        int edges;

        @Override
        public void raise() {
            if (!high) {
                edges++;
            }
            high = true;
        }

        @Override
        public void lower() {
            high = false;
        }
    }

    final FakePortBus ports = new FakePortBus();
    final FakeClock clock = new FakeClock();
    final Line[] lines = new Line[24];
    final List<Integer> powerOffs = new ArrayList<>();
    int resets;
    final Map<String, String> options;
    final Memory memory;

    FakeDeviceContext(Map<String, String> options) {
        this(options, 16L << 20);
    }

    FakeDeviceContext(Map<String, String> options, long ramSize) {
        this.options = options;
        for (int i = 0; i < lines.length; i++) {
            lines[i] = new Line();
        }
        this.memory = new Memory(ramSize);
    }

    /**
     * Regions laid out as the core lays out a PC: 640 KiB, a hole to 1 MiB, RAM from 1 MiB up to
     * 3.5 GiB, the rest above 4 GiB, and a 64 KiB BIOS ROM below 4 GiB. Backed by sparse mapped
     * files, so large sizes cost nothing; only the first MiB is readable and writable here.
     */
    static final class Memory implements GuestMemory {
        final long ramSize;
        final List<MemoryRegion> regions = new ArrayList<>();
        final byte[] low = new byte[1 << 20]; // the first MiB, where tests put DMA structures

        Memory(long ramSize) {
            this.ramSize = ramSize;
            regions.add(region(0, 0xA_0000, MemoryRegion.Kind.RAM, "ram-low"));
            long below = Math.min(ramSize, 0xE000_0000L);
            for (long base = 0x10_0000; base < below; base += 1L << 30) {
                regions.add(region(base, Math.min(below - base, 1L << 30), MemoryRegion.Kind.RAM, "ram"));
            }
            regions.add(region(0xFFFF_0000L, 0x1_0000, MemoryRegion.Kind.ROM, "firmware"));
            for (long base = 0x1_0000_0000L; base < 0x1_0000_0000L + ramSize - below; base += 1L << 30) {
                regions.add(region(base, Math.min(0x1_0000_0000L + ramSize - below - base, 1L << 30),
                        MemoryRegion.Kind.RAM, "ram-high"));
            }
        }

        private static MemoryRegion region(long base, long size, MemoryRegion.Kind kind, String name) {
            try {
                java.nio.file.Path f = java.nio.file.Files.createTempFile("fake-ram", ".bin");
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                        java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
                    ByteBuffer b = ch.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, 0, size)
                            .order(ByteOrder.LITTLE_ENDIAN);
                    return new MemoryRegion(base, size, kind, name, b);
                } finally {
                    java.nio.file.Files.delete(f);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public List<MemoryRegion> regions() {
            return regions;
        }

        @Override
        public long ramSize() {
            return ramSize;
        }

        @Override
        public boolean isMemory(long gpa) {
            return gpa >= 0 && gpa < low.length;
        }

        @Override
        public int readByte(long gpa) {
            return isMemory(gpa) ? low[(int) gpa] & 0xFF : 0xFF;
        }

        @Override
        public int readWord(long gpa) {
            return readByte(gpa) | readByte(gpa + 1) << 8;
        }

        @Override
        public int readDword(long gpa) {
            return readWord(gpa) | readWord(gpa + 2) << 16;
        }

        @Override
        public long readQword(long gpa) {
            return (readDword(gpa) & 0xFFFF_FFFFL) | (long) readDword(gpa + 4) << 32;
        }

        @Override
        public void writeByte(long gpa, int value) {
            if (isMemory(gpa)) {
                low[(int) gpa] = (byte) value;
            }
        }

        @Override
        public void writeWord(long gpa, int value) {
            writeByte(gpa, value);
            writeByte(gpa + 1, value >>> 8);
        }

        @Override
        public void writeDword(long gpa, int value) {
            writeWord(gpa, value);
            writeWord(gpa + 2, value >>> 16);
        }

        @Override
        public void writeQword(long gpa, long value) {
            writeDword(gpa, (int) value);
            writeDword(gpa + 4, (int) (value >>> 32));
        }

        @Override
        public boolean compareAndSwapInt(long gpa, int expected, int value) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void read(long gpa, byte[] dst, int offset, int length) {
            for (int i = 0; i < length; i++) {
                dst[offset + i] = (byte) readByte(gpa + i);
            }
        }

        @Override
        public void write(long gpa, byte[] src, int offset, int length) {
            for (int i = 0; i < length; i++) {
                writeByte(gpa + i, src[offset + i]);
            }
        }

        @Override
        public void loadRom(MemoryRegion region, long offset, byte[] image) {
            throw new UnsupportedOperationException();
        }

        @Override
        public WriteWatch watch(long gpa, long length, WriteListener listener) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isWatched(long gpa) {
            return false;
        }
    }

    /** The same VM (buses, clock, lines, memory) as seen by a device with other options. */
    DeviceContext withOptions(Map<String, String> other) {
        FakeDeviceContext self = this;
        return new DeviceContext() {
            @Override
            public String vmName() {
                return self.vmName();
            }

            @Override
            public String instanceName() {
                return self.instanceName();
            }

            @Override
            public Map<String, String> options() {
                return other;
            }

            @Override
            public PortBus ports() {
                return self.ports();
            }

            @Override
            public MmioBus mmio() {
                return self.mmio();
            }

            @Override
            public IrqLine irq(int gsi) {
                return self.irq(gsi);
            }

            @Override
            public GuestMemory memory() {
                return self.memory();
            }

            @Override
            public VmClock clock() {
                return self.clock();
            }

            @Override
            public VmControl control() {
                return self.control();
            }

            @Override
            public Optional<CharBackend> console() {
                return self.console();
            }
        };
    }

    @Override
    public String vmName() {
        return "test";
    }

    @Override
    public String instanceName() {
        return "dev";
    }

    @Override
    public Map<String, String> options() {
        return options;
    }

    @Override
    public PortBus ports() {
        return ports;
    }

    @Override
    public MmioBus mmio() {
        throw new UnsupportedOperationException();
    }

    @Override
    public IrqLine irq(int gsi) {
        return lines[gsi];
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public VmClock clock() {
        return clock;
    }

    @Override
    public VmControl control() {
        return new VmControl() {
            @Override
            public void powerOff(int exitStatus) {
                powerOffs.add(exitStatus);
            }

            @Override
            public void reset() {
                resets++;
            }
        };
    }

    @Override
    public Optional<CharBackend> console() {
        return Optional.empty();
    }

    void outb(int port, int value) {
        ports.write(port, 1, value);
    }

    int inb(int port) {
        return ports.read(port, 1);
    }

    void advance(long nanos) {
        clock.advance(nanos);
    }
}
