package org.polyvisor.core.internal;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.device.CharBackend;
import org.polyvisor.irq.IrqChipStrategy;
import org.polyvisor.mmu.DirtyPageLog;
import org.polyvisor.mmu.MmuStrategy;
import org.polyvisor.part.Availability;
import org.polyvisor.part.Part;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.DeviceInfo;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmConsole;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStats;
import org.polyvisor.vm.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One VM: its definition, its life-cycle state and, while running or paused, its machine. All
 * transitions happen under this object's lock; guest-originated events are queued to the
 * manager's control thread.
 */
final class VmImpl implements Vm, PartRegistry.Listener {

    private static final Logger LOG = LoggerFactory.getLogger(VmImpl.class);

    /** Something the guest (or an engine) did that ends or resets the machine. */
    record GuestEvent(Kind kind, int exitStatus, String message) {
        enum Kind {
            POWER_OFF, RESET, CRASH, HALTED_FOR_GOOD
        }

        static GuestEvent powerOff(int status) {
            return new GuestEvent(Kind.POWER_OFF, status, "powered off by the guest");
        }

        static GuestEvent reset() {
            return new GuestEvent(Kind.RESET, 0, "reset by the guest");
        }

        static GuestEvent crash(String message) {
            return new GuestEvent(Kind.CRASH, 0, message);
        }

        static GuestEvent haltedForGood() {
            return new GuestEvent(Kind.HALTED_FOR_GOOD, 0, "the guest halted every vCPU with interrupts disabled, "
                    + "so nothing can wake it (what Linux does for poweroff or halt on a PC without ACPI or APM)");
        }
    }

    private final VmManagerImpl manager;
    private final PartRegistry registry;
    private final VmConsoleImpl console = new VmConsoleImpl();
    private final VmConsoleImpl log = new VmConsoleImpl("the VM log takes no input");
    private VmConfig config;
    private Machine machine;
    private VmState state = VmState.DEFINED;
    private String detail = "";
    private OptionalInt exitStatus = OptionalInt.empty();
    private long startedAt;
    /** Paused because a provider went away, and running before that: resume when it is back. */
    private boolean resumeWhenComplete;
    /** Autostart is waiting for parts to be registered. */
    private boolean autostartPending;
    /** Statistics of the last run, kept after the machine is gone. */
    private VmStats finalStats = new VmStats(0, java.util.Map.of(), java.util.Map.of(), java.util.Map.of());

    VmImpl(VmManagerImpl manager, PartRegistry registry, VmConfig config) {
        this.manager = manager;
        this.registry = registry;
        this.config = config;
        console.onPanic(this::guestPanicked);
    }

    @Override
    public String name() {
        return config.name();
    }

    @Override
    public synchronized VmConfig config() {
        return config;
    }

    @Override
    public synchronized VmStatus status() {
        Duration up = (state == VmState.RUNNING || state == VmState.PAUSED)
                ? Duration.ofNanos(System.nanoTime() - startedAt) : Duration.ZERO;
        return new VmStatus(state, detail, up, exitStatus);
    }

    private void setState(VmState s, String d) {
        state = s;
        detail = d == null ? "" : d;
        notifyAll();
        LOG.info("vm '{}': {}", config.name(), new VmStatus(s, detail, Duration.ZERO, exitStatus).describe());
    }

    @Override
    public synchronized void start() {
        if (state == VmState.RUNNING || state == VmState.PAUSED) {
            throw new VmException("vm '" + name() + "' is already " + state.label());
        }
        autostartPending = false;
        Machine m = Machine.assemble(this, config, registry, console);
        machine = m;
        finalStats = new VmStats(0, java.util.Map.of(), java.util.Map.of(), java.util.Map.of());
        exitStatus = OptionalInt.empty();
        resumeWhenComplete = false;
        startedAt = System.nanoTime();
        m.resumeAll();
        setState(VmState.RUNNING, "");
    }

    /**
     * Starts the VM if it asks for autostart; waits for missing parts instead of failing.
     */
    synchronized void autostart() {
        if (!config.autostart() || state == VmState.RUNNING || state == VmState.PAUSED) {
            return;
        }
        List<String> missing = missingParts();
        if (!missing.isEmpty()) {
            autostartPending = true;
            setState(state, "autostart waiting for " + String.join(", ", missing));
            return;
        }
        try {
            start();
        } catch (VmException e) {
            autostartPending = false;
            setState(state, "autostart failed: " + e.getMessage());
        }
    }

    private List<String> missingParts() {
        List<String> out = new java.util.ArrayList<>();
        if (registry.find(PartKind.CPU, config.cpu()).isEmpty()) {
            out.add("cpu strategy '" + config.cpu() + "'");
        }
        if (!config.mmu().isEmpty() && registry.find(PartKind.MMU, config.mmu()).isEmpty()) {
            out.add("mmu strategy '" + config.mmu() + "'");
        }
        if (!config.irqchip().isEmpty() && registry.find(PartKind.IRQCHIP, config.irqchip()).isEmpty()) {
            out.add("interrupt controller '" + config.irqchip() + "'");
        }
        config.devices().forEach(d -> {
            if (registry.find(PartKind.DEVICE, d.model()).isEmpty()) {
                out.add("device model '" + d.model() + "'");
            }
        });
        return out;
    }

    @Override
    public synchronized void pause() {
        requireState("pause", VmState.RUNNING);
        machine.pauseAll();
        setState(VmState.PAUSED, "paused by user");
    }

    @Override
    public synchronized void resume() {
        requireState("resume", VmState.PAUSED);
        List<String> missing = machine.missing();
        if (!missing.isEmpty()) {
            throw new VmException("vm '" + name() + "' cannot resume: waiting for " + String.join(", ", missing));
        }
        resumeWhenComplete = false;
        machine.resumeAll();
        setState(VmState.RUNNING, "");
    }

    @Override
    public synchronized void stop() {
        if (machine == null) {
            throw new VmException("vm '" + name() + "' is not running (" + state.label() + ")");
        }
        teardown();
        setState(VmState.STOPPED, "stopped by user");
    }

    /** Stops without complaint (destroy, platform shutdown). */
    synchronized void shutdown(String why) {
        autostartPending = false;
        if (machine != null) {
            teardown();
            setState(VmState.STOPPED, why);
        }
    }

    private void teardown() {
        Machine m = machine;
        machine = null;
        resumeWhenComplete = false;
        if (m != null) {
            try {
                m.pauseAll();
            } catch (VmException e) {
                // a vCPU that does not stop is ended by release below
            }
            finalStats = snapshot(m);
            m.release();
        }
    }

    private static VmStats snapshot(Machine m) {
        return new VmStats(m.retired(), m.exitStats(), m.timeByState(), m.partStats());
    }

    private void requireState(String op, VmState... allowed) {
        for (VmState s : allowed) {
            if (state == s) {
                return;
            }
        }
        throw new VmException("cannot " + op + " vm '" + name() + "': it is " + status().describe());
    }

    @Override
    public synchronized void swap(PartKind kind, String strategy) {
        VmConfig next = replacePart(kind, strategy);
        config = next;
        manager.persist(next);
    }

    /** Replaces a running part and returns the configuration that names the new one. */
    private VmConfig replacePart(PartKind kind, String strategy) {
        requireState("swap a part of", VmState.RUNNING, VmState.PAUSED);
        if (!machine.missing().isEmpty()) {
            throw new VmException("vm '" + name() + "' cannot swap while waiting for " + String.join(", ", machine.missing()));
        }
        String target = strategy == null ? "" : strategy.trim();
        boolean running = state == VmState.RUNNING;
        VmConfig next;
        switch (kind) {
            case CPU -> {
                CpuStrategy s = registry.require(PartKind.CPU, target, name(), CpuStrategy.class);
                Availability compat = s.compatibleWith(config.mmu());
                if (!compat.available()) {
                    throw new VmException(String.format("vm '%s': cpu strategy '%s' cannot be combined with mmu '%s': %s",
                            name(), target, config.mmu(), compat.reason()));
                }
                Machine.checkCpuModel(config, s);
                pauseForSwap(running);
                try {
                    machine.swapCpu(s);
                } finally {
                    resumeAfterSwap(running);
                }
                next = config.withCpu(target);
            }
            case MMU -> {
                MmuStrategy s = target.isEmpty() ? null : registry.require(PartKind.MMU, target, name(), MmuStrategy.class);
                Availability compat = machine.cpuStrategy().compatibleWith(target);
                if (!compat.available()) {
                    throw new VmException(String.format("vm '%s': cpu strategy '%s' cannot be combined with mmu '%s': %s",
                            name(), config.cpu(), target, compat.reason()));
                }
                pauseForSwap(running);
                try {
                    machine.swapMmu(s);
                } finally {
                    resumeAfterSwap(running);
                }
                next = config.withMmu(target);
            }
            case IRQCHIP -> {
                IrqChipStrategy s = registry.require(PartKind.IRQCHIP, target, name(), IrqChipStrategy.class);
                pauseForSwap(running);
                try {
                    machine.swapIrqChip(s);
                } finally {
                    resumeAfterSwap(running);
                }
                next = config.withIrqchip(target);
            }
            default -> throw new VmException("devices are not swapped by strategy; update or restart the providing bundle"
                    + " and the device's state is carried over");
        }
        return next;
    }

    private void pauseForSwap(boolean running) {
        if (running) {
            machine.pauseAll();
        }
    }

    private void resumeAfterSwap(boolean running) {
        if (running) {
            machine.resumeAll();
        }
    }

    @Override
    public VmStats stats() {
        Machine m;
        synchronized (this) {
            m = machine;
            if (m == null) {
                return finalStats;
            }
        }
        return snapshot(m);
    }

    @Override
    public Optional<DirtyPageLog> dirtyLog() {
        Machine m;
        synchronized (this) {
            m = machine;
        }
        return m == null ? Optional.empty() : m.dirtyLog();
    }

    @Override
    public VmConsole console() {
        return console;
    }

    @Override
    public VmConsole log() {
        return log;
    }

    /** Where devices write the guest's diagnostic output ({@code DeviceContext.log()}). */
    CharBackend logBackend() {
        return log;
    }

    @Override
    public synchronized List<DeviceInfo> devices() {
        return machine == null ? List.of() : machine.devices();
    }

    @Override
    public synchronized CpuState cpuState(int vcpu) {
        if (machine == null) {
            throw new VmException("vm '" + name() + "' is not assembled (" + state.label() + ")");
        }
        if (state == VmState.RUNNING) {
            throw new VmException("vm '" + name() + "' is running: pause it to read a consistent cpu state");
        }
        return machine.cpuState(vcpu);
    }

    @Override
    public synchronized VmStatus awaitState(Duration timeout, VmState... states) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (VmState s : states) {
                if (state == s) {
                    return status();
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return status();
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    // ---- guest events (vCPU threads -> control thread) -----------------------------------------

    void guestEvent(Machine m, GuestEvent e) {
        manager.control().execute(() -> handle(m, e));
    }

    private synchronized void handle(Machine m, GuestEvent e) {
        if (m != machine) {
            return; // the machine is gone already (stopped, or another event won)
        }
        switch (e.kind()) {
            case POWER_OFF -> {
                teardown();
                exitStatus = OptionalInt.of(e.exitStatus());
                setState(VmState.STOPPED, e.message());
            }
            case CRASH -> {
                teardown();
                setState(VmState.CRASHED, e.message());
            }
            case HALTED_FOR_GOOD -> {
                teardown();
                String last = console.lastLine();
                setState(VmState.STOPPED, e.message() + (last.isEmpty() ? "" : "; last console line: '" + last + "'"));
            }
            case RESET -> {
                try {
                    m.pauseAll();
                    m.reset();
                    if (state == VmState.RUNNING) {
                        m.resumeAll();
                    }
                } catch (VmException ex) {
                    teardown();
                    setState(VmState.CRASHED, "reset failed: " + ex.getMessage());
                }
            }
            default -> {
            }
        }
    }

    /**
     * A Linux guest wrote its panic line ({@code Kernel panic - not syncing: ...}) to the console
     * (on a vCPU thread). Linux then spins forever with interrupts on, so the machine is stopped
     * and the VM shows the message, unless the command line asks Linux to reboot after a panic
     * ({@code panic=N}, N not 0), which it then does by itself.
     */
    private void guestPanicked(String line) {
        manager.control().execute(() -> {
            synchronized (this) {
                Machine m = machine;
                if (m == null || rebootsAfterPanic(config.cmdline())) {
                    return;
                }
                handle(m, GuestEvent.crash("guest kernel panic: " + line.trim()));
            }
        });
    }

    /**
     * Whether a Linux command line asks to reboot after a panic.
     *
     * @param cmdline the kernel command line
     * @return true for a {@code panic=N} with N not 0 (the last one counts, as in Linux)
     */
    static boolean rebootsAfterPanic(String cmdline) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:^|\\s)panic=(-?\\d+)(?=\\s|$)")
                .matcher(cmdline == null ? "" : cmdline);
        String last = null;
        while (m.find()) {
            last = m.group(1);
        }
        return last != null && Long.parseLong(last) != 0;
    }

    // ---- providers coming and going ----------------------------------------------------------

    @Override
    public synchronized void partRemoving(PartKind kind, String partName, Part part) {
        Machine m = machine;
        if (m == null) {
            return;
        }
        boolean running = state == VmState.RUNNING;
        try {
            if (running) {
                m.pauseAll();
            }
            if (m.park(kind, part)) {
                resumeWhenComplete |= running;
                setState(VmState.PAUSED, "waiting for " + String.join(", ", m.missing()) + " (its provider went away)");
            } else if (running) {
                m.resumeAll();
            }
        } catch (VmException e) {
            teardown();
            setState(VmState.CRASHED, "could not keep the state of " + PartRegistry.label(kind) + " '" + partName
                    + "' when its provider went away: " + e.getMessage());
        }
    }

    @Override
    public synchronized void partAdded(PartKind kind, String partName) {
        if (machine == null) {
            if (autostartPending) {
                autostart();
            }
            return;
        }
        if (machine.missing().isEmpty()) {
            return;
        }
        try {
            machine.unpark(kind, registry);
        } catch (VmException e) {
            setState(VmState.PAUSED, "waiting for " + String.join(", ", machine.missing()) + ": " + e.getMessage());
            return;
        }
        List<String> missing = machine.missing();
        if (!missing.isEmpty()) {
            setState(VmState.PAUSED, "waiting for " + String.join(", ", missing) + " (its provider went away)");
        } else if (resumeWhenComplete) {
            resumeWhenComplete = false;
            machine.resumeAll();
            setState(VmState.RUNNING, "");
        } else {
            setState(VmState.PAUSED, "paused by user");
        }
    }

    /**
     * Takes a new definition from configuration: running part changes become swaps, the rest
     * applies at the next start.
     *
     * @param next the new definition
     */
    synchronized void reconfigure(VmConfig next) {
        VmConfig old = config;
        if (next.equals(old)) {
            return;
        }
        if (machine != null && (state == VmState.RUNNING || state == VmState.PAUSED)) {
            if (!next.cpu().equals(old.cpu())) {
                config = replacePart(PartKind.CPU, next.cpu());
            }
            if (!next.mmu().equals(old.mmu())) {
                config = replacePart(PartKind.MMU, next.mmu());
            }
            if (!next.irqchip().equals(old.irqchip()) && !next.irqchip().isEmpty() && !old.irqchip().isEmpty()) {
                config = replacePart(PartKind.IRQCHIP, next.irqchip());
            }
        }
        config = next;
        if (machine == null && next.autostart() && state == VmState.DEFINED) {
            autostart();
        }
    }
}
