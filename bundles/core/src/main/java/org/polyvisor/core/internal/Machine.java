package org.polyvisor.core.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.IntConsumer;
import org.polyvisor.boot.BootException;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.boot.BootPlan;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.PortBus;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.irq.IrqChip;
import org.polyvisor.irq.IrqChipContext;
import org.polyvisor.irq.IrqChipStrategy;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.MmuContext;
import org.polyvisor.mmu.MmuStrategy;
import org.polyvisor.part.Availability;
import org.polyvisor.part.Part;
import org.polyvisor.part.PartKind;
import org.polyvisor.part.SavedState;
import org.polyvisor.time.VmClock;
import org.polyvisor.vm.DeviceInfo;
import org.polyvisor.vm.DeviceSpec;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;

/**
 * One assembled, runnable VM: memory, buses, clock, interrupt routing, devices, MMU and vCPUs.
 * Control methods are called by {@link VmImpl} under its lock; guest-originated events (power
 * off, reset, shutdown, engine failure) arrive on vCPU threads and are handed to the VM's control
 * thread, never handled inline (the controller may be waiting for those very threads).
 */
final class Machine {

    /** How long a vCPU may take to reach an instruction boundary or answer a task. */
    static final long VCPU_TIMEOUT_MS = 10_000;
    /** Largest firmware image accepted (a 16 MiB flash, as the largest PC firmware). */
    static final long MAX_FIRMWARE = 16L << 20;
    /** A firmware image is whole blocks of this size: 64 KiB. */
    static final long FIRMWARE_BLOCK = 0x1_0000L;
    /** Bytes from the reset vector 0xFFFFFFF0 to the end of the firmware. */
    static final int RESET_VECTOR_BYTES = 16;

    private final VmImpl vm;
    private final String name;
    private final VmConfig config;
    private final GuestMemoryImpl memory;
    private final Counters exitCounters = new Counters();
    private final Counters busCounters = new Counters();
    private final PortBusImpl ports;
    private final MmioBusImpl mmio;
    private final VmClockImpl clock;
    private final IrqRouting irq = new IrqRouting();
    private final VmConsoleImpl console;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<DeviceSlot> devices = new ArrayList<>();

    private CpuStrategy cpuStrategy;
    /** CPU states kept while the CPU strategy's provider is away. */
    private CpuState[] parkedCpuStates;
    private IrqChipStrategy irqStrategy;
    private IrqChip chip;
    private Scope chipScope;
    private SavedState parkedChipState;
    private MmuStrategy mmuStrategy;
    private volatile Mmu mmu;
    private volatile long a20Mask = -1L;
    private final java.util.concurrent.ConcurrentHashMap<Class<?>, Object> vmServices =
            new java.util.concurrent.ConcurrentHashMap<>();
    private boolean consoleClaimed;
    /** A guest-requested reset is on its way to the control thread (set on a vCPU or device thread). */
    private volatile boolean resetRequested;
    private String consoleClaimant;
    /** The loader of a directly booted kernel and what it was asked, for a guest reset; else null. */
    private BootLoader bootLoader;
    private BootRequest bootRequest;
    private BootPlan bootPlan;

    /** A device instance and what it needs to be rebuilt. */
    private final class DeviceSlot {
        final DeviceSpec spec;
        final DeviceModel model;
        final String consoleOwner;
        Device device;
        Scope scope;
        SavedState parked;

        DeviceSlot(DeviceSpec spec, DeviceModel model, String consoleOwner) {
            this.spec = spec;
            this.model = model;
            this.consoleOwner = consoleOwner;
        }
    }

    private Machine(VmImpl vm, VmConfig config, GuestMemoryImpl memory, VmConsoleImpl console) {
        this.vm = vm;
        this.name = config.name();
        this.config = config;
        this.memory = memory;
        this.console = console;
        this.ports = new PortBusImpl(exitCounters, busCounters);
        this.mmio = new MmioBusImpl(memory, exitCounters, busCounters);
        this.clock = new VmClockImpl(config.clock(), this::retired, this::kickAll, this::kickFirst);
    }

    /**
     * Checks the parts and images of a configuration without building anything.
     *
     * @param config   the configuration
     * @param registry the registered parts
     * @throws VmException naming the first problem
     */
    static void check(VmConfig config, PartRegistry registry) {
        config.validate();
        String vmName = config.name();
        CpuStrategy cpu = registry.require(PartKind.CPU, config.cpu(), vmName, CpuStrategy.class);
        Availability compat = cpu.compatibleWith(config.mmu());
        if (!compat.available()) {
            throw new VmException(String.format("vm '%s': cpu strategy '%s' cannot be combined with mmu '%s': %s",
                    vmName, config.cpu(), config.mmu().isEmpty() ? "(none)" : config.mmu(), compat.reason()));
        }
        checkCpuModel(config, cpu);
        if (!config.mmu().isEmpty()) {
            registry.require(PartKind.MMU, config.mmu(), vmName, MmuStrategy.class);
        }
        if (!config.irqchip().isEmpty()) {
            registry.require(PartKind.IRQCHIP, config.irqchip(), vmName, IrqChipStrategy.class);
        }
        for (DeviceSpec d : config.devices()) {
            registry.require(PartKind.DEVICE, d.model(), vmName, DeviceModel.class);
        }
        checkImages(config);
        if (!config.kernel().isEmpty()) {
            chooseLoader(config, registry, readImage(config, "kernel", config.kernel(), ""));
        }
    }

    /**
     * Checks that a CPU strategy can present the configured CPU model.
     *
     * @param config the configuration
     * @param cpu    the strategy that would run it
     * @throws VmException with the strategy's reason
     */
    static void checkCpuModel(VmConfig config, CpuStrategy cpu) {
        Availability model = cpu.acceptsCpuModel(config.cpuModel());
        if (!model.available()) {
            throw new VmException(String.format("vm '%s': cpu strategy '%s' refuses cpu model '%s': %s",
                    config.name(), cpu.name(), config.cpuModel(), model.reason()));
        }
    }

    /**
     * Checks that the images exist, are readable and fit.
     *
     * @param config the configuration
     */
    static void checkImages(VmConfig config) {
        if (!config.firmware().isEmpty()) {
            long size = imageSize(config, "firmware", config.firmware());
            if (size == 0) {
                throw new VmException("vm '" + config.name() + "': firmware image '" + config.firmware() + "' is empty");
            }
            if (size > MAX_FIRMWARE || size > config.memoryBytes()) {
                throw new VmException(String.format("vm '%s': firmware image '%s' is %s, larger than %s",
                        config.name(), config.firmware(), VmConfig.formatSize(size),
                        size > MAX_FIRMWARE ? "the 16M firmware window" : "guest RAM (" + VmConfig.formatSize(config.memoryBytes()) + ")"));
            }
            checkFirmware(config, size);
        }
        if (!config.kernel().isEmpty()) {
            long size = imageSize(config, "kernel", config.kernel());
            if (!config.firmware().isEmpty()) {
                throw new VmException("vm '" + config.name() + "': give either firmware or a kernel, not both"
                        + " (firmware loading the kernel through fw_cfg is not supported yet)");
            }
            long initrd = 0;
            for (String[] item : BootRequest.parseInitrdList(config.initrd())) {
                initrd += imageSize(config, "initrd", item[0]);
            }
            if (size + initrd > config.memoryBytes()) {
                throw new VmException(String.format("vm '%s': %s %s, larger than guest RAM (%s)", config.name(),
                        initrd > 0 ? "kernel '" + config.kernel() + "' and initrd '" + config.initrd() + "' are"
                                : "kernel image '" + config.kernel() + "' is",
                        VmConfig.formatSize(size + initrd), VmConfig.formatSize(config.memoryBytes())));
            }
        }
    }

    /**
     * Resolves an image path: absolute as given, relative against {@code karaf.home} when set.
     *
     * @param path the configured path
     * @return the file
     */
    static Path resolve(String path) {
        Path p = Path.of(path);
        String home = System.getProperty("karaf.home");
        if (!p.isAbsolute() && home != null) {
            p = Path.of(home).resolve(p);
        }
        return p;
    }

    /**
     * Finds the boot loader that recognises a kernel best (highest probe score, first registered
     * on a tie).
     *
     * @throws VmException if no registered loader knows the format
     */
    private static BootLoader chooseLoader(VmConfig config, PartRegistry registry, BootImage kernel) {
        BootLoader best = null;
        int bestScore = BootLoader.NOT_RECOGNISED;
        List<String> names = new ArrayList<>();
        for (PartRegistry.LoaderEntry e : registry.loaders()) {
            names.add(e.name());
            int score;
            try {
                score = e.loader().availability().available() ? e.loader().probe(kernel) : BootLoader.NOT_RECOGNISED;
            } catch (RuntimeException ex) {
                score = BootLoader.NOT_RECOGNISED; // a failing loader does not take the image
            }
            if (score > bestScore) {
                best = e.loader();
                bestScore = score;
            }
        }
        if (best == null) {
            throw new VmException("vm '" + config.name() + "': kernel image '" + config.kernel() + "' is in no format a"
                    + " registered boot loader knows (" + (names.isEmpty()
                    ? "no boot loader is registered: install the polyvisor-boot feature" : "loaders: "
                    + String.join(", ", names)) + ")");
        }
        return best;
    }

    private static BootImage readImage(VmConfig config, String what, String path, String args) {
        try {
            return new BootImage(path, Files.readAllBytes(resolve(path)), args);
        } catch (IOException e) {
            throw new VmException("vm '" + config.name() + "': cannot read " + what + " image '" + path + "': "
                    + e.getMessage(), e);
        }
    }

    /**
     * Loads the configured kernel with the loader that recognises it and points the boot vCPU at
     * it; on a reset, loads it again. The machine must not run.
     */
    private void bootKernel(PartRegistry registry) {
        Vcpu boot = vcpus.get(0);
        CpuState reset = boot.engine().exportState();
        if (bootRequest == null) {
            BootImage kernel = readImage(config, "kernel", config.kernel(), "");
            List<BootImage> initrds = new ArrayList<>();
            for (String[] item : BootRequest.parseInitrdList(config.initrd())) {
                initrds.add(readImage(config, "initrd", item[0], item[1]));
            }
            bootLoader = chooseLoader(config, registry, kernel);
            // The interrupt controller is an APIC when it owns IA32_APIC_BASE (as CPUID's APIC bit says).
            boolean apic = chip != null && chip.source(0).ownsMsr(0x1B);
            bootRequest = new BootRequest(name, kernel, initrds, config.cmdline(), memory, reset, config.vcpus(), apic);
        } else {
            bootRequest = new BootRequest(name, bootRequest.kernel(), bootRequest.initrds(), bootRequest.cmdline(),
                    memory, reset, bootRequest.vcpus(), bootRequest.apic());
        }
        try {
            bootPlan = bootLoader.load(bootRequest);
        } catch (BootException e) {
            throw new VmException(e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new VmException("vm '" + name + "': boot loader '" + bootLoader.name() + "' failed on kernel '"
                    + config.kernel() + "': " + e, e);
        }
        boot.engine().importState(bootPlan.start());
        vmServices.put(BootPlan.class, bootPlan);
    }

    /**
     * Returns what the boot loader placed where, when the VM boots a kernel directly.
     *
     * @return the plan, or null when the VM boots firmware
     */
    BootPlan bootPlan() {
        return bootPlan;
    }

    /**
     * Refuses a firmware image that cannot be one: a PC firmware is whole 64 KiB blocks (QEMU's
     * pc_system_firmware_init refuses other sizes too), so a truncated download fails here, and
     * its last 16 bytes hold the first instruction at the reset vector 0xFFFFFFF0, which a
     * zero-filled or erased (0xFF) image does not have.
     */
    private static void checkFirmware(VmConfig config, long size) {
        String what = "vm '" + config.name() + "': firmware image '" + config.firmware() + "'";
        if (size % FIRMWARE_BLOCK != 0) {
            throw new VmException(String.format("%s is %d bytes, not a whole number of 64 KiB blocks as a PC firmware"
                    + " is (a truncated image?)", what, size));
        }
        byte[] vector = new byte[RESET_VECTOR_BYTES];
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(resolve(config.firmware()).toFile(), "r")) {
            f.seek(size - RESET_VECTOR_BYTES);
            f.readFully(vector);
        } catch (IOException e) {
            throw new VmException(what + ": cannot read its reset vector: " + e.getMessage(), e);
        }
        boolean zeros = true;
        boolean ones = true;
        for (byte b : vector) {
            zeros &= b == 0;
            ones &= b == (byte) 0xFF;
        }
        if (zeros || ones) {
            throw new VmException(String.format("%s has no code at the reset vector (its last 16 bytes are all 0x%s):"
                    + " not a firmware image, or a corrupt one", what, zeros ? "00" : "ff"));
        }
    }

    private static long imageSize(VmConfig config, String what, String path) {
        Path p = resolve(path);
        if (!Files.exists(p)) {
            String where = p.toString().equals(path) ? "" : " (looked for " + p.toAbsolutePath() + ")";
            throw new VmException("vm '" + config.name() + "': " + what + " image '" + path + "' not found" + where);
        }
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new VmException("vm '" + config.name() + "': " + what + " image '" + path + "' is not a readable file");
        }
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new VmException("vm '" + config.name() + "': cannot read " + what + " image '" + path + "': " + e.getMessage(), e);
        }
    }

    /**
     * Builds a machine; on any failure releases what was built and throws.
     *
     * @param vm       the owning VM
     * @param config   its configuration
     * @param registry the parts
     * @param console  the VM's console
     * @return the machine, with vCPU threads started but parked
     * @throws VmException naming what failed
     */
    static Machine assemble(VmImpl vm, VmConfig config, PartRegistry registry, VmConsoleImpl console) {
        check(config, registry);
        byte[] firmware = null;
        if (!config.firmware().isEmpty()) {
            try {
                firmware = Files.readAllBytes(resolve(config.firmware()));
            } catch (IOException e) {
                throw new VmException("vm '" + config.name() + "': cannot read firmware image '" + config.firmware()
                        + "': " + e.getMessage(), e);
            }
        }
        GuestMemoryImpl memory;
        try {
            memory = GuestMemoryImpl.pc(config.memoryBytes(), firmware);
        } catch (OutOfMemoryError e) {
            throw new VmException("vm '" + config.name() + "': cannot allocate " + VmConfig.formatSize(config.memoryBytes())
                    + " of guest RAM: " + e.getMessage());
        }
        Machine m = new Machine(vm, config, memory, console);
        try {
            m.build(registry);
        } catch (RuntimeException | LinkageError e) {
            m.release();
            if (e instanceof VmException ve) {
                throw ve;
            }
            throw new VmException("vm '" + config.name() + "': assembly failed: " + e.getMessage(), e);
        }
        return m;
    }

    private void build(PartRegistry registry) {
        String vmName = name;
        if (!config.irqchip().isEmpty()) {
            irqStrategy = registry.require(PartKind.IRQCHIP, config.irqchip(), vmName, IrqChipStrategy.class);
            createChip(null);
        }
        String consoleOwner = consoleOwner(config.devices());
        for (DeviceSpec spec : config.devices()) {
            DeviceSlot slot = new DeviceSlot(spec, registry.require(PartKind.DEVICE, spec.model(), vmName,
                    DeviceModel.class), consoleOwner);
            devices.add(slot);
            createDevice(slot);
        }
        if (!config.mmu().isEmpty()) {
            mmuStrategy = registry.require(PartKind.MMU, config.mmu(), vmName, MmuStrategy.class);
            mmu = createMmu(mmuStrategy);
        }
        cpuStrategy = registry.require(PartKind.CPU, config.cpu(), vmName, CpuStrategy.class);
        for (int i = 0; i < config.vcpus(); i++) {
            CpuEngine engine = createEngine(cpuStrategy, i);
            Vcpu v = new Vcpu(i, this, engine);
            vcpus.add(v);
            if (i > 0) {
                // Application processors wait for a startup IPI, as on a real multiprocessor.
                engine.importState(engine.exportState().toBuilder().activity(ActivityState.WAIT_FOR_SIPI).build());
            }
        }
        if (!config.kernel().isEmpty()) {
            bootKernel(registry);
        }
        for (Vcpu v : vcpus) {
            v.start(vmName);
        }
    }

    /** Chooses the device that gets the console: one with {@code console=on}, else the first that asks. */
    private static String consoleOwner(List<DeviceSpec> specs) {
        for (DeviceSpec s : specs) {
            String c = s.options().get("console");
            if (c != null && (c.equalsIgnoreCase("on") || c.equalsIgnoreCase("true") || c.equals("1"))) {
                return s.instance();
            }
        }
        return null;
    }

    private void createChip(SavedState restore) {
        Scope scope = new Scope(ports, mmio);
        IrqChip c;
        try {
            c = irqStrategy.create(new IrqChipContext() {
                @Override
                public String vmName() {
                    return name;
                }

                @Override
                public int vcpuCount() {
                    return config.vcpus();
                }

                @Override
                public PortBus ports() {
                    return scope.ports();
                }

                @Override
                public MmioBus mmio() {
                    return scope.mmio();
                }

                @Override
                public VmClock clock() {
                    return clock;
                }

                @Override
                public int currentVcpu() {
                    return Vcpu.current(Machine.this);
                }

                @Override
                public void wake(int vcpu) {
                    if (vcpu >= 0 && vcpu < vcpus.size()) {
                        vcpus.get(vcpu).wake();
                    }
                }

                @Override
                public void kick(int vcpu) {
                    if (vcpu >= 0 && vcpu < vcpus.size()) {
                        vcpus.get(vcpu).kick();
                    }
                }
            });
            if (restore != null) {
                c.restoreState(restore);
            }
        } catch (RuntimeException e) {
            scope.closeAll();
            throw new VmException("vm '" + name + "': interrupt controller '" + config.irqchip() + "' failed: " + e.getMessage(), e);
        }
        chip = c;
        chipScope = scope;
        irq.connect(c, restore == null);
    }

    private void createDevice(DeviceSlot slot) {
        Scope scope = new Scope(ports, mmio);
        Map<String, String> options = new LinkedHashMap<>(slot.spec.options());
        options.remove("console");
        DeviceContext ctx = new DeviceContext() {
            @Override
            public String vmName() {
                return name;
            }

            @Override
            public String instanceName() {
                return slot.spec.instance();
            }

            @Override
            public Map<String, String> options() {
                return options;
            }

            @Override
            public int vcpuCount() {
                return config.vcpus();
            }

            @Override
            public int currentVcpu() {
                return Vcpu.current(Machine.this);
            }

            @Override
            public <T> Optional<T> vmService(Class<T> type) {
                return Optional.ofNullable(type.cast(vmServices.get(type)));
            }

            @Override
            public <T> AutoCloseable provideVmService(Class<T> type, T service) {
                Object previous = vmServices.putIfAbsent(type, service);
                if (previous != null) {
                    throw new IllegalStateException("vm '" + name + "': " + type.getName()
                            + " is already provided by another part");
                }
                AutoCloseable r = () -> vmServices.remove(type, service);
                scope.onClose(r);
                return r;
            }

            @Override
            public PortBus ports() {
                return scope.ports();
            }

            @Override
            public MmioBus mmio() {
                return scope.mmio();
            }

            @Override
            public IrqLine irq(int gsi) {
                return irq.line(gsi);
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
                return control;
            }

            @Override
            public Optional<CharBackend> console() {
                return claimConsole(slot);
            }

            @Override
            public IntConsumer log() {
                return vm.logBackend()::write;
            }
        };
        try {
            Device d = slot.model.create(ctx);
            if (slot.parked != null) {
                d.restoreState(slot.parked);
                slot.parked = null;
            }
            slot.device = d;
            slot.scope = scope;
        } catch (RuntimeException e) {
            scope.closeAll();
            throw new VmException("vm '" + name + "': device " + slot.spec.instance() + " (" + slot.spec.model()
                    + "): " + e.getMessage(), e);
        }
    }

    private synchronized Optional<CharBackend> claimConsole(DeviceSlot slot) {
        String instance = slot.spec.instance();
        if (slot.consoleOwner != null) {
            return slot.consoleOwner.equals(instance) ? Optional.of(console) : Optional.empty();
        }
        if (!consoleClaimed || instance.equals(consoleClaimant)) {
            consoleClaimed = true;
            consoleClaimant = instance;
            return Optional.of(console);
        }
        return Optional.empty();
    }

    /** @return the dirty-page log of the current MMU, if it keeps one */
    Optional<org.polyvisor.mmu.DirtyPageLog> dirtyLog() {
        Mmu m = mmu;
        return m == null ? Optional.empty() : m.dirtyLog();
    }

    private Mmu createMmu(MmuStrategy strategy) {
        try {
            return strategy.create(new MmuContext() {
                @Override
                public String vmName() {
                    return name;
                }

                @Override
                public int vcpuCount() {
                    return config.vcpus();
                }

                @Override
                public GuestMemory memory() {
                    return memory;
                }

                @Override
                public Map<String, String> options() {
                    return config.optionsOf("mmu", strategy.name());
                }
            });
        } catch (RuntimeException e) {
            throw new VmException("vm '" + name + "': mmu strategy '" + strategy.name() + "' failed: " + e.getMessage(), e);
        }
    }

    private CpuEngine createEngine(CpuStrategy strategy, int id) {
        InterruptSource source = irq.source(id);
        VcpuContext ctx = new VcpuContext() {
            @Override
            public String vmName() {
                return name;
            }

            @Override
            public int vcpuId() {
                return id;
            }

            @Override
            public GuestMemory memory() {
                return memory;
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
            public InterruptSource interrupts() {
                return source;
            }

            @Override
            public VmClock clock() {
                return clock;
            }

            @Override
            public Optional<Mmu> mmu() {
                return Optional.ofNullable(mmu);
            }

            @Override
            public String cpuModel() {
                return config.cpuModel();
            }

            @Override
            public long a20Mask() {
                return a20Mask;
            }
        };
        try {
            return strategy.createEngine(ctx);
        } catch (RuntimeException e) {
            throw new VmException("vm '" + name + "': cpu strategy '" + strategy.name() + "' could not create an engine: "
                    + e.getMessage(), e);
        }
    }

    private final VmControl control = new VmControl() {
        @Override
        public void powerOff(int exitStatus) {
            requestExitAll();
            vm.guestEvent(Machine.this, VmImpl.GuestEvent.powerOff(exitStatus));
        }

        @Override
        public void reset() {
            resetRequested = true;
            requestExitAll();
            vm.guestEvent(Machine.this, VmImpl.GuestEvent.reset());
        }

        @Override
        public void setA20(boolean enabled) {
            long mask = enabled ? -1L : ~(1L << 20);
            if (a20Mask != mask) {
                a20Mask = mask;
                for (Vcpu v : vcpus) {
                    CpuEngine e = v.engine();
                    if (e != null) {
                        e.requestExit(); // engines pick the new mask up at their next run
                    }
                }
            }
        }
    };

    // ---- called on vCPU threads ------------------------------------------------------------

    void guestShutdown(Vcpu vcpu, Exit.Shutdown s) {
        if (resetRequested) {
            // The guest asked for a reset and faulted before its vCPU stopped (SeaBIOS's
            // qemu_reboot writes 0xCF9, then runs int3 to triple-fault should that not reset):
            // the reset already on its way is what a PC does for both.
            requestExitAll();
            return;
        }
        requestExitAll();
        vm.guestEvent(this, VmImpl.GuestEvent.crash(s.message()));
    }

    /**
     * A vCPU halted with interrupts disabled and nothing pending that could wake it: when every
     * vCPU is in that state, the machine can never run again and the VM stops, saying so.
     */
    void guestHaltedForGood(Vcpu vcpu) {
        for (Vcpu v : vcpus) {
            if (!v.haltedForGood()) {
                return;
            }
        }
        requestExitAll();
        vm.guestEvent(this, VmImpl.GuestEvent.haltedForGood());
    }

    void engineFailed(Vcpu vcpu, String message, Throwable cause) {
        requestExitAll();
        vm.guestEvent(this, VmImpl.GuestEvent.crash(message));
    }

    VmClockImpl clock() {
        return clock;
    }

    Counters exitCounters() {
        return exitCounters;
    }

    InterruptSource interrupts(int vcpu) {
        return irq.source(vcpu);
    }

    boolean allHalted() {
        for (Vcpu v : vcpus) {
            if (!v.halted()) {
                return false;
            }
        }
        return true;
    }

    long retired() {
        long n = 0;
        for (Vcpu v : vcpus) {
            n += v.retired();
        }
        return n;
    }

    /** A realtime timer is due: vCPU 0 leaves its engine and runs it (any vCPU runs due timers). */
    private void kickFirst() {
        if (!vcpus.isEmpty()) {
            vcpus.get(0).kick();
        }
    }

    private void kickAll() {
        for (Vcpu v : vcpus) {
            v.kick();
        }
    }

    private void requestExitAll() {
        for (Vcpu v : vcpus) {
            v.requestPause();
        }
    }

    // ---- control (under the VM's lock) -------------------------------------------------------

    VmConfig config() {
        return config;
    }

    CpuStrategy cpuStrategy() {
        return cpuStrategy;
    }

    GuestMemoryImpl memory() {
        return memory;
    }

    /** Lets every vCPU run. */
    void resumeAll() {
        clock.resume();
        for (Vcpu v : vcpus) {
            v.resume();
        }
    }

    /**
     * Stops every vCPU at an instruction boundary.
     *
     * @throws VmException if a vCPU does not stop in time
     */
    void pauseAll() {
        for (Vcpu v : vcpus) {
            v.requestPause();
        }
        for (Vcpu v : vcpus) {
            if (!v.awaitParked(VCPU_TIMEOUT_MS)) {
                throw new VmException("vm '" + name + "': vcpu " + v.id() + " did not stop at an instruction boundary within "
                        + VCPU_TIMEOUT_MS + " ms");
            }
        }
        clock.pause();
    }

    /**
     * Returns a vCPU's state; the machine must be paused.
     *
     * @param id vCPU index
     * @return the state
     */
    CpuState cpuState(int id) {
        if (id < 0 || id >= vcpus.size()) {
            throw new VmException("vm '" + name + "' has no vcpu " + id + " (vcpus: " + vcpus.size() + ")");
        }
        if (parkedCpuStates != null) {
            return parkedCpuStates[id];
        }
        Vcpu v = vcpus.get(id);
        return v.call(() -> v.engine().exportState(), VCPU_TIMEOUT_MS);
    }

    /**
     * Replaces the CPU engines with ones of another strategy; the machine must be paused. On
     * failure the old engines stay.
     *
     * @param next the new strategy
     */
    void swapCpu(CpuStrategy next) {
        List<CpuEngine> created = new ArrayList<>();
        try {
            for (Vcpu v : vcpus) {
                created.add(v.call(() -> {
                    CpuState state = v.engine().exportState();
                    CpuEngine e = createEngine(next, v.id());
                    try {
                        e.importState(state);
                    } catch (RuntimeException ex) {
                        e.close();
                        throw new VmException("vm '" + name + "': cpu strategy '" + next.name()
                                + "' cannot take over the state of vcpu " + v.id() + ": " + ex.getMessage(), ex);
                    }
                    return e;
                }, VCPU_TIMEOUT_MS));
            }
        } catch (RuntimeException e) {
            created.forEach(CpuEngine::close);
            throw e;
        }
        for (int i = 0; i < vcpus.size(); i++) {
            Vcpu v = vcpus.get(i);
            CpuEngine fresh = created.get(i);
            v.call(() -> {
                CpuEngine old = v.engine();
                v.setEngine(fresh);
                closeQuietly(old);
                return null;
            }, VCPU_TIMEOUT_MS);
        }
        cpuStrategy = next;
    }

    /**
     * Replaces the MMU; the machine must be paused. Guest-visible translation does not change:
     * both strategies implement the same architecture on the same guest tables.
     *
     * @param next the new strategy, or null for the engine's own translation
     */
    void swapMmu(MmuStrategy next) {
        Mmu fresh = next == null ? null : createMmu(next);
        Mmu old = mmu;
        mmu = fresh;
        mmuStrategy = next;
        if (old != null) {
            closeQuietly(old);
        }
    }

    /**
     * Replaces the interrupt controller, carrying its state over; the machine must be paused.
     *
     * @param next the new strategy
     */
    void swapIrqChip(IrqChipStrategy next) {
        if (chip == null) {
            throw new VmException("vm '" + name + "' has no interrupt controller to replace");
        }
        SavedState state = chip.saveState();
        IrqChip old = chip;
        Scope oldScope = chipScope;
        irq.connect(null, false);
        old.close();
        oldScope.closeAll();
        IrqChipStrategy previous = irqStrategy;
        irqStrategy = next;
        try {
            createChip(state);
        } catch (RuntimeException e) {
            irqStrategy = previous;
            createChip(state);
            throw e;
        }
    }

    /**
     * A part's provider is going away: take the state of every instance it made and release
     * them, while the provider can still answer. The machine must be paused.
     *
     * @param kind the kind
     * @param part the departing provider
     * @return true if this machine used it (and now waits for it)
     */
    boolean park(PartKind kind, Part part) {
        switch (kind) {
            case CPU -> {
                if (part != cpuStrategy || parkedCpuStates != null) {
                    return false;
                }
                CpuState[] states = new CpuState[vcpus.size()];
                for (Vcpu v : vcpus) {
                    states[v.id()] = v.call(() -> {
                        CpuEngine e = v.engine();
                        CpuState s = e.exportState();
                        v.setEngine(null);
                        closeQuietly(e);
                        return s;
                    }, VCPU_TIMEOUT_MS);
                }
                parkedCpuStates = states;
                return true;
            }
            case IRQCHIP -> {
                if (part != irqStrategy || chip == null) {
                    return false;
                }
                parkedChipState = chip.saveState();
                irq.connect(null, false);
                closeQuietly(chip);
                chipScope.closeAll();
                chip = null;
                return true;
            }
            case DEVICE -> {
                boolean used = false;
                for (DeviceSlot s : devices) {
                    if (s.model == part && s.device != null) {
                        s.parked = s.device.saveState();
                        closeQuietly(s.device);
                        s.scope.closeAll();
                        s.device = null;
                        used = true;
                    }
                }
                return used;
            }
            case MMU -> {
                if (part != mmuStrategy || mmu == null) {
                    return false;
                }
                closeQuietly(mmu);
                mmu = null;
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    /**
     * Lists what this machine waits for, e.g. {@code cpu strategy 'interpreter'}.
     *
     * @return the missing parts
     */
    List<String> missing() {
        List<String> out = new ArrayList<>();
        if (parkedCpuStates != null) {
            out.add(PartRegistry.label(PartKind.CPU) + " '" + config.cpu() + "'");
        }
        if (irqStrategy != null && chip == null) {
            out.add(PartRegistry.label(PartKind.IRQCHIP) + " '" + config.irqchip() + "'");
        }
        if (mmuStrategy != null && mmu == null) {
            out.add(PartRegistry.label(PartKind.MMU) + " '" + config.mmu() + "'");
        }
        for (DeviceSlot s : devices) {
            if (s.device == null) {
                out.add(PartRegistry.label(PartKind.DEVICE) + " '" + s.spec.model() + "' (" + s.spec.instance() + ")");
            }
        }
        return out;
    }

    /**
     * A provider appeared: rebuild whatever of this machine waits for that name, restoring the
     * kept state. The machine must be paused.
     *
     * @param kind     the kind
     * @param registry the parts
     */
    void unpark(PartKind kind, PartRegistry registry) {
        switch (kind) {
            case CPU -> {
                if (parkedCpuStates == null) {
                    return;
                }
                CpuStrategy s = registry.require(PartKind.CPU, config.cpu(), name, CpuStrategy.class);
                List<CpuEngine> created = new ArrayList<>();
                try {
                    for (Vcpu v : vcpus) {
                        CpuState state = parkedCpuStates[v.id()];
                        created.add(v.call(() -> {
                            CpuEngine e = createEngine(s, v.id());
                            e.importState(state);
                            v.setEngine(e);
                            return e;
                        }, VCPU_TIMEOUT_MS));
                    }
                } catch (RuntimeException e) {
                    for (Vcpu v : vcpus) {
                        v.call(() -> {
                            v.setEngine(null);
                            return null;
                        }, VCPU_TIMEOUT_MS);
                    }
                    created.forEach(Machine::closeQuietly);
                    throw e;
                }
                cpuStrategy = s;
                parkedCpuStates = null;
            }
            case IRQCHIP -> {
                if (irqStrategy == null || chip != null) {
                    return;
                }
                irqStrategy = registry.require(PartKind.IRQCHIP, config.irqchip(), name, IrqChipStrategy.class);
                createChip(parkedChipState);
                parkedChipState = null;
            }
            case DEVICE -> {
                for (DeviceSlot s : devices) {
                    if (s.device == null) {
                        Optional<Part> p = registry.find(PartKind.DEVICE, s.spec.model());
                        if (p.isPresent()) {
                            DeviceSlot fresh = new DeviceSlot(s.spec, (DeviceModel) p.get(), s.consoleOwner);
                            fresh.parked = s.parked;
                            devices.set(devices.indexOf(s), fresh);
                            createDevice(fresh);
                        }
                    }
                }
            }
            case MMU -> {
                if (mmuStrategy == null || mmu != null) {
                    return;
                }
                mmuStrategy = registry.require(PartKind.MMU, config.mmu(), name, MmuStrategy.class);
                mmu = createMmu(mmuStrategy);
            }
            default -> {
            }
        }
    }

    /**
     * Resets the machine as a power cycle that keeps RAM: vCPUs to power-on state, devices and
     * interrupt controller reset. The machine must be paused.
     */
    void reset() {
        for (Vcpu v : vcpus) {
            v.call(() -> {
                CpuEngine e = v.engine();
                CpuState s = CpuState.powerOn((int) e.exportState().gpr(CpuState.RDX));
                if (v.id() > 0) {
                    s = s.toBuilder().activity(ActivityState.WAIT_FOR_SIPI).build();
                }
                e.importState(s);
                return null;
            }, VCPU_TIMEOUT_MS);
        }
        if (bootLoader != null) {
            // A directly booted kernel has no firmware to load it again: the loader does.
            Vcpu boot = vcpus.get(0);
            boot.call(() -> {
                bootKernel(null);
                return null;
            }, VCPU_TIMEOUT_MS);
        }
        if (chip != null) {
            chip.reset();
        }
        for (DeviceSlot s : devices) {
            if (s.device != null) {
                s.device.reset();
            }
        }
        resetRequested = false;
    }

    /** Ends the vCPU threads and releases every part. Idempotent. */
    void release() {
        for (Vcpu v : vcpus) {
            v.finish(VCPU_TIMEOUT_MS);
        }
        clock.pause();
        for (Vcpu v : vcpus) {
            CpuEngine e = v.engine();
            if (e != null) {
                closeQuietly(e);
                v.setEngine(null);
            }
        }
        for (int i = devices.size() - 1; i >= 0; i--) {
            DeviceSlot s = devices.get(i);
            if (s.device != null) {
                closeQuietly(s.device);
                s.device = null;
            }
            if (s.scope != null) {
                s.scope.closeAll();
            }
        }
        if (chip != null) {
            irq.connect(null, false);
            closeQuietly(chip);
            chipScope.closeAll();
            chip = null;
        }
        if (mmu != null) {
            closeQuietly(mmu);
            mmu = null;
        }
        memory.close();
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception | LinkageError e) {
            // A part that fails to close must not stop the others from being released.
        }
    }

    // ---- observation ---------------------------------------------------------------------------

    List<DeviceInfo> devices() {
        List<DeviceInfo> out = new ArrayList<>();
        if (chip != null) {
            List<String> res = chipScope.describe();
            out.add(new DeviceInfo("irqchip", irqStrategy.name(), res));
        }
        for (DeviceSlot s : devices) {
            List<String> res;
            try {
                res = s.device == null ? List.of("(provider away)") : s.device.resources();
            } catch (RuntimeException e) {
                res = List.of("(resources unavailable: " + e + ")");
            }
            out.add(new DeviceInfo(s.spec.instance(), s.spec.model(), res));
        }
        return out;
    }

    Map<String, Long> exitStats() {
        return exitCounters.snapshot();
    }

    Map<String, java.time.Duration> timeByState() {
        long running = 0;
        long halted = 0;
        long paused = 0;
        for (Vcpu v : vcpus) {
            running += v.runningNanos();
            halted += v.haltedNanos();
            paused += v.pausedNanos();
        }
        Map<String, java.time.Duration> out = new LinkedHashMap<>();
        out.put("running", java.time.Duration.ofNanos(running));
        out.put("halted", java.time.Duration.ofNanos(halted));
        out.put("paused", java.time.Duration.ofNanos(paused));
        return out;
    }

    Map<String, Map<String, Long>> partStats() {
        Map<String, Map<String, Long>> out = new TreeMap<>();
        Map<String, Long> cpu = new TreeMap<>();
        for (Vcpu v : vcpus) {
            CpuEngine e = v.engine();
            if (e != null) {
                try {
                    e.stats().forEach((k, n) -> cpu.merge(k, n, Long::sum));
                } catch (RuntimeException ex) {
                    cpu.put("stats-unavailable", 1L);
                }
            }
        }
        // labelled by the strategies in use now, which differ from the assembled config after a swap
        out.put("cpu " + cpuStrategy.name(), cpu);
        if (chip != null) {
            out.put("irqchip " + irqStrategy.name(), safeStats(chip::stats));
        }
        if (mmu != null) {
            out.put("mmu " + mmuStrategy.name(), safeStats(mmu::stats));
        }
        for (DeviceSlot s : devices) {
            if (s.device != null) {
                out.put("device " + s.spec.instance(), safeStats(s.device::stats));
            }
        }
        out.put("bus", busCounters.snapshot());
        out.put("clock", Map.of("virtual-ns", clock.nanos()));
        return out;
    }

    private static Map<String, Long> safeStats(java.util.function.Supplier<Map<String, Long>> s) {
        try {
            return new TreeMap<>(s.get());
        } catch (RuntimeException e) {
            return Map.of("stats-unavailable", 1L);
        }
    }
}
