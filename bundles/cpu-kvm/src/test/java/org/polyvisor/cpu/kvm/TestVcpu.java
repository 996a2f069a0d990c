package org.polyvisor.cpu.kvm;

import java.nio.ByteBuffer;
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
import org.polyvisor.mmu.Mmu;
import org.polyvisor.testing.FakeGuestMemory;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/**
 * A vCPU's world for engine tests: RAM regions, buses that record accesses, an interrupt source
 * the test drives, and a realtime clock.
 */
final class TestVcpu implements VcpuContext {

    record Access(boolean write, long address, int size, long value) {
    }

    final FakeGuestMemory memory;
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
        memory = FakeGuestMemory.flat(ramBytes);
    }

    ByteBuffer ram() {
        return memory.region("ram").backing();
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
}
