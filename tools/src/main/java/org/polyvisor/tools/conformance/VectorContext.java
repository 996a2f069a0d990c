package org.polyvisor.tools.conformance;

import java.util.List;
import java.util.Optional;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/**
 * The machine around one vector: guest RAM, no devices (port reads return all ones, as the vector
 * README requires for IN/INS, writes are dropped), no MMIO, no interrupts, a stopped clock.
 */
final class VectorContext implements VcpuContext {

    private final GuestMemory memory;

    private static final PortBus PORTS = new PortBus() {
        @Override
        public Registration map(int base, int length, String owner, PortDevice device) {
            throw new UnsupportedOperationException("no devices in a conformance run");
        }

        @Override
        public int read(int port, int size) {
            return size == 1 ? 0xFF : size == 2 ? 0xFFFF : -1; // floating bus
        }

        @Override
        public void write(int port, int size, int value) {
        }

        @Override
        public List<Registration> windows() {
            return List.of();
        }
    };

    private static final MmioBus MMIO = new MmioBus() {
        @Override
        public Registration map(long base, long length, String owner, MmioDevice device) {
            throw new UnsupportedOperationException("no devices in a conformance run");
        }

        @Override
        public boolean isMapped(long gpa) {
            return false;
        }

        @Override
        public long read(long gpa, int size) {
            return -1L;
        }

        @Override
        public void write(long gpa, int size, long value) {
        }

        @Override
        public List<Registration> windows() {
            return List.of();
        }
    };

    private static final VmClock CLOCK = new VmClock() {
        @Override
        public ClockMode mode() {
            return ClockMode.DETERMINISTIC;
        }

        @Override
        public long nanos() {
            return 0;
        }

        @Override
        public Timer schedule(long deadlineNanos, Runnable action) {
            return () -> { };
        }
    };

    VectorContext(GuestMemory memory) {
        this.memory = memory;
    }

    @Override
    public String vmName() {
        return "conformance";
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
        return PORTS;
    }

    @Override
    public MmioBus mmio() {
        return MMIO;
    }

    @Override
    public InterruptSource interrupts() {
        return InterruptSource.NONE;
    }

    @Override
    public VmClock clock() {
        return CLOCK;
    }

    @Override
    public Optional<Mmu> mmu() {
        return Optional.empty();
    }

    /**
     * A20 on (the vectors need it: addresses up to 10FFEFh do not wrap); VcpuContext.a20Mask, API 0.2.
     *
     * @return all ones
     */
    public long a20Mask() {
        return -1L;
    }
}
