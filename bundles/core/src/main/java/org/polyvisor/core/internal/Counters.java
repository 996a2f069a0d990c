package org.polyvisor.core.internal;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Named counters that several threads bump, read as a sorted snapshot. */
final class Counters {

    private final ConcurrentHashMap<String, LongAdder> counters = new ConcurrentHashMap<>();

    /**
     * Returns the counter of a name, creating it; keep the result on hot paths.
     *
     * @param name counter name
     * @return the adder
     */
    LongAdder counter(String name) {
        return counters.computeIfAbsent(name, n -> new LongAdder());
    }

    void increment(String name) {
        counter(name).increment();
    }

    Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        counters.forEach((k, v) -> {
            long n = v.sum();
            if (n != 0) {
                out.put(k, n);
            }
        });
        return out;
    }
}
