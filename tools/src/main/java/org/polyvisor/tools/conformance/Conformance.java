package org.polyvisor.tools.conformance;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.part.PartKind;
import org.polyvisor.tools.PartLoader;

/**
 * Command-line entry of the conformance runner:
 *
 * <pre>
 * tools/conformance [--engine NAME] [--limit N] [--only 80.3,F6.6] [--show N] [--differences] FOLDER
 * </pre>
 * Runs every {@code *.json.gz} SingleStepTests file in FOLDER on the named CPU engine (default
 * {@code interpreter}, found by name among the parts on the class path), prints one line per opcode
 * file, then the known differences applied, and last {@code N passed, M failed}. Exit code 0 when
 * nothing failed, 1 when something did, 64 for a usage error.
 */
public final class Conformance {

    private Conformance() {
    }

    /**
     * Finds a CPU strategy by name among the parts on the class path.
     *
     * @param name the strategy name, e.g. {@code interpreter}
     * @return the strategy
     * @throws IOException              if the parts cannot be read
     * @throws IllegalArgumentException naming the engines that exist, if none is called so
     */
    public static CpuStrategy engine(String name) throws IOException {
        List<String> names = new ArrayList<>();
        for (PartLoader.Found f : PartLoader.load(Conformance.class.getClassLoader())) {
            if (f.kind() == PartKind.CPU) {
                CpuStrategy s = (CpuStrategy) f.part();
                if (s.name().equals(name)) {
                    if (!s.availability().available()) {
                        throw new IllegalArgumentException("engine " + name + " cannot run here: "
                                + s.availability().reason());
                    }
                    return s;
                }
                names.add(s.name());
            }
        }
        throw new IllegalArgumentException("no engine named " + name + " (have: " + String.join(", ", names) + ")");
    }

    /**
     * Runs the command.
     *
     * @param args see the class comment
     * @param out  report output
     * @return the exit code
     * @throws IOException if the vectors cannot be read
     */
    public static int run(String[] args, PrintStream out) throws IOException {
        String engine = "interpreter";
        int limit = 0;
        int show = 10;
        boolean differences = false;
        Set<String> only = new LinkedHashSet<>();
        Path folder = null;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--engine" -> engine = value(args, ++i, a);
                    case "--limit" -> limit = Integer.parseInt(value(args, ++i, a));
                    case "--show" -> show = Integer.parseInt(value(args, ++i, a));
                    case "--only" -> only.addAll(List.of(value(args, ++i, a).toUpperCase(java.util.Locale.ROOT).split(",")));
                    case "--differences" -> differences = true;
                    case "-h", "--help" -> {
                        usage(out);
                        return 0;
                    }
                    default -> {
                        if (a.startsWith("-") || folder != null) {
                            throw new IllegalArgumentException("unexpected argument " + a);
                        }
                        folder = Path.of(a);
                    }
                }
            }
            if (folder == null) {
                throw new IllegalArgumentException("give the vector folder");
            }
            if (!Files.isDirectory(folder)) {
                throw new IllegalArgumentException("not a folder: " + folder);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("conformance: " + e.getMessage());
            usage(System.err);
            return 64;
        }
        CpuStrategy strategy;
        try {
            strategy = engine(engine);
        } catch (IllegalArgumentException e) {
            System.err.println("conformance: " + e.getMessage());
            return 64;
        }
        long t0 = System.nanoTime();
        SingleStepRunner.Report r = SingleStepRunner.runFolder(strategy, folder, limit, only, show, out);
        double secs = (System.nanoTime() - t0) / 1e9;
        for (String f : r.failures()) {
            out.println("FAIL " + f);
        }
        out.println("engine " + strategy.name() + ", " + r.opcodes().size() + " files, " + String.format(
                java.util.Locale.ROOT, "%.1f s", secs));
        if (r.notComparable() > 0) {
            out.println(r.notComparable() + " vectors not comparable on an i686 (see below)");
        }
        if (r.unsupported() > 0) {
            out.println(r.unsupported() + " of the failures: the engine stopped as unsupported");
        }
        for (Map.Entry<KnownDifference, Integer> e : r.applied().entrySet()) {
            out.println("known difference " + e.getKey().id() + ": " + e.getValue() + " vectors"
                    + (differences ? " -- " + e.getKey().reason() : ""));
        }
        out.println(r.summary());
        return r.failed() == 0 ? 0 : 1;
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static void usage(PrintStream out) {
        out.println("usage: conformance [--engine NAME] [--limit N] [--only 80.3,F6.6] [--show N] [--differences]"
                + " FOLDER");
    }

    /**
     * Command-line entry.
     *
     * @param args see the class comment
     * @throws IOException if the vectors cannot be read
     */
    public static void main(String[] args) throws IOException {
        int code = run(args, System.out);
        System.out.flush();
        System.exit(code);
    }
}
