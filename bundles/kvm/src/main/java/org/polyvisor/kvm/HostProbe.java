package org.polyvisor.kvm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Looks at the host the way an administrator would: {@code /proc/cpuinfo} (vendor, {@code vmx} /
 * {@code svm} flags), {@code /sys/module/kvm_intel|kvm_amd|kvm_pvm/parameters/*} (which module backs
 * {@code /dev/kvm} and how it is configured) and {@code /dev/kvm} itself. Everything is read below
 * a root directory, so tests can point it at recorded trees of other hosts.
 */
public final class HostProbe {

    /** The KVM modules this probe knows, in the order they are looked for. */
    static final List<String> MODULES = List.of("kvm_intel", "kvm_amd", "kvm_pvm");

    private HostProbe() {
    }

    /**
     * Probes the running host: reads below {@code /} and tries to open {@code /dev/kvm}.
     *
     * @return what was found
     */
    public static HostInfo probe() {
        return probe(Path.of("/"));
    }

    /**
     * Probes below a root; opens the KVM device only when the root is {@code /} (otherwise the
     * recorded {@code dev/kvm} file counts as openable).
     *
     * @param root the root directory
     * @return what was found
     */
    public static HostInfo probe(Path root) {
        boolean real = root.toAbsolutePath().normalize().equals(Path.of("/"));
        return probe(root, real ? HostProbe::openCheck : p -> null);
    }

    /**
     * Probes below a root with a given check of the device.
     *
     * @param root      the root directory
     * @param openCheck given the device path (which exists), answers null if it can be used, or
     *                  why not (e.g. {@code "cannot open /dev/kvm: Permission denied (errno 13)"})
     * @return what was found
     */
    public static HostInfo probe(Path root, Function<Path, String> openCheck) {
        Map<String, String> cpu = cpuinfo(root.resolve("proc/cpuinfo"));
        String vendorId = cpu.getOrDefault("vendor_id", "");
        Set<String> flags = new LinkedHashSet<>(List.of(cpu.getOrDefault("flags", "").trim().split("\\s+")));
        flags.remove("");
        Map<String, Map<String, String>> modules = new LinkedHashMap<>();
        for (String m : MODULES) {
            Path dir = root.resolve("sys/module").resolve(m);
            if (Files.isDirectory(dir)) {
                modules.put(m, parameters(dir.resolve("parameters")));
            }
        }
        Map<String, String> kvmParams = parameters(root.resolve("sys/module/kvm/parameters"));
        Path dev = root.resolve("dev/kvm");
        boolean present = Files.exists(dev);
        String problem = present ? openCheck.apply(dev) : null;
        return new HostInfo(vendorId, cpu.getOrDefault("model name", ""), flags, modules, kvmParams, present, problem);
    }

    /**
     * Tries to open the real device and checks its API version.
     *
     * @param dev the device
     * @return null if usable, else the reason
     */
    public static String openCheck(Path dev) {
        try {
            Kvm.open(dev.toString()).close();
            return null;
        } catch (KvmException e) {
            return e.getMessage();
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            return "cannot load the native binding (JNA) to open " + dev + ": " + e.getMessage();
        }
    }

    /** Reads the first processor's block of /proc/cpuinfo. */
    private static Map<String, String> cpuinfo(Path file) {
        Map<String, String> out = new LinkedHashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return out;
        }
        boolean seen = false;
        for (String line : lines) {
            if (line.isBlank()) {
                if (seen) {
                    break;
                }
                continue;
            }
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            seen = true;
            String key = line.substring(0, colon).trim();
            String value = line.substring(colon + 1);
            // The vendor of Zhaoxin parts is "  Shanghai  ", with its spaces: keep the raw value
            // after the single separating blank, trim only for other keys.
            if (key.equals("vendor_id")) {
                value = value.startsWith(" ") ? value.substring(1) : value;
            } else {
                value = value.trim();
            }
            out.putIfAbsent(key, value);
        }
        return out;
    }

    private static Map<String, String> parameters(Path dir) {
        Map<String, String> out = new TreeMap<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                try {
                    out.put(p.getFileName().toString(), Files.readString(p, StandardCharsets.ISO_8859_1).trim());
                } catch (IOException e) {
                    out.put(p.getFileName().toString(), "?");
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }
}
