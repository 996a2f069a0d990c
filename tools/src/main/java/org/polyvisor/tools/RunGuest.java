package org.polyvisor.tools;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.time.ClockMode;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStats;
import org.polyvisor.vm.VmStatus;

/**
 * Runs a guest headless, outside Karaf, with the real parts found on the class path, and prints
 * its console and the VM's statistics. Used by {@code bench/} and by end-to-end tests.
 *
 * <pre>
 * run-guest [--demo | --demo-test | --firmware FILE | --kernel FILE [--initrd FILES] [--cmdline TEXT]]
 *           [--cpu NAME] [--cpu-model MODEL] [--mmu NAME] [--option KIND.STRATEGY.OPTION=VALUE]...
 *           [--irqchip NAME] [--until TEXT [--idle SECONDS] [--type LINE]]
 *           [--devices LIST] [--memory SIZE] [--vcpus N] [--clock realtime|deterministic]
 *           [--seconds N] [--quiet] [--log] [--stats]
 * </pre>
 * {@code --idle SECONDS} waits that long between the text showing and the typing.
 * {@code --type LINE} types LINE and a newline on the console once {@code --until}'s text shows, then
 * runs on until the VM stops or the time is up (e.g. {@code --until 'polyvisor:/# ' --type 'poweroff -f'}).
 * {@code --log} prints the VM log (e.g. SeaBIOS's debugcon messages) to standard error as it comes.
 * Exit code: the guest's exit status after a power-off through the debug-exit port, 0 when the
 * time limit ends the run, 2 when the VM crashed, 64 for a usage error.
 */
public final class RunGuest {

    /**
     * What a run produced.
     *
     * @param status  the VM's state at the end
     * @param stats   its statistics
     * @param console what the guest wrote to the console (COM1)
     * @param log     the VM log: diagnostic output such as a firmware's debugcon messages
     * @param wall    wall-clock time of the run
     * @param cutOff  each vCPU's registers when the time was up with the VM still running (empty
     *                if it stopped or crashed by itself): where a guest that should have finished
     *                was waiting
     */
    public record Result(VmStatus status, VmStats stats, String console, String log, Duration wall,
            List<CpuState> cutOff) {
        /** @return guest instructions per wall-clock second spent running guest code */
        public double instructionsPerSecond() {
            Duration running = stats.timeByState().getOrDefault("running", wall);
            double s = Math.max(running.toNanos(), 1) / 1e9;
            return stats.instructionsRetired() / s;
        }
    }

    private RunGuest() {
    }

    /**
     * Runs a guest until it stops or the time is up.
     *
     * @param config     the VM (its parts must be on the class path)
     * @param limit      longest run
     * @param consoleOut where to copy the console as it is produced, or null
     * @return what happened
     * @throws IOException          if the parts cannot be loaded
     * @throws InterruptedException if interrupted
     */
    public static Result run(VmConfig config, Duration limit, PrintStream consoleOut)
            throws IOException, InterruptedException {
        return run(config, limit, consoleOut, null, null, null);
    }

    /**
     * Runs a guest until it stops, the time is up, or its console shows a text.
     *
     * @param config     the VM (its parts must be on the class path)
     * @param limit      longest run
     * @param consoleOut where to copy the console as it is produced, or null
     * @param logOut     where to copy the VM log as it is produced, or null
     * @param until      end the run as soon as the console output contains this, or null
     * @return what happened
     * @throws IOException          if the parts cannot be loaded
     * @throws InterruptedException if interrupted
     */
    public static Result run(VmConfig config, Duration limit, PrintStream consoleOut, PrintStream logOut,
            String until) throws IOException, InterruptedException {
        return run(config, limit, consoleOut, logOut, until, null);
    }

    /**
     * Runs a guest until it stops, the time is up, or its console shows a text, copying its console
     * and its log as they come.
     *
     * @param config     the VM (its parts must be on the class path)
     * @param limit      longest run
     * @param consoleOut where to copy the console as it is produced, or null
     * @param logOut     where to copy the VM log as it is produced, or null
     * @param until      end the run as soon as the console output contains this, or null; the
     *                   result's wall time is then the time from start to that moment
     * @param type       if not null, typed on the console (a newline added) once {@code until}
     *                   shows, and the run goes on until the VM stops or the time is up
     * @return what happened
     * @throws IOException          if the parts cannot be loaded
     * @throws InterruptedException if interrupted
     */
    public static Result run(VmConfig config, Duration limit, PrintStream consoleOut, PrintStream logOut,
            String until, String type)
            throws IOException, InterruptedException {
        return run(config, limit, consoleOut, logOut, until, type, Duration.ZERO);
    }

    /**
     * As {@link #run(VmConfig, Duration, PrintStream, PrintStream, String, String)}, letting the
     * guest sit idle for a while between {@code until} showing and {@code type} being typed (an idle
     * kernel's timers are what a quick test would not exercise).
     *
     * @param idle how long to wait before typing
     */
    public static Result run(VmConfig config, Duration limit, PrintStream consoleOut, PrintStream logOut,
            String until, String type, Duration idle)
            throws IOException, InterruptedException {
        VmManagerImpl manager = new VmManagerImpl();
        try {
            for (PartLoader.Found f : PartLoader.load(RunGuest.class.getClassLoader())) {
                manager.addPart(f.kind(), f.part());
            }
            for (org.polyvisor.boot.BootLoader l : PartLoader.bootLoaders(RunGuest.class.getClassLoader())) {
                manager.registerBootLoader(l);
            }
            Vm vm = manager.define(config);
            AutoCloseable follow = consoleOut == null ? null : vm.console().attach(b -> consoleOut.write(b, 0, b.length));
            AutoCloseable followLog = logOut == null ? null : vm.log().attach(b -> logOut.write(b, 0, b.length));
            long t0 = System.nanoTime();
            vm.start();
            VmStatus st;
            if (until == null) {
                st = vm.awaitState(limit, VmState.STOPPED, VmState.CRASHED);
            } else {
                // the text may span bytes written over time: look at the output kept, every 20 ms
                long end = t0 + limit.toNanos();
                do {
                    st = vm.awaitState(Duration.ofMillis(20), VmState.STOPPED, VmState.CRASHED);
                } while (st.state() == VmState.RUNNING && System.nanoTime() < end
                        && !new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1).contains(until));
            }
            Duration wall = Duration.ofNanos(System.nanoTime() - t0);
            if (type != null && until != null && st.state() == VmState.RUNNING && !idle.isZero()) {
                st = vm.awaitState(idle, VmState.STOPPED, VmState.CRASHED);
            }
            if (type != null && until != null && st.state() == VmState.RUNNING && System.nanoTime() < t0 + limit.toNanos()) {
                vm.console().send((type + "\n").getBytes(StandardCharsets.ISO_8859_1));
                long left = t0 + limit.toNanos() - System.nanoTime();
                st = vm.awaitState(Duration.ofNanos(Math.max(0, left)), VmState.STOPPED, VmState.CRASHED);
            }
            List<CpuState> cutOff = new ArrayList<>();
            if (st.state() == VmState.RUNNING) {
                vm.pause();
                st = vm.status();
                for (int i = 0; i < config.vcpus(); i++) {
                    cutOff.add(vm.cpuState(i));
                }
            }
            VmStats stats = vm.stats();
            if (follow != null) {
                follow.close();
            }
            if (followLog != null) {
                followLog.close();
            }
            String console = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
            String log = new String(vm.log().recentOutput(), StandardCharsets.ISO_8859_1);
            return new Result(st, stats, console, log, wall, cutOff);
        } catch (Exception e) {
            if (e instanceof IOException io) {
                throw io;
            }
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e);
        } finally {
            manager.deactivate();
        }
    }

    /**
     * Copies a bundled demo ROM to a temporary file.
     *
     * @param name {@code demo.rom} or {@code demo-test.rom}
     * @return the file
     * @throws IOException if the resource is missing
     */
    public static Path bundledRom(String name) throws IOException {
        try (InputStream in = RunGuest.class.getClassLoader().getResourceAsStream("org/polyvisor/guests/" + name)) {
            if (in == null) {
                throw new IOException("no bundled guest " + name + " on the class path");
            }
            Path p = Files.createTempFile("polyvisor-", "-" + name);
            p.toFile().deleteOnExit();
            Files.write(p, in.readAllBytes());
            return p;
        }
    }

    /**
     * Command-line entry.
     *
     * @param args see the class comment
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        VmConfig.Builder b = VmConfig.builder("guest").cpu("interpreter").irqchip("pic")
                .devices("uart16550, debug-exit").memory(16L << 20);
        long seconds = 10;
        boolean quiet = false;
        boolean log = false;
        boolean stats = false;
        String firmware = null;
        String until = null;
        String type = null;
        Duration idle = Duration.ZERO;
        List<String> rest = new ArrayList<>(List.of(args));
        try {
            while (!rest.isEmpty()) {
                String a = rest.remove(0);
                switch (a) {
                    case "--demo" -> firmware = bundledRom("demo.rom").toString();
                    case "--demo-test" -> firmware = bundledRom("demo-test.rom").toString();
                    case "--firmware" -> firmware = value(rest, a);
                    case "--kernel" -> b.kernel(value(rest, a));
                    case "--initrd" -> b.initrd(value(rest, a));
                    case "--cmdline" -> b.cmdline(value(rest, a));
                    case "--cpu" -> b.cpu(value(rest, a));
                    case "--cpu-model" -> b.cpuModel(value(rest, a));
                    case "--mmu" -> b.mmu(value(rest, a));
                    case "--option" -> {
                        String kv = value(rest, a);
                        int eq = kv.indexOf('=');
                        if (eq <= 0) {
                            throw new IllegalArgumentException("--option needs KEY=VALUE, got '" + kv + "'");
                        }
                        b.option(kv.substring(0, eq), kv.substring(eq + 1));
                    }
                    case "--until" -> until = value(rest, a);
                    case "--type" -> type = value(rest, a);
                    case "--idle" -> idle = Duration.ofSeconds(Long.parseLong(value(rest, a)));
                    case "--irqchip" -> b.irqchip(value(rest, a));
                    case "--devices" -> b.devices(value(rest, a));
                    case "--memory" -> b.memory(VmConfig.parseMemory(value(rest, a)));
                    case "--vcpus" -> b.vcpus(Integer.parseInt(value(rest, a)));
                    case "--clock" -> b.clock(ClockMode.valueOf(value(rest, a).toUpperCase(Locale.ROOT)));
                    case "--seconds" -> seconds = Long.parseLong(value(rest, a));
                    case "--quiet" -> quiet = true;
                    case "--log" -> log = true;
                    case "--stats" -> stats = true;
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (firmware == null && b.build().kernel().isEmpty()) {
                throw new IllegalArgumentException("give --demo, --demo-test, --firmware FILE or --kernel FILE");
            }
        } catch (IllegalArgumentException | VmException e) {
            System.err.println("run-guest: " + e.getMessage());
            System.exit(64);
            return;
        }
        if (firmware != null) {
            b.firmware(firmware);
        }
        Result r;
        try {
            r = run(b.build(), Duration.ofSeconds(seconds), quiet ? null : System.out, log ? System.err : null,
                    until, type, idle);
        } catch (VmException e) {
            System.err.println("run-guest: " + e.getMessage());
            System.exit(64);
            return;
        }
        System.out.flush();
        PrintStream out = System.err;
        out.println();
        out.println("status: " + r.status().describe());
        out.printf(Locale.ROOT, "instructions retired: %d%n", r.stats().instructionsRetired());
        out.printf(Locale.ROOT, "time: %s%n", r.stats().timeByState());
        out.printf(Locale.ROOT, "speed: %.1f million instructions per second (running time)%n",
                r.instructionsPerSecond() / 1e6);
        out.println("exits: " + r.stats().exitsByReason());
        out.println("console lines: " + r.console().lines().count());
        if (until != null) {
            boolean found = r.console().contains(until);
            out.printf(Locale.ROOT, "until: %s after %.3f s from vm start%n", found ? "found" : "NOT found", r.wall().toNanos() / 1e9);
        }
        for (int i = 0; i < r.cutOff().size(); i++) {
            String regs = r.cutOff().get(i).toString();
            out.print("vcpu " + i + " when the time was up: " + regs + (regs.endsWith("\n") ? "" : "\n"));
        }
        if (stats) {
            r.stats().parts().forEach((part, counters) -> out.println("stats " + part + ": " + counters));
        }
        int code = r.status().exitStatus().orElse(r.status().state() == VmState.CRASHED ? 2 : 0);
        System.exit(code);
    }

    private static String value(List<String> rest, String option) {
        if (rest.isEmpty()) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return rest.remove(0);
    }
}
