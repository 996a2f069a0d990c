package org.polyvisor.virtio.testing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.testing.FakeGuestMemory;
import org.polyvisor.testing.FakeMmioBus;
import org.polyvisor.testing.FakePortBus;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/**
 * A VM's platform side for device tests: memory, buses, recording interrupt lines, and the real PCI
 * host bridge from dev-pci, so devices are driven through configuration mechanism #1 as a guest does.
 */
public final class TestVm implements AutoCloseable {

    private static int counter;

    /** An IRQ line recording its level and rising edges. */
    public static final class Line implements IrqLine {
        /** Current level. */
        public volatile boolean high;
        /** Rising edges seen. */
        public volatile int raises;

        @Override
        public synchronized void raise() {
            if (!high) {
                raises++;
            }
            high = true;
        }

        @Override
        public synchronized void lower() {
            high = false;
        }
    }

    /** The VM name (unique per test VM). */
    public final String name;
    /** Guest memory. */
    public final FakeGuestMemory memory;
    /** Port bus. */
    public final FakePortBus ports = new FakePortBus();
    /** MMIO bus. */
    public final FakeMmioBus mmio;
    /** Interrupt lines by GSI. */
    public final Map<Integer, Line> lines = new HashMap<>();
    private final List<Device> devices = new ArrayList<>();
    private CharBackend console;
    /** Per-VM services the parts offer each other (the PCI bus). */
    private final Map<Class<?>, Object> services = new java.util.HashMap<>();

    /**
     * Creates a VM with 16 MiB of RAM and its PCI host bridge.
     */
    public TestVm() {
        this(16 << 20, true);
    }

    /**
     * Creates a VM.
     *
     * @param ram    RAM size
     * @param bridge whether to create the PCI host bridge now
     */
    public TestVm(long ram, boolean bridge) {
        synchronized (TestVm.class) {
            name = "vm" + (++counter) + "-" + System.nanoTime();
        }
        memory = FakeGuestMemory.builder().ram(0, ram).rom(0xFFFF_0000L, 0x1_0000, "rom").build();
        mmio = new FakeMmioBus(memory);
        if (bridge) {
            addBridge();
        }
    }

    /** Adds the PCI host bridge. */
    public void addBridge() {
        add(new org.polyvisor.dev.pci.internal.PciHostModel(), "pci", Map.of());
    }

    /**
     * Sets the console backend the next devices get.
     *
     * @param backend the backend or null
     */
    public void console(CharBackend backend) {
        this.console = backend;
    }

    /**
     * Returns a line.
     *
     * @param gsi the GSI
     * @return the line
     */
    public synchronized Line line(int gsi) {
        return lines.computeIfAbsent(gsi, g -> new Line());
    }

    /**
     * Creates a device.
     *
     * @param model    the model
     * @param instance the instance name
     * @param options  its options
     * @return the device
     */
    public Device add(DeviceModel model, String instance, Map<String, String> options) {
        Device d = model.create(context(instance, options));
        devices.add(d);
        return d;
    }

    /**
     * Returns a device context for this VM.
     *
     * @param instance the instance name
     * @param options  options
     * @return the context
     */
    public DeviceContext context(String instance, Map<String, String> options) {
        CharBackend c = console;
        return new DeviceContext() {
            @Override
            public String vmName() {
                return name;
            }

            @Override
            public String instanceName() {
                return instance;
            }

            @Override
            public Map<String, String> options() {
                return options;
            }

            @Override
            public <T> java.util.Optional<T> vmService(Class<T> type) {
                synchronized (services) {
                    return java.util.Optional.ofNullable(type.cast(services.get(type)));
                }
            }

            @Override
            public <T> AutoCloseable provideVmService(Class<T> type, T service) {
                synchronized (services) {
                    if (services.putIfAbsent(type, service) != null) {
                        throw new IllegalStateException(type.getName() + " is already provided in vm '" + name + "'");
                    }
                }
                return () -> {
                    synchronized (services) {
                        services.remove(type, service);
                    }
                };
            }

            @Override
            public PortBus ports() {
                return ports;
            }

            @Override
            public MmioBus mmio() {
                return mmio;
            }

            @Override
            public IrqLine irq(int gsi) {
                return line(gsi);
            }

            @Override
            public GuestMemory memory() {
                return memory;
            }

            @Override
            public VmClock clock() {
                return new VmClock() {
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
            }

            @Override
            public VmControl control() {
                return new VmControl() {
                    @Override
                    public void powerOff(int exitStatus) {
                    }

                    @Override
                    public void reset() {
                    }
                };
            }

            @Override
            public Optional<CharBackend> console() {
                return Optional.ofNullable(c);
            }
        };
    }

    /**
     * Forgets a device without closing it (the test closed or replaced it).
     *
     * @param d the device
     */
    public void forget(Device d) {
        devices.remove(d);
    }

    @Override
    public void close() {
        for (int i = devices.size() - 1; i >= 0; i--) {
            devices.get(i).close();
        }
        devices.clear();
    }
}
