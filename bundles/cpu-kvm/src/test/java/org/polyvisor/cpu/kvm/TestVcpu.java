package org.polyvisor.cpu.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.memory.WriteListener;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/**
 * A vCPU's world for engine tests: RAM regions, buses that record accesses, an interrupt source
 * the test drives, and a realtime clock.
 */
final class TestVcpu implements VcpuContext {

    record Access(boolean write, long address, int size, long value) {
    }

    final Memory memory;
    final ConcurrentLinkedQueue<Access> ports = new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<Access> mmio = new ConcurrentLinkedQueue<>();
    volatile int portReadValue = 0xFF;
    volatile long mmioReadValue = -1;
    volatile int pendingVector = -1;
    /** Run when the guest writes this port (e.g. to stop the engine), or null. */
    volatile Runnable onPortWrite;
    volatile int stopPort = -1;
    ClockMode clockMode = ClockMode.REALTIME;

    TestVcpu(long ramBytes) {
        memory = new Memory(List.of(new MemoryRegion(0, ramBytes, MemoryRegion.Kind.RAM, "ram", allocate(ramBytes))));
    }

    static ByteBuffer allocate(long size) {
        return ByteBuffer.allocateDirect((int) size + 4096).alignedSlice(4096).slice(0, (int) size)
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    ByteBuffer ram() {
        return memory.regions().get(0).backing();
    }

    @Override
    public String vmName() {
        return "test";
    }

    @Override
    public int vcpuId() {
        return 0;
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public PortBus ports() {
        return new PortBus() {
            @Override
            public Registration map(int base, int length, String owner, PortDevice device) {
                throw new UnsupportedOperationException();
            }

            @Override
            public int read(int port, int size) {
                ports.add(new Access(false, port, size, 0));
                return portReadValue;
            }

            @Override
            public void write(int port, int size, int value) {
                ports.add(new Access(true, port, size, value & 0xFFFF_FFFFL));
                Runnable r = onPortWrite;
                if (r != null && port == stopPort) {
                    r.run();
                }
            }

            @Override
            public List<Registration> windows() {
                return List.of();
            }
        };
    }

    @Override
    public MmioBus mmio() {
        return new MmioBus() {
            @Override
            public Registration map(long base, long length, String owner, MmioDevice device) {
                throw new UnsupportedOperationException();
            }

            @Override
            public boolean isMapped(long gpa) {
                return true;
            }

            @Override
            public long read(long gpa, int size) {
                mmio.add(new Access(false, gpa, size, 0));
                return mmioReadValue;
            }

            @Override
            public void write(long gpa, int size, long value) {
                mmio.add(new Access(true, gpa, size, value));
            }

            @Override
            public List<Registration> windows() {
                return List.of();
            }
        };
    }

    @Override
    public InterruptSource interrupts() {
        return new InterruptSource() {
            @Override
            public boolean hasInterrupt() {
                return pendingVector >= 0;
            }

            @Override
            public int acknowledge() {
                int v = pendingVector;
                pendingVector = -1;
                return v;
            }
        };
    }

    @Override
    public VmClock clock() {
        return new VmClock() {
            @Override
            public ClockMode mode() {
                return clockMode;
            }

            @Override
            public long nanos() {
                return System.nanoTime();
            }

            @Override
            public Timer schedule(long deadlineNanos, Runnable action) {
                throw new UnsupportedOperationException();
            }
        };
    }

    @Override
    public long a20Mask() {
        return -1L;
    }

    @Override
    public Optional<Mmu> mmu() {
        return Optional.empty();
    }

    /** RAM only, little-endian, open bus elsewhere. */
    static final class Memory implements GuestMemory {
        private final List<MemoryRegion> regions;

        Memory(List<MemoryRegion> regions) {
            this.regions = new ArrayList<>(regions);
        }

        private MemoryRegion find(long gpa) {
            for (MemoryRegion r : regions) {
                if (r.contains(gpa)) {
                    return r;
                }
            }
            return null;
        }

        @Override
        public List<MemoryRegion> regions() {
            return regions;
        }

        @Override
        public long ramSize() {
            return regions.stream().mapToLong(MemoryRegion::size).sum();
        }

        @Override
        public boolean isMemory(long gpa) {
            return find(gpa) != null;
        }

        @Override
        public int readByte(long gpa) {
            MemoryRegion r = find(gpa);
            return r == null ? 0xFF : r.backing().get((int) (gpa - r.guestBase())) & 0xFF;
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
            MemoryRegion r = find(gpa);
            if (r != null) {
                r.backing().put((int) (gpa - r.guestBase()), (byte) value);
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
            if (readDword(gpa) != expected) {
                return false;
            }
            writeDword(gpa, value);
            return true;
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
            region.backing().put((int) offset, image);
        }

        @Override
        public WriteWatch watch(long gpa, long length, WriteListener listener) {
            return () -> { };
        }

        @Override
        public boolean isWatched(long gpa) {
            return false;
        }
    }
}
