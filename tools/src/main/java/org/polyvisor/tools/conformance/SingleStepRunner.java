package org.polyvisor.tools.conformance;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.SegmentRegister;

/**
 * Runs SingleStepTests vectors (JSON, one instruction each, captured on real hardware) on a CPU
 * engine and compares the final state, applying only the {@link KnownDifference}s.
 *
 * <p>How a vector runs (the folder's README defines it): load the 14 registers (real mode, segment
 * bases = selector * 16, FLAGS & 0FFFh) and every initial RAM byte into flat RAM with A20 on, start
 * at CS:IP, and run until the first HLT: the F4 after the instruction, or the one at a branch target
 * or interrupt handler. So one instruction is the instruction under test (with its prefixes; a REP
 * string instruction runs all its iterations, CX being small) plus, where it branches or faults, the
 * event delivery, and the terminating HLT. The run is bounded ({@link #BUDGET}); a vector that does
 * not halt fails. Then the registers (all 14, expected = final value or, if not listed, initial)
 * and the listed final RAM bytes are compared; the engine must also leave every other initial RAM
 * byte alone and write nowhere else.
 */
public final class SingleStepRunner {

    /** Instructions allowed before the HLT must have been reached. */
    static final int BUDGET = 16;

    /** How a vector was run. */
    private enum Variant { STRIP_LOCK, ALIAS_SS_FAULT }

    /** Result of one vector. */
    enum Status { PASS, FAIL, UNSUPPORTED, NOT_COMPARABLE }

    /**
     * @param status  what happened
     * @param applied the known differences that were applied (masks, reruns)
     * @param detail  for a failure, what differed
     */
    record Outcome(Status status, Set<KnownDifference> applied, String detail) {
    }

    /** Counts for one file (opcode). */
    public static final class OpcodeCount {
        private final String name;
        int passed;
        int failed;
        int unsupported;
        int notComparable;
        final Map<KnownDifference, Integer> applied = new EnumMap<>(KnownDifference.class);

        OpcodeCount(String name) {
            this.name = name;
        }

        /** @return the opcode name (file name without {@code .json.gz}) */
        public String name() {
            return name;
        }

        /** @return vectors that matched */
        public int passed() {
            return passed;
        }

        /** @return vectors that differed (engine shut down as unsupported included) */
        public int failed() {
            return failed + unsupported;
        }

        /** @return failures that were an engine's "unsupported" shutdown */
        public int unsupported() {
            return unsupported;
        }

        /** @return vectors not comparable on an i686 (a {@link KnownDifference} says why) */
        public int notComparable() {
            return notComparable;
        }

        String line() {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-6s %5d passed %5d failed", name,
                    passed, failed + unsupported));
            if (unsupported > 0) {
                sb.append(String.format(Locale.ROOT, " (%d unsupported)", unsupported));
            }
            if (notComparable > 0) {
                sb.append(String.format(Locale.ROOT, " %d not comparable", notComparable));
            }
            if (!applied.isEmpty()) {
                sb.append("  [");
                String sep = "";
                for (Map.Entry<KnownDifference, Integer> e : applied.entrySet()) {
                    sb.append(sep).append(e.getKey().id()).append(' ').append(e.getValue());
                    sep = ", ";
                }
                sb.append(']');
            }
            return sb.toString();
        }
    }

    /** Totals of a run over a folder. */
    public static final class Report {
        private final List<OpcodeCount> opcodes = new ArrayList<>();
        private final List<String> failures = new ArrayList<>();
        private final Map<KnownDifference, Integer> applied = new EnumMap<>(KnownDifference.class);

        /** @return per-file counts, in file-name order */
        public List<OpcodeCount> opcodes() {
            return opcodes;
        }

        /** @return descriptions of the first failures */
        public List<String> failures() {
            return failures;
        }

        /** @return how often each known difference was applied */
        public Map<KnownDifference, Integer> applied() {
            return applied;
        }

        /** @return vectors that matched */
        public int passed() {
            return opcodes.stream().mapToInt(OpcodeCount::passed).sum();
        }

        /** @return vectors that did not match */
        public int failed() {
            return opcodes.stream().mapToInt(OpcodeCount::failed).sum();
        }

        /** @return failures that were "unsupported" shutdowns */
        public int unsupported() {
            return opcodes.stream().mapToInt(OpcodeCount::unsupported).sum();
        }

        /** @return vectors not comparable on an i686 */
        public int notComparable() {
            return opcodes.stream().mapToInt(OpcodeCount::notComparable).sum();
        }

        /** @return the last line of the command: {@code N passed, M failed} */
        public String summary() {
            return passed() + " passed, " + failed() + " failed";
        }
    }

    private final CpuStrategy strategy;
    private final Metadata metadata;

    /**
     * @param strategy the CPU strategy whose engines run the vectors
     * @param metadata the folder's metadata (undefined-flag masks)
     */
    SingleStepRunner(CpuStrategy strategy, Metadata metadata) {
        this.strategy = strategy;
        this.metadata = metadata;
    }

    /**
     * Runs every {@code *.json.gz} in a folder.
     *
     * @param strategy the engine's strategy
     * @param folder   the vector folder (with {@code metadata.json} if it has one)
     * @param limit    vectors per file (the first ones), or {@code <= 0} for all
     * @param only     file names (e.g. {@code 80.3}) to run, or empty for all
     * @param show     failures to describe in the report
     * @param out      where per-opcode lines go as they finish, or null
     * @return the report
     * @throws IOException if a file cannot be read
     */
    public static Report runFolder(CpuStrategy strategy, Path folder, int limit, Set<String> only, int show,
            PrintStream out) throws IOException {
        SingleStepRunner r = new SingleStepRunner(strategy, Metadata.read(folder));
        Report report = new Report();
        List<Path> files;
        try (Stream<Path> s = Files.list(folder)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".json.gz")).sorted().toList();
        }
        if (files.isEmpty()) {
            throw new IOException("no *.json.gz vector files in " + folder);
        }
        for (Path f : files) {
            String name = f.getFileName().toString().replace(".json.gz", "");
            if (!only.isEmpty() && !only.contains(name)) {
                continue;
            }
            OpcodeCount count = new OpcodeCount(name);
            for (TestVector v : load(f, name, limit)) {
                Outcome o = r.run(v);
                switch (o.status()) {
                    case PASS -> count.passed++;
                    case FAIL -> count.failed++;
                    case UNSUPPORTED -> count.unsupported++;
                    default -> count.notComparable++;
                }
                for (KnownDifference d : o.applied()) {
                    count.applied.merge(d, 1, Integer::sum);
                    report.applied.merge(d, 1, Integer::sum);
                }
                if ((o.status() == Status.FAIL || o.status() == Status.UNSUPPORTED) && report.failures.size() < show) {
                    report.failures.add(String.format(Locale.ROOT, "%s #%d %s [%s]: %s", name, v.idx(), v.name(),
                            v.hex(), o.detail()));
                }
            }
            report.opcodes.add(count);
            if (out != null) {
                out.println(count.line());
            }
        }
        return report;
    }

    /**
     * Reads the vectors of one file.
     *
     * @param file  a gzipped JSON array of vectors
     * @param name  the opcode name for reports
     * @param limit the first vectors to keep, {@code <= 0} for all
     * @return the vectors
     * @throws IOException if the file cannot be read or parsed
     */
    @SuppressWarnings("unchecked")
    static List<TestVector> load(Path file, String name, int limit) throws IOException {
        String text;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file), 1 << 16)) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        List<Object> all;
        try {
            all = (List<Object>) Json.parse(text);
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new IOException("cannot parse " + file + ": " + e.getMessage(), e);
        }
        List<TestVector> out = new ArrayList<>();
        for (Object o : all) {
            if (limit > 0 && out.size() >= limit) {
                break;
            }
            out.add(TestVector.of(name, (Map<String, Object>) o));
        }
        return out;
    }

    // =====================================================================================
    // One vector
    // =====================================================================================

    /** What one attempt produced. */
    private record Attempt(boolean ok, boolean unsupported, String detail, List<Integer> vectors,
                           Set<KnownDifference> used) {
        Attempt(boolean ok, boolean unsupported, String detail, List<Integer> vectors) {
            this(ok, unsupported, detail, vectors, Set.of());
        }
    }

    /** Records which flag masks a FLAGS difference needed. */
    private static void noteFlagMasks(int diff, int metaMask, Set<KnownDifference> used) {
        if ((diff & 0xF000) != 0) {
            used.add(KnownDifference.FLAGS_12_15);
        }
        if ((diff & 0x0FFF & ~metaMask) != 0) {
            used.add(KnownDifference.UNDEFINED_FLAGS);
        }
    }

    /** String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS. */
    static boolean isString(int opcode) {
        return opcode >= 0xA4 && opcode <= 0xA7 || opcode >= 0xAA && opcode <= 0xAF || opcode >= 0x6C && opcode <= 0x6F;
    }

    Outcome run(TestVector v) {
        // Differences are counted only where they were needed (the comparison differed in masked bits).
        Set<KnownDifference> applied = java.util.EnumSet.noneOf(KnownDifference.class);
        int length = v.bytes().length - 1; // without the HLT
        if (v.opcode() == 0xF4) {
            length = v.bytes().length;
        }
        if (v.exception() == 13 && length > 10) {
            return new Outcome(Status.NOT_COMPARABLE, Set.of(KnownDifference.LENGTH_LIMIT), "");
        }
        if ((v.opcode() == 0x8C || v.opcode() == 0x8E) && ((v.modrm() >> 3) & 7) >= 4 && ((v.modrm() >> 3) & 7) <= 5) {
            return new Outcome(Status.NOT_COMPARABLE, Set.of(KnownDifference.SREG_FS_GS), "");
        }
        // Plain run first; a difference the table explains is retried with that difference applied
        // (the variants combine: a LOCK-prefixed LEAVE at BP = FFFFh needs both).
        Set<Variant> variants = java.util.EnumSet.noneOf(Variant.class);
        Attempt a = attempt(v, variants);
        while (!a.ok()) {
            int first = a.vectors().isEmpty() ? -1 : a.vectors().get(0);
            if (v.hasLock() && first == 6 && v.exception() != 6 && variants.add(Variant.STRIP_LOCK)) {
                applied.add(KnownDifference.LOCK_PREFIX);
            } else if (v.exception() == 13 && first == 12 && !v.initialRam().containsKey(48L)
                    && variants.add(Variant.ALIAS_SS_FAULT)) {
                applied.add(KnownDifference.STACK_LIMIT);
            } else {
                break;
            }
            a = attempt(v, variants);
        }
        applied.addAll(a.used());
        if (a.ok()) {
            return new Outcome(Status.PASS, applied, "");
        }
        String how = variants.isEmpty() ? "" : "with " + variants + ": ";
        return new Outcome(a.unsupported() ? Status.UNSUPPORTED : Status.FAIL, applied, how + a.detail());
    }

    private Attempt attempt(TestVector v, Set<Variant> variants) {
        SparseMemory mem = new SparseMemory();
        v.initialRam().forEach((a, b) -> mem.writeByte(a, b));
        int cs = v.initial().get("cs");
        int ip = v.initial().get("ip");
        BitSet rewritten = new BitSet();
        int locks = 0;
        if (variants.contains(Variant.STRIP_LOCK)) {
            List<Integer> kept = new ArrayList<>();
            for (int i = 0; i < v.bytes().length; i++) {
                if (i < v.prefixCount() && v.bytes()[i] == 0xF0) {
                    locks++;
                } else {
                    kept.add(v.bytes()[i]);
                }
            }
            ip = (ip + locks) & 0xFFFF;
            for (int i = 0; i < kept.size(); i++) {
                long a = ((long) cs << 4) + ((ip + i) & 0xFFFF);
                mem.writeByte(a, kept.get(i));
                rewritten.set((int) a);
            }
        }
        if (variants.contains(Variant.ALIAS_SS_FAULT)) {
            for (int i = 0; i < 4; i++) {
                mem.writeByte(48 + i, mem.peek(52 + i));
            }
        }
        CpuState.Builder b = CpuState.powerOn(0).toBuilder();
        String[] gpr = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
        for (int i = 0; i < 8; i++) {
            b.gpr(i, v.initial().get(gpr[i]));
        }
        String[] seg = {"es", "cs", "ss", "ds"};
        for (int i = 0; i < 4; i++) {
            int sel = v.initial().get(seg[i]);
            b.segment(i, i == CpuState.CS
                    ? new SegmentRegister(sel, (long) sel << 4, 0xFFFF, SegmentRegister.REAL_MODE_CODE)
                    : SegmentRegister.realMode(sel));
        }
        b.segment(CpuState.FS, SegmentRegister.realMode(0)).segment(CpuState.GS, SegmentRegister.realMode(0));
        b.rip(ip).rflags((v.initial().get("flags") & 0x0FFF) | 0x2);
        b.cr0(0x10); // real mode, ET (x87 present, EM clear)
        b.idtr(new DescriptorTableRegister(0, 0x3FF));
        Exit exit;
        CpuState s;
        try (CpuEngine engine = strategy.createEngine(new VectorContext(mem))) {
            engine.importState(b.build());
            mem.track();
            exit = engine.run(BUDGET);
            s = engine.exportState();
        } catch (RuntimeException e) {
            return new Attempt(false, false, "engine threw " + e, mem.vectorsRead());
        }
        List<Integer> vectors = List.copyOf(mem.vectorsRead());
        if (exit instanceof Exit.Shutdown sd && sd.cause() == Exit.Shutdown.Cause.UNSUPPORTED) {
            return new Attempt(false, true, sd.message(), vectors);
        }
        if (!(exit instanceof Exit.Halted)) {
            return new Attempt(false, false, "no HLT reached: " + exit + " at " + s.location(), vectors);
        }
        return compare(v, mem, s, variants, rewritten, vectors);
    }

    private Attempt compare(TestVector v, SparseMemory mem, CpuState s, Set<Variant> variants, BitSet rewritten,
            List<Integer> vectors) {
        StringBuilder diff = new StringBuilder();
        int metaMask = metadata.flagsMask(v.opcode(), v.modrm());
        int flagsMask = 0x0FFF & metaMask;
        Map<String, Integer> actual = new HashMap<>();
        String[] gpr = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
        for (int i = 0; i < 8; i++) {
            actual.put(gpr[i], (int) s.gpr(i) & 0xFFFF);
        }
        actual.put("es", s.segment(CpuState.ES).selector());
        actual.put("cs", s.segment(CpuState.CS).selector());
        actual.put("ss", s.segment(CpuState.SS).selector());
        actual.put("ds", s.segment(CpuState.DS).selector());
        actual.put("ip", (int) s.rip() & 0xFFFF);
        actual.put("flags", (int) s.rflags() & 0xFFFF);
        Set<KnownDifference> used = java.util.EnumSet.noneOf(KnownDifference.class);
        boolean stringFault = v.exception() == 13 && isString(v.opcode());
        for (String r : TestVector.REGISTERS) {
            int exp = v.expected(r);
            int act = actual.get(r);
            int mask = r.equals("flags") ? flagsMask : 0xFFFF;
            if (stringFault && (r.equals("si") || r.equals("di") || r.equals("cx"))) {
                if (exp != act) {
                    used.add(KnownDifference.STRING_FAULT_REGS);
                }
                continue;
            }
            if (r.equals("flags")) {
                noteFlagMasks(exp ^ act, metaMask, used);
            }
            if ((exp & mask) != (act & mask)) {
                diff.append(String.format(Locale.ROOT, " %s=%04x(want %04x)", r, act, exp));
            }
        }
        // Bytes compared under a mask: FLAGS images written to memory.
        Map<Long, Integer> byteMask = new HashMap<>();
        long ssBase = (long) v.expected("ss") << 4;
        int sp = v.expected("sp");
        if (v.exception() >= 0) {
            int at = (sp + 4) & 0xFFFF;
            byteMask.put(ssBase + at, flagsMask & 0xFF);
            byteMask.put(ssBase + ((at + 1) & 0xFFFF), (flagsMask >>> 8) & 0xFF);
            if (variants.contains(Variant.STRIP_LOCK)) {
                byteMask.put(ssBase + sp, 0); // pushed IP: points past the removed LOCK bytes
                byteMask.put(ssBase + ((sp + 1) & 0xFFFF), 0);
            }
        } else if (v.opcode() == 0x9C) {
            byteMask.put(ssBase + ((sp + 1) & 0xFFFF), 0x0F);
        }
        long flagsLow = v.exception() >= 0 ? ssBase + ((sp + 4) & 0xFFFF) : v.opcode() == 0x9C ? ssBase + sp : -1;
        if (flagsLow >= 0 && v.finalRam().containsKey(flagsLow)) {
            long flagsHigh = ssBase + (((flagsLow - ssBase) + 1) & 0xFFFF);
            int exp = v.finalRam().get(flagsLow) | v.finalRam().getOrDefault(flagsHigh, 0) << 8;
            int act = mem.peek(flagsLow) | mem.peek(flagsHigh) << 8;
            noteFlagMasks(exp ^ act, v.exception() >= 0 ? metaMask : 0xFFFF, used);
        }
        for (Map.Entry<Long, Integer> e : v.finalRam().entrySet()) {
            int m = byteMask.getOrDefault(e.getKey(), 0xFF);
            int act = mem.peek(e.getKey());
            if ((act & m) != (e.getValue() & m)) {
                diff.append(String.format(Locale.ROOT, " [%06x]=%02x(want %02x)", e.getKey(), act, e.getValue()));
            }
        }
        for (Map.Entry<Long, Integer> e : v.initialRam().entrySet()) {
            long a = e.getKey();
            if (!v.finalRam().containsKey(a) && !rewritten.get((int) a) && mem.peek(a) != e.getValue()) {
                diff.append(String.format(Locale.ROOT, " [%06x]=%02x(unchanged %02x)", a, mem.peek(a), e.getValue()));
            }
        }
        BitSet w = mem.written();
        for (int a = w.nextSetBit(0); a >= 0; a = w.nextSetBit(a + 1)) {
            if (!v.finalRam().containsKey((long) a) && !v.initialRam().containsKey((long) a) && mem.peek(a) != 0) {
                diff.append(String.format(Locale.ROOT, " stray write [%06x]=%02x", a, mem.peek(a)));
            }
        }
        if (diff.length() == 0) {
            return new Attempt(true, false, "", vectors, used);
        }
        if (!vectors.isEmpty()) {
            diff.append(" (vectors taken: ").append(vectors).append(v.exception() >= 0 ? ", want " + v.exception() : "")
                    .append(')');
        } else if (v.exception() >= 0) {
            diff.append(" (no vector taken, want ").append(v.exception()).append(')');
        }
        return new Attempt(false, false, diff.toString().trim(), vectors);
    }
}
