package org.polyvisor.tools.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.cpu.CpuStrategy;

/**
 * Runs the 80286 real-mode SingleStepTests vectors (captured on hardware) on the interpreter and
 * requires every comparable vector to match, with only the {@link KnownDifference}s applied.
 *
 * <p>Folder: {@code -Dpolyvisor.conformance.dir=...}, else {@code shared/conformance/80286-real}
 * beside the repository (found by walking up from the working directory); skipped with the reason
 * if absent. Size: {@code -Dpolyvisor.conformance.limit=N} vectors per file (default 0 = all
 * 81,250; about 10-25 s on two cores).
 *
 * <p>No failure is tolerated, and no vector may stop the engine as unsupported. The masked
 * differences ({@link KnownDifference}, each printed with its count and reason) are exactly:
 * <ul>
 * <li>{@code flags-12-15}: FLAGS bits 12-15 (IOPL, NT, bit 15) read as 0 in 80286 real mode, while an
 * i686 lets POPF/IRET set them and pushes them;</li>
 * <li>{@code undefined-flags}: the flags the vectors' metadata marks undefined per opcode (also in the
 * FLAGS image a #DE pushes);</li>
 * <li>{@code lock-prefix}: the 80286 accepts LOCK anywhere, an i686 raises #UD for LOCK on an
 * unlockable instruction or a register destination: rerun without the prefix;</li>
 * <li>{@code length-limit}: 10-byte instruction limit on the 80286 (#13), 15 on the i686: not
 * comparable;</li>
 * <li>{@code ss-limit}: an SS-relative word straddling offset FFFFh is #13 on the 80286, #SS on a
 * 386 or later;</li>
 * <li>{@code string-fault-regs}: a string instruction faulting on a straddle has already stepped
 * SI/DI/CX on the 80286, not on an i686 (restartable): those registers are not compared;</li>
 * <li>{@code fs-gs}: 8C/8E with reg 4/5 are FS/GS on a 386 or later, #6 on the 80286: not
 * comparable.</li>
 * </ul>
 * Every one of them must still apply to some vector (a mask nothing needs is removed, not kept).
 *
 * <p>On {@code binary-translation} every address is translated on its first execution, one
 * instruction per block, so each vector's instruction runs as translated code wherever the
 * translator covers it (and on the interpreter it falls back to elsewhere); by default the first
 * 60 vectors of each file (all with {@code -Dpolyvisor.conformance.btLimit=0}).
 *
 * <p>The only failures tolerated are the engine's own "unsupported" stops on x87 instructions (D8)
 * while the interpreter has no x87 arithmetic: they are counted and printed, and any other kind of
 * failure fails the test.
 */
class Vectors80286Test {

    static Path folder() {
        String prop = System.getProperty("polyvisor.conformance.dir");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path c = p.resolve("shared/conformance/80286-real");
            if (Files.isDirectory(c)) {
                return c;
            }
            Path d = p.resolve("../shared/conformance/80286-real").normalize();
            if (Files.isDirectory(d)) {
                return d;
            }
        }
        return null;
    }

    @ParameterizedTest
    @ValueSource(strings = {"interpreter", "binary-translation"})
    void allVectorsMatchTheHardware(String engineName) throws Exception {
        Path dir = folder();
        assumeTrue(dir != null && Files.isDirectory(dir),
                "no 80286 vector folder (shared/conformance/80286-real beside the repository, or set"
                + " -Dpolyvisor.conformance.dir)");
        boolean bt = engineName.equals("binary-translation");
        int limit = bt ? Integer.getInteger("polyvisor.conformance.btLimit", 60)
                : Integer.getInteger("polyvisor.conformance.limit", 0);
        CpuStrategy engine = Conformance.engine(engineName);
        long t0 = System.nanoTime();
        SingleStepRunner.Report r;
        if (bt) {
            System.setProperty("polyvisor.bt.threshold", "1");
            System.setProperty("polyvisor.bt.maxBlock", "1");
        }
        try {
            r = SingleStepRunner.runFolder(engine, dir, limit, Set.of(), 50, null);
        } finally {
            System.clearProperty("polyvisor.bt.threshold");
            System.clearProperty("polyvisor.bt.maxBlock");
        }
        double secs = (System.nanoTime() - t0) / 1e9;

        StringBuilder table = new StringBuilder();
        List<String> unexpected = new ArrayList<>();
        for (SingleStepRunner.OpcodeCount c : r.opcodes()) {
            table.append(c.line()).append('\n');
            if (c.failed() > 0) {
                unexpected.add(c.name() + ": " + c.failed() + " failed");
            }
        }
        for (Map.Entry<KnownDifference, Integer> e : r.applied().entrySet()) {
            table.append("known difference ").append(e.getKey().id()).append(": ").append(e.getValue())
                    .append(" vectors (").append(e.getKey().reason()).append(")\n");
        }
        table.append(String.format("%d not comparable, %d unsupported, %.1f s%n", r.notComparable(),
                r.unsupported(), secs));
        table.append(r.summary());
        System.out.println(table);
        for (String f : r.failures()) {
            System.out.println("FAIL " + f);
        }
        assertTrue(unexpected.isEmpty(), "vectors differ from the 80286: " + unexpected + "\n"
                + String.join("\n", r.failures()));
        assertEquals(0, r.unsupported(), "vectors the engine stopped on as unsupported");
        assertEquals(325, r.opcodes().size(), "vector files");
        if (limit == 0) {
            assertTrue(r.passed() > 80_000, "vectors passed: " + r.passed());
            assertEquals(EnumSet.allOf(KnownDifference.class), EnumSet.copyOf(r.applied().keySet()),
                    "every masked difference still applies to some vector");
        }
    }
}
