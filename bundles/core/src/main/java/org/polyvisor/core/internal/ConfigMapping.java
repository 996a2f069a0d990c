package org.polyvisor.core.internal;

import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Locale;
import java.util.Map;
import org.polyvisor.time.ClockMode;
import org.polyvisor.vm.DeviceSpec;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;

/** Converts between a VM's Config Admin properties and {@link VmConfig}. */
final class ConfigMapping {

    /** The factory PID of VM definitions. */
    static final String FACTORY_PID = "org.polyvisor.vm";

    private ConfigMapping() {
    }

    /**
     * Reads a definition from configuration properties (strings, as in a {@code .cfg} file, or
     * typed values).
     *
     * @param props the properties
     * @param pid   the configuration's PID, to name the VM when {@code name} is absent
     * @return the definition (not yet validated)
     * @throws VmException naming a malformed property
     */
    static VmConfig fromProperties(Map<String, ?> props, String pid) {
        String name = str(props, "name", "");
        if (name.isEmpty()) {
            name = nameFromPid(pid, str(props, "felix.fileinstall.filename", ""));
        }
        String memoryText = str(props, "memory", "64M");
        long memory;
        try {
            memory = VmConfig.parseMemory(memoryText);
        } catch (VmException e) {
            throw new VmException("vm '" + name + "': " + e.getMessage());
        }
        int vcpus;
        try {
            vcpus = Integer.parseInt(str(props, "vcpus", "1"));
        } catch (NumberFormatException e) {
            throw new VmException("vm '" + name + "': invalid vcpus '" + props.get("vcpus") + "': expected a number");
        }
        String clockText = str(props, "clock", "realtime").toUpperCase(Locale.ROOT);
        ClockMode clock;
        try {
            clock = ClockMode.valueOf(clockText);
        } catch (IllegalArgumentException e) {
            throw new VmException("vm '" + name + "': invalid clock '" + props.get("clock") + "': expected realtime or deterministic");
        }
        java.util.List<DeviceSpec> devices;
        try {
            devices = DeviceSpec.parseList(str(props, "devices", ""));
        } catch (IllegalArgumentException e) {
            throw new VmException("vm '" + name + "': invalid devices: " + e.getMessage());
        }
        return new VmConfig(name, str(props, "cpu", "interpreter"), str(props, "mmu", ""), str(props, "irqchip", ""),
                devices, memory, vcpus, str(props, "firmware", ""), str(props, "kernel", ""), str(props, "initrd", ""),
                str(props, "cmdline", ""), clock, Boolean.parseBoolean(str(props, "autostart", "false")),
                cpuModel(props, name), partOptions(props));
    }

    /**
     * The configuration keys of the CPU model's overrides, in the order they are applied, with the
     * key of {@link VmConfig#cpuModel()}'s syntax each stands for. {@code cpu.model} itself names the
     * built-in model.
     */
    private static final String[][] CPU_MODEL_KEYS = {
        {"cpu.vendor", "vendor"}, {"cpu.family", "family"}, {"cpu.model-number", "model"},
        {"cpu.stepping", "stepping"}, {"cpu.brand", "brand"}, {"cpu.features", "features"}};

    /** {@code cpu.model} and its overrides ({@code cpu.vendor}, ...) as one model description. */
    private static String cpuModel(Map<String, ?> props, String vm) {
        StringBuilder sb = new StringBuilder(str(props, "cpu.model", ""));
        if (sb.indexOf(",") >= 0 || sb.indexOf("=") >= 0) {
            throw new VmException("vm '" + vm + "': invalid cpu.model '" + sb + "': a model name; overrides go in "
                    + "cpu.vendor, cpu.family, cpu.model-number, cpu.stepping, cpu.brand and cpu.features");
        }
        for (String[] k : CPU_MODEL_KEYS) {
            String value = str(props, k[0], "");
            if (value.isEmpty()) { // absent or blank: the model's own value
                continue;
            }
            if (!k[1].equals("features") && value.indexOf(',') >= 0) {
                throw new VmException("vm '" + vm + "': invalid " + k[0] + " '" + value + "': no commas allowed");
            }
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(k[1]).append('=').append(value);
        }
        return sb.toString();
    }

    /** Splits a model description back into {@code cpu.model} and the override keys. */
    private static void putCpuModel(Hashtable<String, Object> d, String model) {
        String name = "";
        String key = null;
        for (String part : model.split(",")) {
            String item = part.strip();
            int eq = item.indexOf('=');
            if (eq < 0 && key == null) {
                name = item;
                continue;
            }
            if (eq < 0) { // a further item of the features list
                d.put("cpu.features", d.get("cpu.features") + "," + item);
                continue;
            }
            key = item.substring(0, eq).strip();
            for (String[] k : CPU_MODEL_KEYS) {
                if (k[1].equals(key)) {
                    d.put(k[0], item.substring(eq + 1).strip());
                }
            }
        }
        d.put("cpu.model", name);
    }

    /** The keys of the CPU model, which are not part options. */
    private static final java.util.Set<String> CPU_MODEL_KEY = java.util.Set.of("cpu.model", "cpu.vendor",
            "cpu.family", "cpu.model-number", "cpu.stepping", "cpu.brand", "cpu.features");

    /** Part options: properties named {@code <kind>.<strategy>.<option>} for a part kind. */
    private static Map<String, String> partOptions(Map<String, ?> props) {
        Map<String, String> out = new java.util.TreeMap<>();
        for (String k : props.keySet()) {
            boolean partKey = k.startsWith("cpu.") || k.startsWith("mmu.") || k.startsWith("irqchip.");
            if (partKey && !CPU_MODEL_KEY.contains(k)) {
                out.put(k, str(props, k, ""));
            }
        }
        return out;
    }

    /**
     * Writes a definition as configuration properties (strings, so a saved {@code .cfg} file reads
     * naturally).
     *
     * @param c the definition
     * @return the properties
     */
    static Dictionary<String, Object> toProperties(VmConfig c) {
        Hashtable<String, Object> d = new Hashtable<>();
        d.put("name", c.name());
        d.put("cpu", c.cpu());
        d.put("mmu", c.mmu());
        d.put("irqchip", c.irqchip());
        d.put("devices", String.join(", ", c.devices().stream().map(DeviceSpec::toString).toList()));
        d.put("memory", VmConfig.formatSize(c.memoryBytes()));
        d.put("vcpus", Integer.toString(c.vcpus()));
        d.put("firmware", c.firmware());
        d.put("kernel", c.kernel());
        d.put("initrd", c.initrd());
        d.put("cmdline", c.cmdline());
        d.put("clock", c.clock().name().toLowerCase(Locale.ROOT));
        d.put("autostart", Boolean.toString(c.autostart()));
        putCpuModel(d, c.cpuModel());
        c.options().forEach(d::put);
        return d;
    }

    private static String str(Map<String, ?> props, String key, String def) {
        Object v = props.get(key);
        if (v == null) {
            return def;
        }
        if (v instanceof String[] a) {
            return String.join(", ", a);
        }
        return v.toString().trim();
    }

    /** {@code org.polyvisor.vm~demo} or {@code .../etc/org.polyvisor.vm-demo.cfg} give {@code demo}. */
    static String nameFromPid(String pid, String fileName) {
        if (pid != null && pid.startsWith(FACTORY_PID + "~")) {
            return pid.substring(FACTORY_PID.length() + 1);
        }
        if (!fileName.isEmpty()) {
            String f = fileName.substring(fileName.lastIndexOf('/') + 1);
            if (f.startsWith(FACTORY_PID + "-") && f.endsWith(".cfg")) {
                return f.substring(FACTORY_PID.length() + 1, f.length() - 4);
            }
        }
        return "";
    }
}
