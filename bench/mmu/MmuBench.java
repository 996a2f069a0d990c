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
    /** The MMU per column; "shadow:N" is shadow paging capped at N shadow page tables (mmu.shadow.max-pages). */
    private static final String[] STRATEGIES = {"", "shadow", "slat", "shadow:" + 4};
    private static final String[] SHOWN = {
        "shadow-misses", "shadow-hits", "dirty-misses", "trace-faults", "shadow-pages-built", "shadow-pages-reused",
        "shadow-pages-zapped", "roots-reused", "evictions", "guest-walks", "2d-walk-steps", "nested-violations",
        "dirty-pages-logged"};
    /** Bytes of one shadow page table (1024 entries of 8 bytes; 512 with PAE) and of one nested table page. */
    private static final int SHADOW_TABLE_BYTES = 8192;
    private static final int NESTED_PAGE_BYTES = 4096;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int repeat = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        // Warm the JIT on the endless variant with each strategy (its rounds use every workload).
        for (String mmu : new String[] {"", "shadow", "slat"}) {
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
        System.out.printf("%-9s %12s %12s %12s %14s   %s%n", "workload", "builtin-ms", "shadow-ms", "slat-ms",
                "shadow:4-ms", "winner (shadow vs slat), ratio slat/shadow");
        for (Map.Entry<String, double[]> e : ms.entrySet()) {
            double[] r = e.getValue();
            System.out.printf("%-9s %12.0f %12.0f %12.0f %14.0f   %s, %.2f%n", e.getKey(), r[0], r[1], r[2], r[3],
                    r[1] <= r[2] ? "shadow" : "slat", r[2] / r[1]);
        }
    }

    private static String label(String mmu) {
        return mmu.isEmpty() ? "builtin" : mmu;
    }

    private static String strategy(String column) {
        int colon = column.indexOf(':');
        return colon < 0 ? column : column.substring(0, colon);
    }

    private static VmConfig config(String name, Path rom, String column) {
        VmConfig.Builder b = VmConfig.builder("bench-" + name).cpu("interpreter").mmu(strategy(column))
                .devices("uart16550, debug-exit").memory(64L << 20).firmware(rom.toString());
        int colon = column.indexOf(':');
        if (colon >= 0) {
            b.option("mmu.shadow.max-pages", column.substring(colon + 1));
        }
        return b.build();
    }

    private static void print(String w, String mmu, double best, RunGuest.Result res) {
        Map<String, Map<String, Long>> parts = res.stats().parts();
        Map<String, Long> cpu = parts.getOrDefault("cpu interpreter", Map.of());
        Map<String, Long> m = parts.getOrDefault("mmu " + strategy(mmu), Map.of());
        List<String> shown = new ArrayList<>();
        for (String k : SHOWN) {
            if (m.containsKey(k)) {
                shown.add(k + "=" + m.get(k));
            }
        }
        System.out.printf("%-8s %-8s %8.0f ms  %7.1f M instr  tlb-misses=%d  %s%s%n", w, label(mmu), best,
                res.stats().instructionsRetired() / 1e6, cpu.getOrDefault("tlb-misses", 0L), String.join(" ", shown),
                memory(m));
    }

    /** Memory the strategy's structures took against its cap. */
    private static String memory(Map<String, Long> m) {
        if (m.containsKey("shadow-pages-peak")) {
            return String.format("  memory: peak %d shadow tables (<= %d KiB) of cap %d (%d KiB)", m.get("shadow-pages-peak"),
                    m.get("shadow-pages-peak") * SHADOW_TABLE_BYTES / 1024, m.get("shadow-pages-cap"),
                    m.get("shadow-pages-cap") * SHADOW_TABLE_BYTES / 1024);
        }
        if (m.containsKey("nested-table-pages")) {
            return String.format("  memory: %d nested table pages (%d KiB) of cap %d (%d KiB)", m.get("nested-table-pages"),
                    m.get("nested-table-pages") * NESTED_PAGE_BYTES / 1024, m.get("nested-table-pages-cap"),
                    m.get("nested-table-pages-cap") * NESTED_PAGE_BYTES / 1024);
        }
        return "";
    }
}
