import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.polyvisor.tools.RunGuest;
import org.polyvisor.vm.VmConfig;

/**
 * Runs each MMU benchmark workload (guests/mmu-bench) on the interpreter with each MMU strategy in
 * the same JVM: the interpreter's built-in walk, shadow paging and SLAT. Prints one line per run
 * (best of REPEAT wall times) with the counters that explain it, then a table of times.
 *
 *   java MmuBench ROM_DIR [REPEAT]
 */
public final class MmuBench {

    private static final String[] WORKLOADS = {"ctxsw", "pfstorm", "fork", "bigws"};
    private static final String[] STRATEGIES = {"", "shadow", "slat"};
    private static final String[] SHOWN = {
        "shadow-misses", "shadow-hits", "dirty-misses", "trace-faults", "shadow-pages-built", "shadow-pages-reused",
        "shadow-pages-zapped", "roots-reused", "evictions", "guest-walks", "2d-walk-steps", "nested-violations",
        "dirty-pages-logged"};

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int repeat = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        // Warm the JIT on the endless variant with each strategy (its rounds use every workload).
        for (String mmu : STRATEGIES) {
            RunGuest.run(config("warmup", dir.resolve("mmubench-endless.rom"), mmu), Duration.ofSeconds(3), null);
        }
        Map<String, double[]> ms = new LinkedHashMap<>();
        for (String w : WORKLOADS) {
            double[] row = new double[STRATEGIES.length];
            for (int s = 0; s < STRATEGIES.length; s++) {
                double best = Double.MAX_VALUE;
                RunGuest.Result kept = null;
                for (int r = 0; r < repeat; r++) {
                    RunGuest.Result res = RunGuest.run(config(w, dir.resolve("mmubench-" + w + ".rom"), STRATEGIES[s]),
                            Duration.ofSeconds(300), null);
                    if (!res.console().contains("mmu-bench " + w + " done")) {
                        throw new IllegalStateException(w + " with " + label(STRATEGIES[s]) + " failed: "
                                + res.status().describe() + "\n" + res.console());
                    }
                    double t = res.wall().toNanos() / 1e6;
                    if (t < best) {
                        best = t;
                        kept = res;
                    }
                }
                row[s] = best;
                print(w, STRATEGIES[s], best, kept);
            }
            ms.put(w, row);
        }
        System.out.println();
        System.out.printf("%-9s %12s %12s %12s   %s%n", "workload", "builtin-ms", "shadow-ms", "slat-ms",
                "winner (shadow vs slat), ratio slat/shadow");
        for (Map.Entry<String, double[]> e : ms.entrySet()) {
            double[] r = e.getValue();
            System.out.printf("%-9s %12.0f %12.0f %12.0f   %s, %.2f%n", e.getKey(), r[0], r[1], r[2],
                    r[1] <= r[2] ? "shadow" : "slat", r[2] / r[1]);
        }
    }

    private static String label(String mmu) {
        return mmu.isEmpty() ? "builtin" : mmu;
    }

    private static VmConfig config(String name, Path rom, String mmu) {
        return VmConfig.builder("bench-" + name).cpu("interpreter").mmu(mmu).devices("uart16550, debug-exit")
                .memory(64L << 20).firmware(rom.toString()).build();
    }

    private static void print(String w, String mmu, double best, RunGuest.Result res) {
        Map<String, Map<String, Long>> parts = res.stats().parts();
        Map<String, Long> cpu = parts.getOrDefault("cpu interpreter", Map.of());
        Map<String, Long> m = parts.getOrDefault("mmu " + mmu, Map.of());
        List<String> shown = new ArrayList<>();
        for (String k : SHOWN) {
            if (m.containsKey(k)) {
                shown.add(k + "=" + m.get(k));
            }
        }
        System.out.printf("%-8s %-8s %8.0f ms  %7.1f M instr  tlb-misses=%d  %s%n", w, label(mmu), best,
                res.stats().instructionsRetired() / 1e6, cpu.getOrDefault("tlb-misses", 0L), String.join(" ", shown));
    }
}
