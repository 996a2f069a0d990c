package org.polyvisor.vm;

import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.Objects;
import org.polyvisor.time.ClockMode;

/**
 * The definition of a VM: which parts it is assembled from and what it boots. Persisted as a
 * Config Admin factory configuration (see {@link VmManager#define(VmConfig)}).
 *
 * @param name        unique VM name ({@code [A-Za-z0-9][A-Za-z0-9._-]*}, at most 64 characters)
 * @param cpu         the CPU strategy name, e.g. {@code interpreter}
 * @param mmu         the MMU strategy name, or empty for the engine's own translation
 * @param irqchip     the interrupt-controller strategy name, or empty for none
 * @param devices     the devices
 * @param memoryBytes RAM size in bytes (a multiple of 4 KiB, 1 MiB to 3 GiB)
 * @param vcpus       number of vCPUs (1 to 64)
 * @param firmware    path of a firmware ROM mapped at the reset vector, or empty
 * @param kernel      path of a kernel image, or empty
 * @param initrd      path of an initial RAM disk, or empty
 * @param cmdline     kernel command line
 * @param clock       how the VM clock runs
 * @param autostart   start the VM when it is defined and whenever the platform starts
 * @param cpuModel    the CPU model the guest sees through CPUID and the MSRs, empty for the CPU
 *                    strategy's default: a built-in model name, optionally followed by overrides,
 *                    e.g. {@code pentium2,stepping=3,brand=My CPU,features=+pge,-sep} (keys
 *                    {@code vendor}, {@code family}, {@code model} (the model number),
 *                    {@code stepping}, {@code brand}, {@code features}); the CPU strategy checks
 *                    it ({@link org.polyvisor.cpu.CpuStrategy#acceptsCpuModel})
 * @param options     tuning options of the VM's parts, keyed {@code <kind>.<strategy>.<option>}
 *                    (e.g. {@code mmu.shadow.max-pages}); a strategy reads its own
 * @since 0.2
 */
public record VmConfig(String name, String cpu, String mmu, String irqchip, List<DeviceSpec> devices,
                       long memoryBytes, int vcpus, String firmware, String kernel, String initrd,
                       String cmdline, ClockMode clock, boolean autostart, String cpuModel,
                       Map<String, String> options) {

    /** Smallest RAM size accepted. */
    public static final long MIN_MEMORY = 0x0010_0000L; // 1 MiB
    /** Largest RAM size accepted (below the 32-bit PCI/firmware hole). */
    public static final long MAX_MEMORY = 0xC000_0000L; // 3 GiB
    /** Largest vCPU count accepted. */
    public static final int MAX_VCPUS = 64;

    /** Normalises nulls to empty values. */
    public VmConfig {
        cpu = norm(cpu);
        mmu = norm(mmu);
        irqchip = norm(irqchip);
        devices = devices == null ? List.of() : List.copyOf(devices);
        firmware = norm(firmware);
        kernel = norm(kernel);
        initrd = norm(initrd);
        cmdline = cmdline == null ? "" : cmdline;
        clock = clock == null ? ClockMode.REALTIME : clock;
        cpuModel = norm(cpuModel);
        options = options == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(options));
    }

    /**
     * A definition with the CPU strategy's default CPU model and no part options (the form before 0.2).
     *
     * @param name        see the record
     * @param cpu         see the record
     * @param mmu         see the record
     * @param irqchip     see the record
     * @param devices     see the record
     * @param memoryBytes see the record
     * @param vcpus       see the record
     * @param firmware    see the record
     * @param kernel      see the record
     * @param initrd      see the record
     * @param cmdline     see the record
     * @param clock       see the record
     * @param autostart   see the record
     */
    public VmConfig(String name, String cpu, String mmu, String irqchip, List<DeviceSpec> devices,
                    long memoryBytes, int vcpus, String firmware, String kernel, String initrd,
                    String cmdline, ClockMode clock, boolean autostart) {
        this(name, cpu, mmu, irqchip, devices, memoryBytes, vcpus, firmware, kernel, initrd, cmdline, clock,
                autostart, "", Map.of());
    }

    /**
     * Returns the options of one strategy, prefix removed: for {@code ("mmu", "shadow")} the
     * {@code mmu.shadow.*} options.
     *
     * @param kind     the part kind's key ({@code cpu}, {@code mmu}, {@code irqchip})
     * @param strategy the strategy name
     * @return option names (without the prefix) to values
     */
    public Map<String, String> optionsOf(String kind, String strategy) {
        String prefix = kind + "." + strategy + ".";
        Map<String, String> out = new TreeMap<>();
        options.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return Collections.unmodifiableMap(out);
    }

    private static String norm(String s) {
        return s == null ? "" : s.trim();
    }

    /**
     * Checks everything that can be checked without looking at the host: name syntax, sizes,
     * counts and that something bootable is named.
     *
     * @throws VmException naming the first problem
     */
    public void validate() {
        if (name == null || !name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new VmException("invalid VM name '" + name
                    + "': use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters");
        }
        if (cpu.isEmpty()) {
            throw new VmException("vm '" + name + "': no cpu strategy given");
        }
        if (memoryBytes < MIN_MEMORY || memoryBytes > MAX_MEMORY) {
            throw new VmException("vm '" + name + "': invalid memory size " + formatSize(memoryBytes)
                    + ": must be between 1M and 3G");
        }
        if ((memoryBytes & 0xFFF) != 0) {
            throw new VmException("vm '" + name + "': invalid memory size " + memoryBytes
                    + " bytes: must be a multiple of 4 KiB");
        }
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new VmException("vm '" + name + "': invalid vcpus " + vcpus + ": must be 1.." + MAX_VCPUS);
        }
        if (firmware.isEmpty() && kernel.isEmpty()) {
            throw new VmException("vm '" + name + "': nothing to boot: set firmware or kernel");
        }
        if (!initrd.isEmpty() && kernel.isEmpty()) {
            throw new VmException("vm '" + name + "': initrd given without a kernel");
        }
    }

    /**
     * Parses a memory size such as {@code 64M}, {@code 64MiB}, {@code 1G}, {@code 65536K} or a
     * plain byte count.
     *
     * @param text the size
     * @return bytes
     * @throws VmException if malformed
     */
    public static long parseMemory(String text) {
        String t = Objects.requireNonNull(text, "memory").trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B") && t.length() > 1 && Character.isLetter(t.charAt(t.length() - 2))) {
            t = t.substring(0, t.length() - 1);
        }
        long mult = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> mult = 1L << 10;
                case 'M' -> mult = 1L << 20;
                case 'G' -> mult = 1L << 30;
                default -> mult = 1;
            }
            if (mult != 1) {
                t = t.substring(0, t.length() - 1).trim();
            }
        }
        try {
            long v = Long.parseLong(t);
            if (v < 0 || v > Long.MAX_VALUE / mult) {
                throw new NumberFormatException();
            }
            return v * mult;
        } catch (NumberFormatException e) {
            throw new VmException("invalid memory size '" + text + "': expected a number with an optional K, M or G suffix");
        }
    }

    /**
     * Formats a byte count the way {@link #parseMemory(String)} reads it.
     *
     * @param bytes the size
     * @return e.g. {@code 64M}
     */
    public static String formatSize(long bytes) {
        if (bytes > 0 && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + "G";
        } else if (bytes > 0 && bytes % (1L << 20) == 0) {
            return (bytes >> 20) + "M";
        } else if (bytes > 0 && bytes % (1L << 10) == 0) {
            return (bytes >> 10) + "K";
        }
        return Long.toString(bytes);
    }

    /**
     * Returns a copy with another CPU strategy (after a swap).
     *
     * @param newCpu the strategy name
     * @return the new config
     */
    public VmConfig withCpu(String newCpu) {
        return new VmConfig(name, newCpu, mmu, irqchip, devices, memoryBytes, vcpus, firmware, kernel, initrd,
                cmdline, clock, autostart, cpuModel, options);
    }

    /**
     * Returns a copy with another MMU strategy.
     *
     * @param newMmu the strategy name, empty for none
     * @return the new config
     */
    public VmConfig withMmu(String newMmu) {
        return new VmConfig(name, cpu, newMmu, irqchip, devices, memoryBytes, vcpus, firmware, kernel, initrd,
                cmdline, clock, autostart, cpuModel, options);
    }

    /**
     * Returns a copy with another interrupt-controller strategy.
     *
     * @param newIrqchip the strategy name, empty for none
     * @return the new config
     * @since 0.2
     */
    public VmConfig withIrqchip(String newIrqchip) {
        return new VmConfig(name, cpu, mmu, newIrqchip, devices, memoryBytes, vcpus, firmware, kernel, initrd,
                cmdline, clock, autostart, cpuModel, options);
    }

    /**
     * Starts a builder with defaults (64 MiB, one vCPU, realtime clock, no devices).
     *
     * @param name the VM name
     * @return a builder
     */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Builds a {@link VmConfig}. */
    public static final class Builder {
        private final String name;
        private String cpu = "interpreter";
        private String mmu = "";
        private String irqchip = "";
        private List<DeviceSpec> devices = List.of();
        private long memory = 64L << 20;
        private int vcpus = 1;
        private String firmware = "";
        private String kernel = "";
        private String initrd = "";
        private String cmdline = "";
        private ClockMode clock = ClockMode.REALTIME;
        private boolean autostart;
        private String cpuModel = "";
        private final Map<String, String> options = new TreeMap<>();

        private Builder(String name) {
            this.name = name;
        }

        /** @param v CPU strategy @return this */
        public Builder cpu(String v) {
            cpu = v;
            return this;
        }

        /** @param v MMU strategy @return this */
        public Builder mmu(String v) {
            mmu = v;
            return this;
        }

        /** @param v interrupt-controller strategy @return this */
        public Builder irqchip(String v) {
            irqchip = v;
            return this;
        }

        /** @param v device list in configuration syntax @return this */
        public Builder devices(String v) {
            devices = DeviceSpec.parseList(v);
            return this;
        }

        /** @param v devices @return this */
        public Builder devices(List<DeviceSpec> v) {
            devices = v;
            return this;
        }

        /** @param v RAM bytes @return this */
        public Builder memory(long v) {
            memory = v;
            return this;
        }

        /** @param v vCPU count @return this */
        public Builder vcpus(int v) {
            vcpus = v;
            return this;
        }

        /** @param v firmware path @return this */
        public Builder firmware(String v) {
            firmware = v;
            return this;
        }

        /** @param v kernel path @return this */
        public Builder kernel(String v) {
            kernel = v;
            return this;
        }

        /** @param v initrd path @return this */
        public Builder initrd(String v) {
            initrd = v;
            return this;
        }

        /** @param v command line @return this */
        public Builder cmdline(String v) {
            cmdline = v;
            return this;
        }

        /** @param v clock mode @return this */
        public Builder clock(ClockMode v) {
            clock = v;
            return this;
        }

        /** @param v autostart flag @return this */
        public Builder autostart(boolean v) {
            autostart = v;
            return this;
        }

        /**
         * @param v CPU model: a built-in name with optional overrides ({@link VmConfig#cpuModel()}),
         *          empty for the strategy's default
         * @return this
         * @since 0.2
         */
        public Builder cpuModel(String v) {
            cpuModel = v;
            return this;
        }

        /**
         * Sets a part option.
         *
         * @param key   {@code <kind>.<strategy>.<option>}, e.g. {@code mmu.shadow.max-pages}
         * @param value the value
         * @return this
         */
        public Builder option(String key, String value) {
            options.put(key, value);
            return this;
        }

        /** @return the config (not yet validated) */
        public VmConfig build() {
            return new VmConfig(name, cpu, mmu, irqchip, devices, memory, vcpus, firmware, kernel, initrd, cmdline,
                    clock, autostart, cpuModel, options);
        }
    }
}
