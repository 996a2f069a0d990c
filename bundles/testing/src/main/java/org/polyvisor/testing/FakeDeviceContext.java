package org.polyvisor.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.DeviceContext;

/**
 * A device context over the fakes of this package: a {@link FakePortBus}, a {@link FakeMmioBus}
 * that refuses windows over guest memory, a {@link ManualClock}, one {@link RecordingIrqLine} per
 * GSI (made on first use), a {@link RecordingVmControl}, optionally a {@link QueuedCharBackend}
 * console, per-VM services, and guest memory: by default a 16 MiB {@link FakeGuestMemory#pc PC
 * layout}, allocated only when a test or the device first asks for memory or MMIO.
 *
 * <p>The accessors return the fakes' own types, so a test reads {@code ctx.irq(4).high()} or
 * {@code ctx.control().powerOffs()} directly. {@link #withOptions} gives a second device the same
 * VM, as when a device is recreated with other options over a swap.
 */
public final class FakeDeviceContext implements DeviceContext {

    /** Default RAM of the default memory: 16 MiB. */
    public static final long DEFAULT_RAM = 16L << 20;

    /** The VM side every context made by {@link #withOptions} shares. */
    private static final class Vm {
        final String name;
        final int vcpus;
        final FakePortBus ports = new FakePortBus();
        final ManualClock clock = new ManualClock();
        final RecordingVmControl control = new RecordingVmControl();
        final Map<Integer, RecordingIrqLine> lines = new HashMap<>();
        final Map<Class<?>, Object> services = new HashMap<>();
        final QueuedCharBackend backend;
        final ByteArrayOutputStream log = new ByteArrayOutputStream();
        final Supplier<FakeGuestMemory> memoryFactory;
        FakeGuestMemory memory;
        FakeMmioBus mmio;

        Vm(String name, int vcpus, boolean console, Supplier<FakeGuestMemory> memoryFactory) {
            this.name = name;
            this.vcpus = vcpus;
            this.backend = console ? new QueuedCharBackend() : null;
            this.memoryFactory = memoryFactory;
        }

        synchronized FakeGuestMemory memory() {
            if (memory == null) {
                memory = memoryFactory.get();
            }
            return memory;
        }

        synchronized FakeMmioBus mmio() {
            if (mmio == null) {
                mmio = new FakeMmioBus(memory());
            }
            return mmio;
        }
    }

    private final Vm vm;
    private final String instanceName;
    private final Map<String, String> options;

    /**
     * A context with default settings (VM "test", instance "dev", one vCPU, 16 MiB PC memory, no
     * console) and the given options.
     *
     * @param options the device's options
     */
    public FakeDeviceContext(Map<String, String> options) {
        this(builder().options(options));
    }

    private FakeDeviceContext(Builder b) {
        this(new Vm(b.vmName, b.vcpus, b.console, b.memory), b.instanceName, b.options);
    }

    private FakeDeviceContext(Vm vm, String instanceName, Map<String, String> options) {
        this.vm = vm;
        this.instanceName = instanceName;
        this.options = Map.copyOf(options);
    }

    /**
     * Starts a context with settings other than the defaults.
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Settings of a {@link FakeDeviceContext}; every one has a default. */
    public static final class Builder {
        private String vmName = "test";
        private String instanceName = "dev";
        private int vcpus = 1;
        private boolean console;
        private Map<String, String> options = Map.of();
        private Supplier<FakeGuestMemory> memory = () -> FakeGuestMemory.pc(DEFAULT_RAM);

        private Builder() {
        }

        /**
         * Sets the device's options (default none).
         *
         * @param options the options
         * @return this builder
         */
        public Builder options(Map<String, String> options) {
            this.options = options;
            return this;
        }

        /**
         * Sets the VM's name (default "test").
         *
         * @param name the name
         * @return this builder
         */
        public Builder vmName(String name) {
            this.vmName = name;
            return this;
        }

        /**
         * Sets the device instance's name (default "dev").
         *
         * @param name the name
         * @return this builder
         */
        public Builder instanceName(String name) {
            this.instanceName = name;
            return this;
        }

        /**
         * Sets the number of vCPUs (default 1).
         *
         * @param vcpus the count
         * @return this builder
         */
        public Builder vcpus(int vcpus) {
            this.vcpus = vcpus;
            return this;
        }

        /**
         * Gives the VM a console backend (default none).
         *
         * @param console whether {@link FakeDeviceContext#console()} offers one
         * @return this builder
         */
        public Builder console(boolean console) {
            this.console = console;
            return this;
        }

        /**
         * Lays memory out as a PC with this much RAM (default 16 MiB).
         *
         * @param bytes configured RAM
         * @return this builder
         */
        public Builder ramSize(long bytes) {
            this.memory = () -> FakeGuestMemory.pc(bytes);
            return this;
        }

        /**
         * Uses a given memory instead of the default PC layout.
         *
         * @param memory the memory
         * @return this builder
         */
        public Builder memory(FakeGuestMemory memory) {
            this.memory = () -> memory;
            return this;
        }

        /**
         * Builds the context.
         *
         * @return the context
         */
        public FakeDeviceContext build() {
            return new FakeDeviceContext(this);
        }
    }

    /**
     * The same VM (buses, clock, lines, memory, control, console, services) as seen by a device
     * with other options.
     *
     * @param other the other device's options
     * @return a context sharing this one's VM
     */
    public FakeDeviceContext withOptions(Map<String, String> other) {
        return new FakeDeviceContext(vm, instanceName, other);
    }

    @Override
    public String vmName() {
        return vm.name;
    }

    @Override
    public String instanceName() {
        return instanceName;
    }

    @Override
    public Map<String, String> options() {
        return options;
    }

    @Override
    public int vcpuCount() {
        return vm.vcpus;
    }

    @Override
    public <T> Optional<T> vmService(Class<T> type) {
        synchronized (vm) {
            return Optional.ofNullable(type.cast(vm.services.get(type)));
        }
    }

    @Override
    public <T> AutoCloseable provideVmService(Class<T> type, T service) {
        synchronized (vm) {
            if (vm.services.containsKey(type)) {
                throw new IllegalStateException("another part already provides " + type.getName());
            }
            vm.services.put(type, service);
        }
        return () -> {
            synchronized (vm) {
                vm.services.remove(type, service);
            }
        };
    }

    @Override
    public FakePortBus ports() {
        return vm.ports;
    }

    @Override
    public FakeMmioBus mmio() {
        return vm.mmio();
    }

    /** Returns the line of a GSI, the same one on every call. */
    @Override
    public RecordingIrqLine irq(int gsi) {
        if (gsi < 0) {
            throw new IllegalArgumentException("no GSI " + gsi);
        }
        synchronized (vm) {
            return vm.lines.computeIfAbsent(gsi, g -> new RecordingIrqLine());
        }
    }

    @Override
    public FakeGuestMemory memory() {
        return vm.memory();
    }

    @Override
    public ManualClock clock() {
        return vm.clock;
    }

    @Override
    public RecordingVmControl control() {
        return vm.control;
    }

    @Override
    public Optional<CharBackend> console() {
        return Optional.ofNullable(vm.backend);
    }

    @Override
    public IntConsumer log() {
        return b -> {
            synchronized (vm.log) {
                vm.log.write(b);
            }
        };
    }

    /**
     * Returns what devices wrote to the VM's log so far.
     *
     * @return the bytes as ISO-8859-1 text
     */
    public String logged() {
        synchronized (vm.log) {
            return vm.log.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * Returns the console backend.
     *
     * @return the backend
     * @throws IllegalStateException if the context was built without a console
     */
    public QueuedCharBackend backend() {
        if (vm.backend == null) {
            throw new IllegalStateException("this context has no console; build it with console(true)");
        }
        return vm.backend;
    }

    /**
     * Writes one byte to a port, as the guest's {@code OUT} does.
     *
     * @param port  the port
     * @param value the byte
     */
    public void outb(int port, int value) {
        vm.ports.write(port, 1, value);
    }

    /**
     * Reads one byte from a port, as the guest's {@code IN} does.
     *
     * @param port the port
     * @return the byte
     */
    public int inb(int port) {
        return vm.ports.read(port, 1);
    }

    /**
     * Advances the clock, running due timers.
     *
     * @param nanos nanoseconds
     */
    public void advance(long nanos) {
        vm.clock.advance(nanos);
    }
}
