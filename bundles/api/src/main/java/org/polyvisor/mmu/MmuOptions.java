package org.polyvisor.mmu;

import java.util.Map;
import java.util.Set;

/** Reading a strategy's {@link MmuContext#options()} with messages that name the full configuration key. */
public final class MmuOptions {

    private MmuOptions() {
    }

    /**
     * Checks that only known options are set.
     *
     * @param strategy the strategy name (for messages: {@code mmu.<strategy>.<option>})
     * @param options  the options
     * @param known    the option names the strategy reads
     * @throws IllegalArgumentException naming the first unknown option
     */
    public static void checkKnown(String strategy, Map<String, String> options, Set<String> known) {
        for (String k : options.keySet()) {
            if (!known.contains(k)) {
                throw new IllegalArgumentException("unknown option mmu." + strategy + "." + k + " (known: "
                        + String.join(", ", known.stream().sorted().toList()) + ")");
            }
        }
    }

    /**
     * Reads a whole-number option.
     *
     * @param strategy     the strategy name (for messages)
     * @param options      the options
     * @param key          the option name
     * @param defaultValue the value when the option is not set
     * @param min          the smallest value accepted
     * @return the value
     * @throws IllegalArgumentException if the value is not a whole number {@code >= min}
     */
    public static int intOption(String strategy, Map<String, String> options, String key, int defaultValue, int min) {
        String v = options.get(key);
        if (v == null) {
            return defaultValue;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= min) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("invalid mmu." + strategy + "." + key + " '" + v
                + "': expected a whole number >= " + min);
    }
}
