package org.polyvisor.vm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One device of a VM's configuration: a model name, an instance name and options. Written as
 * {@code model} or {@code model(key=value,...)}; the option {@code name} sets the instance name
 * (default: the model name, numbered from 2 on when repeated).
 *
 * @param model    the device model name, e.g. {@code uart16550}
 * @param instance the instance name, unique in the VM
 * @param options  the other options in the order given
 */
public record DeviceSpec(String model, String instance, Map<String, String> options) {

    /** Copies the options. */
    public DeviceSpec {
        options = Collections.unmodifiableMap(new LinkedHashMap<>(options));
    }

    /**
     * Parses a device list such as {@code uart16550, debug-exit(port=0xf4)}.
     *
     * @param text comma-separated devices; commas inside parentheses separate options
     * @return the devices in order
     * @throws IllegalArgumentException naming the malformed part
     */
    public static List<DeviceSpec> parseList(String text) {
        List<DeviceSpec> out = new ArrayList<>();
        if (text == null || text.isBlank()) {
            return out;
        }
        List<String> items = new ArrayList<>();
        int depth = 0;
        StringBuilder cur = new StringBuilder();
        for (char c : text.toCharArray()) {
            if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
                if (depth < 0) {
                    throw new IllegalArgumentException("unbalanced ')' in device list '" + text + "'");
                }
            }
            if (c == ',' && depth == 0) {
                items.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        if (depth != 0) {
            throw new IllegalArgumentException("unbalanced '(' in device list '" + text + "'");
        }
        items.add(cur.toString());
        Set<String> names = new HashSet<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String item : items) {
            DeviceSpec spec = parse(item.trim(), counts);
            if (!names.add(spec.instance())) {
                throw new IllegalArgumentException("device instance name '" + spec.instance() + "' is used twice");
            }
            out.add(spec);
        }
        return out;
    }

    private static DeviceSpec parse(String item, Map<String, Integer> counts) {
        if (item.isEmpty()) {
            throw new IllegalArgumentException("empty entry in device list");
        }
        String model = item;
        Map<String, String> options = new LinkedHashMap<>();
        int open = item.indexOf('(');
        if (open >= 0) {
            if (!item.endsWith(")")) {
                throw new IllegalArgumentException("device '" + item + "': options must end with ')'");
            }
            model = item.substring(0, open).trim();
            String body = item.substring(open + 1, item.length() - 1);
            for (String opt : body.split(",")) {
                if (opt.isBlank()) {
                    continue;
                }
                int eq = opt.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("device '" + model + "': option '" + opt.trim() + "' is not key=value");
                }
                options.put(opt.substring(0, eq).trim(), opt.substring(eq + 1).trim());
            }
        }
        if (!model.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
            throw new IllegalArgumentException("'" + model + "' is not a valid device model name");
        }
        int n = counts.merge(model, 1, Integer::sum);
        String instance = options.remove("name");
        if (instance == null) {
            instance = n == 1 ? model : model + n;
        }
        return new DeviceSpec(model, instance, options);
    }

    /**
     * Formats the spec back into configuration syntax.
     *
     * @return e.g. {@code uart16550(name=com2,port=0x2f8)}
     */
    @Override
    public String toString() {
        if (options.isEmpty() && instance.equals(model)) {
            return model;
        }
        StringBuilder sb = new StringBuilder(model).append('(');
        List<String> parts = new ArrayList<>();
        if (!instance.equals(model)) {
            parts.add("name=" + instance);
        }
        options.forEach((k, v) -> parts.add(k + "=" + v));
        return sb.append(String.join(",", parts)).append(')').toString();
    }
}
