package org.polyvisor.virtio;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A device's options from the VM configuration, checked against the names it knows, with typed
 * getters whose errors name the device and the option.
 */
public final class DeviceOptions {

    private final String who;
    private final Map<String, String> options;

    /**
     * Checks the option names.
     *
     * @param who     the device, e.g. {@code virtio-blk 'disk'}
     * @param options the options
     * @param known   the names the device accepts
     * @throws IllegalArgumentException naming an unknown option and the known ones
     */
    public DeviceOptions(String who, Map<String, String> options, Set<String> known) {
        this.who = who;
        this.options = options;
        for (String key : options.keySet()) {
            if (!known.contains(key)) {
                throw new IllegalArgumentException(who + ": unknown option '" + key + "' (known: "
                        + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
    }

    /**
     * Returns who these options belong to.
     *
     * @return e.g. {@code virtio-blk 'disk'}
     */
    public String who() {
        return who;
    }

    /**
     * Returns a string option.
     *
     * @param name option name
     * @param def  value when absent (may be null)
     * @return the value
     */
    public String string(String name, String def) {
        String v = options.get(name);
        return v == null ? def : v;
    }

    /**
     * Returns an on/off option ({@code on/off}, {@code true/false}, {@code yes/no}, {@code 1/0}).
     *
     * @param name option name
     * @param def  value when absent
     * @return the value
     */
    public boolean flag(String name, boolean def) {
        String v = options.get(name);
        if (v == null) {
            return def;
        }
        switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "on", "true", "yes", "1":
                return true;
            case "off", "false", "no", "0":
                return false;
            default:
                throw new IllegalArgumentException(who + ": option " + name + "='" + v + "' is not on or off");
        }
    }

    /**
     * Returns a number option ({@code 0x..} hex or decimal) within a range.
     *
     * @param name option name
     * @param def  value when absent
     * @param min  smallest allowed
     * @param max  largest allowed
     * @return the value
     */
    public long number(String name, long def, long min, long max) {
        String v = options.get(name);
        if (v == null) {
            return def;
        }
        long n;
        try {
            String t = v.trim();
            n = t.startsWith("0x") || t.startsWith("0X") ? Long.parseLong(t.substring(2), 16) : Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(who + ": option " + name + "='" + v + "' is not a number", e);
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(who + ": option " + name + "=" + v + " is out of range " + min + ".." + max);
        }
        return n;
    }
}
