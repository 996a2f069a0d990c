package org.polyvisor.shell.command;

import java.util.List;
import java.util.Locale;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.completers.FileCompleter;
import org.apache.karaf.shell.support.completers.StringsCompleter;
import org.polyvisor.time.ClockMode;
import org.polyvisor.vm.DeviceSpec;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;

/**
 * {@code vm:create}: defines a VM. The definition is checked here for what needs no platform
 * (syntax, sizes), then by the VM manager against the registered parts and the images; a refused
 * definition leaves nothing behind.
 */
@Command(scope = "vm", name = "create", description = "Defines a VM (persisted, so it survives a restart).",
        detailedDescription = "Example: vm:create --irqchip pic --devices 'uart16550, debug-exit' --memory 16M "
                + "--firmware guests/demo.rom --start demo2\n"
                + "Linux: vm:create --preset linux-i386 --start linux (images from guests/fetch; then vm:console linux)\n"
                + "A CPU model other than the strategy's default: --cpu-model 'pentium3,brand=Polyvisor CPU'\n"
                + "Relative image paths are resolved against the Polyvisor installation (karaf.home).")
@Service
public class CreateCommand extends VmCommandSupport {

    @Argument(index = 0, name = "name", description = "The VM name (letters, digits, '.', '_', '-')", required = true)
    String name;


    @Argument(index = 1, name = "options", description = "Options may also follow the VM name", multiValued = true)
    List<String> trailing;

    @Option(name = "--cpu", description = "CPU strategy (vm:strategies lists them)")
    @Completion(CpuStrategyCompleter.class)
    String cpu;

    @Option(name = "--cpu-model", description = "CPU model the guest sees (CPUID, MSRs): a model of the CPU "
            + "strategy (interpreter: default, pentium-pro, pentium2, pentium3), optionally with overrides, e.g. "
            + "'pentium3,stepping=1,brand=My CPU,features=-sep' (keys vendor, family, model, stepping, brand, features)")
    @Completion(value = StringsCompleter.class, values = {"default", "pentium-pro", "pentium2", "pentium3"})
    String cpuModel = "";

    @Option(name = "--mmu", description = "MMU strategy; none by default (the engine's own translation)")
    @Completion(MmuStrategyCompleter.class)
    String mmu = "";

    @Option(name = "--irqchip", description = "Interrupt-controller strategy, e.g. pic; none by default")
    @Completion(IrqChipStrategyCompleter.class)
    String irqchip;

    @Option(name = "--devices", description = "Devices, comma-separated, each 'model' or 'model(key=value,...)', "
            + "e.g. 'uart16550, debug-exit'")
    @Completion(DeviceModelCompleter.class)
    String devices;

    @Option(name = "--memory", aliases = "-m", description = "RAM size: bytes or a number with K, M or G (default 64M)")
    String memory;

    @Option(name = "--vcpus", description = "Number of vCPUs (default 1)")
    int vcpus = 1;

    @Option(name = "--firmware", description = "Firmware ROM image mapped at the reset vector")
    @Completion(FileCompleter.class)
    String firmware = "";

    @Option(name = "--kernel", description = "Kernel image")
    @Completion(FileCompleter.class)
    String kernel;

    @Option(name = "--initrd", description = "Initial RAM disk (with --kernel)")
    @Completion(FileCompleter.class)
    String initrd;

    @Option(name = "--cmdline", description = "Kernel command line")
    String cmdline;

    @Option(name = "--preset", description = "Start from a preset, e.g. linux-i386: Debian's i386 kernel and the "
            + "busybox initramfs that guests/fetch brings (interpreter, pic, uart16550, pit8254, rtc, i8042, 128M, "
            + "console=ttyS0); other options override its values")
    @Completion(value = StringsCompleter.class, values = {"linux-i386"})
    String preset;

    @Option(name = "--clock", description = "Clock mode: realtime (default) or deterministic")
    @Completion(value = StringsCompleter.class, values = {"realtime", "deterministic"})
    String clock = "realtime";

    @Option(name = "--autostart", description = "Start the VM now and whenever Polyvisor starts")
    boolean autostart;

    @Option(name = "--start", aliases = "-s", description = "Start the VM once it is defined")
    boolean start;

    @Option(name = "--option", aliases = "-o", multiValued = true,
            description = "A part option KEY=VALUE, KEY being <kind>.<strategy>.<option>, e.g. mmu.shadow.max-pages=512"
                    + " (the shadow page-table cap); repeatable")
    java.util.List<String> options;

    @Override
    public Object execute() throws Exception {
        TrailingOptions.apply(this, trailing);
        VmConfig config = toConfig();
        Vm vm;
        try {
            vm = vmManager.define(config);
        } catch (RuntimeException e) {
            throw new CommandFailure(Messages.describe(name, e));
        }
        if (start && !autostart) {
            try {
                vm.start();
            } catch (RuntimeException e) {
                throw new CommandFailure("vm '" + name + "' is defined but did not start: " + Messages.message(e));
            }
        }
        System.out.println("vm '" + name + "': defined" + (start || autostart ? ", " + vm.status().describe() : ""));
        return null;
    }

    /**
     * Builds and checks the configuration from the options, without the platform.
     *
     * @return the configuration
     * @throws CommandFailure naming the first problem
     */
    VmConfig toConfig() {
        Preset p = null;
        String presetKernel = null;
        String presetInitrd = null;
        if (preset != null && !preset.isBlank()) {
            p = Preset.named(preset);
            java.util.List<java.nio.file.Path> folders = Preset.cacheFolders(System.getProperty("karaf.home"),
                    System.getProperty(Preset.CACHE_PROPERTY));
            // an image given on the command line replaces the preset's, which then need not be fetched
            try {
                presetKernel = kernel == null ? p.image(p.kernel(), folders).toString() : null;
                presetInitrd = initrd == null ? p.image(p.initrd(), folders).toString() : null;
            } catch (CommandFailure e) {
                throw new CommandFailure("vm '" + name + "': " + e.getMessage());
            }
        }
        try {
            VmConfig.Builder b = VmConfig.builder(name);
            for (String o : options == null ? java.util.List.<String>of() : options) {
                int eq = o.indexOf('=');
                if (eq <= 0 || o.substring(0, eq).chars().filter(c -> c == '.').count() < 2) {
                    throw new IllegalArgumentException("invalid --option '" + o
                            + "': expected KIND.STRATEGY.OPTION=VALUE, e.g. mmu.shadow.max-pages=512");
                }
                b.option(o.substring(0, eq).trim(), o.substring(eq + 1).trim());
            }
            VmConfig config = b
                    .cpu(pick(cpu, p == null ? null : p.cpu(), "interpreter"))
                    .cpuModel(cpuModel)
                    .mmu(mmu)
                    .irqchip(pick(irqchip, p == null ? null : p.irqchip(), ""))
                    .devices(parseDevices(pick(devices, p == null ? null : p.devices(), "")))
                    .memory(VmConfig.parseMemory(pick(memory, p == null ? null : p.memory(), "64M")))
                    .vcpus(vcpus)
                    .firmware(firmware)
                    .kernel(pick(kernel, presetKernel, ""))
                    .initrd(pick(initrd, presetInitrd, ""))
                    .cmdline(pick(cmdline, p == null ? null : p.cmdline(), ""))
                    .clock(parseClock(clock))
                    .autostart(autostart)
                    .build();
            config.validate();
            return config;
        } catch (VmException | IllegalArgumentException e) {
            throw new CommandFailure(Messages.describe(name, e));
        }
    }

    /** The option if given, else the preset's value if there is one, else the default. */
    private static String pick(String option, String fromPreset, String fallback) {
        return option != null ? option : fromPreset != null ? fromPreset : fallback;
    }

    private static java.util.List<DeviceSpec> parseDevices(String text) {
        try {
            return DeviceSpec.parseList(text);
        } catch (IllegalArgumentException e) {
            throw new VmException("invalid --devices: " + e.getMessage(), e);
        }
    }

    static ClockMode parseClock(String text) {
        String t = text == null ? "" : text.trim().toUpperCase(Locale.ROOT);
        if (t.isEmpty()) {
            return ClockMode.REALTIME;
        }
        try {
            return ClockMode.valueOf(t);
        } catch (IllegalArgumentException e) {
            throw new VmException("invalid clock mode '" + text + "': expected realtime or deterministic");
        }
    }
}
