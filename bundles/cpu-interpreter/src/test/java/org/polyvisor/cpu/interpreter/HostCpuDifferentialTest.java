package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.x86.decode.Decoder;
import org.polyvisor.x86.decode.Instruction;

/**
 * The host CPU as oracle: seeded random instruction sequences ({@link SequenceGenerator}) run
 * natively in ring 3 (a small freestanding 32-bit harness, {@code src/test/native/hostcpu.c}, built
 * with {@code gcc -m32} at test time) and in the interpreter in flat 32-bit protected mode at ring 3,
 * at the same linear addresses. Compared: the general registers and EFLAGS stored by the sequence's
 * epilogue (flags the SDM leaves undefined at the end cleared on both sides), the data pages and
 * the stack page.
 *
 * <p>Size: {@code -Dpolyvisor.hostcpu.sequences} (default 3000, a few seconds), instructions per
 * sequence {@code -Dpolyvisor.hostcpu.length} (default 40), seed {@code -Dpolyvisor.hostcpu.seed}.
 * Skipped, with the reason, where gcc or 32-bit execution is missing.
 */
class HostCpuDifferentialTest {

    private static final int BATCH = 1000;

    /** Builds the native harness, or returns null with the reason in {@code why[0]}. */
    static Path harness(String[] why) throws InterruptedException {
        Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        Path src = base.resolve("src/test/native/hostcpu.c");
        if (!Files.isRegularFile(src)) { // run from an engine built on the interpreter (cpu-bt)
            src = base.resolve("../cpu-interpreter/src/test/native/hostcpu.c").normalize();
        }
        Path out = base.resolve("target/hostcpu/hostcpu");
        if (!Files.isRegularFile(src)) {
            why[0] = "no harness source at " + src;
            return null;
        }
        String arch = System.getProperty("os.arch");
        if (!arch.equals("amd64") && !arch.equals("x86_64") && !arch.equals("x86")) {
            why[0] = "host is not x86 (" + arch + ")";
            return null;
        }
        try {
            Files.createDirectories(out.getParent());
            Process p = new ProcessBuilder("gcc", "-m32", "-ffreestanding", "-nostdlib", "-static", "-fno-pie",
                    "-no-pie", "-O1", "-o", out.toString(), src.toString()).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                why[0] = "gcc -m32 could not build the harness: " + log.strip();
                return null;
            }
        } catch (IOException e) {
            why[0] = "gcc not available: " + e.getMessage();
            return null;
        }
        return out;
    }

    @Test
    void randomSequencesMatchTheHostCpu() throws Exception {
        String[] why = {""};
        Path harness = harness(why);
        assumeTrue(harness != null, why[0]);
        long seed = Long.getLong("polyvisor.hostcpu.seed", 0x5EED_2026L);
        int sequences = Integer.getInteger("polyvisor.hostcpu.sequences", 3000);
        int length = Integer.getInteger("polyvisor.hostcpu.length", 40);

        TestMachine m = new TestMachine(4 << 20);
        m.flat32(0);
        List<String> divergences = new ArrayList<>();
        long instructions = 0;
        long t0 = System.nanoTime();
        for (int first = 0; first < sequences; first += BATCH) {
            int n = Math.min(BATCH, sequences - first);
            List<SequenceGenerator> batch = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                batch.add(new SequenceGenerator(seed * 1_000_003L + first + i).generate(length));
            }
            byte[] nativeOut = runNative(harness, batch, first, seed);
            assumeTrue(nativeOut != null, "the host cannot run 32-bit code (no IA-32 emulation?)");
            for (int i = 0; i < n; i++) {
                SequenceGenerator g = batch.get(i);
                instructions += g.instructionStarts().size();
                byte[] ours = runInterpreter(m, g);
                String d = compare(g, ours, nativeOut, i * SequenceGenerator.SIZE);
                if (d != null && divergences.size() < 5) {
                    divergences.add("sequence " + (first + i) + " (seed " + seed + "): " + d + "\n"
                            + minimize(harness, m, seed * 1_000_003L + first + i, length));
                } else if (d != null) {
                    divergences.add("sequence " + (first + i));
                }
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("host-CPU differential: %d sequences, %d instructions, %d divergences, %.1f s (seed %d)%n",
                sequences, instructions, divergences.size(), secs, seed);
        divergences.stream().limit(5).forEach(System.out::println);
        assertEquals(0, divergences.size(), () -> String.join("\n", divergences.subList(0, Math.min(5, divergences.size()))));
    }

    /** Runs a batch on the host; returns the regions after each sequence, or null if 32-bit code cannot run. */
    private static byte[] runNative(Path harness, List<SequenceGenerator> batch, int first, long seed)
            throws IOException, InterruptedException {
        Path in = Files.createTempFile("hostcpu-", ".in");
        Path out = Files.createTempFile("hostcpu-", ".out");
        try {
            byte[] all = new byte[batch.size() * SequenceGenerator.SIZE];
            for (int i = 0; i < batch.size(); i++) {
                System.arraycopy(batch.get(i).image(), 0, all, i * SequenceGenerator.SIZE, SequenceGenerator.SIZE);
            }
            Files.write(in, all);
            Process p;
            try {
                p = new ProcessBuilder(harness.toString()).redirectInput(in.toFile()).redirectOutput(out.toFile())
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            } catch (IOException e) {
                return null;
            }
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("native harness hung");
            }
            byte[] result = Files.readAllBytes(out);
            if (p.exitValue() != 0) {
                if (result.length == 0 && first == 0 && p.exitValue() == 2) {
                    return null;
                }
                int bad = result.length / SequenceGenerator.SIZE;
                throw new IllegalStateException("native harness died (status " + p.exitValue() + ") on sequence "
                        + (first + bad) + " of seed " + seed + " -- a generator bug:\n" + listing(batch.get(bad)));
            }
            return result;
        } finally {
            Files.deleteIfExists(in);
            Files.deleteIfExists(out);
        }
    }

    private static byte[] runInterpreter(TestMachine m, SequenceGenerator g) {
        m.memory.write(SequenceGenerator.REGION, g.image(), 0, SequenceGenerator.SIZE);
        int code = SegmentRegister.P | SegmentRegister.S | 0xB | 3 << SegmentRegister.DPL_SHIFT | SegmentRegister.DB
                | SegmentRegister.G;
        int data = SegmentRegister.P | SegmentRegister.S | 0x3 | 3 << SegmentRegister.DPL_SHIFT | SegmentRegister.DB
                | SegmentRegister.G;
        CpuState.Builder b = m.engine.exportState().toBuilder();
        b.segment(CpuState.CS, new SegmentRegister(TestMachine.CODE32_R3, 0, -1, code));
        for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
            b.segment(s, new SegmentRegister(TestMachine.DATA32_R3, 0, -1, data));
        }
        b.rip(g.startAddress()).rflags(0x202);
        m.engine.importState(b.build());
        // Step to the stop address: branches only skip forward, so the static count bounds the steps.
        int count = instructionCount(g);
        Exit e = null;
        long eip = g.startAddress();
        for (int i = 0; i < count && eip != g.stopAddress(); i++) {
            e = m.engine.run(1);
            eip = m.engine.exportState().rip();
            if (!(e instanceof Exit.BudgetSpent)) {
                break;
            }
        }
        if (!(e instanceof Exit.BudgetSpent) || eip != g.stopAddress()) {
            byte[] r = new byte[SequenceGenerator.SIZE];
            r[0] = -1; // marks a failed run; compare() reports it
            System.arraycopy(("stopped at " + Long.toHexString(eip) + " with " + e).getBytes(), 0, r, 1,
                    Math.min(200, ("stopped at " + Long.toHexString(eip) + " with " + e).length()));
            return r;
        }
        byte[] r = new byte[SequenceGenerator.SIZE];
        m.memory.read(SequenceGenerator.REGION, r, 0, SequenceGenerator.SIZE);
        return r;
    }

    /** Instructions from the start to the stop address, in address order. */
    private static int instructionCount(SequenceGenerator g) {
        int n = 0;
        int at = g.startAddress() - SequenceGenerator.REGION;
        Instruction in = new Instruction();
        while (at < g.stopAddress() - SequenceGenerator.REGION) {
            final int base = at;
            Decoder.decode(off -> g.image()[base + off] & 0xFF, true, in);
            at += in.length();
            n++;
        }
        return n;
    }

    private static String compare(SequenceGenerator g, byte[] ours, byte[] hostAll, int hostOffset) {
        if (ours[0] == -1) {
            return "interpreter " + new String(ours, 1, 200).trim();
        }
        StringBuilder sb = new StringBuilder();
        String[] names = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eflags"};
        int out = SequenceGenerator.OUT - SequenceGenerator.REGION;
        for (int r = 0; r < names.length; r++) {
            int a = dword(ours, out + 4 * r);
            int h = dword(hostAll, hostOffset + out + 4 * r);
            if (a != h) {
                sb.append(String.format(" %s=%08x (host %08x)", names[r], a, h));
            }
        }
        int firstDiff = -1;
        int diffs = 0;
        int save = SequenceGenerator.SAVE - SequenceGenerator.REGION;
        for (int i = 0x1000; i < SequenceGenerator.SIZE; i++) {
            if (i >= save && i < save + 4 || i >= out && i < out + 36) {
                continue;
            }
            if (ours[i] != hostAll[hostOffset + i]) {
                diffs++;
                if (firstDiff < 0) {
                    firstDiff = i;
                }
            }
        }
        if (diffs > 0) {
            sb.append(String.format(" %d memory bytes differ, first at %08x: %02x (host %02x)", diffs,
                    SequenceGenerator.REGION + firstDiff, ours[firstDiff] & 0xFF, hostAll[hostOffset + firstDiff] & 0xFF));
        }
        return sb.length() == 0 ? null : sb.toString().trim() + String.format(" [undefined at end: %03x]",
                g.undefinedAtEnd());
    }

    private static int dword(byte[] b, int i) {
        return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 | (b[i + 2] & 0xFF) << 16 | (b[i + 3] & 0xFF) << 24;
    }

    /**
     * Finds the shortest prefix of a diverging sequence that still diverges (a shorter sequence from
     * the same seed is a prefix of the longer one) and lists it: its last instruction is the culprit.
     */
    private static String minimize(Path harness, TestMachine m, long seed, int length) throws Exception {
        for (int k = 1; k <= length; k++) {
            SequenceGenerator g = new SequenceGenerator(seed).generate(k);
            byte[] host = runNative(harness, List.of(g), 0, seed);
            String d = compare(g, runInterpreter(m, g), host, 0);
            if (d != null) {
                return "first diverges after " + k + " instructions: " + d + "\n" + listing(g);
            }
        }
        return "(no prefix diverges alone)";
    }

    /** Disassembly of the sequence from the start to the stop address. */
    static String listing(SequenceGenerator g) {
        StringBuilder sb = new StringBuilder();
        int at = g.startAddress() - SequenceGenerator.REGION;
        Instruction in = new Instruction();
        while (at < g.stopAddress() - SequenceGenerator.REGION) {
            final int base = at;
            Decoder.decode(off -> g.image()[base + off] & 0xFF, true, in);
            StringBuilder hex = new StringBuilder();
            for (int i = 0; i < in.length(); i++) {
                hex.append(String.format("%02x", g.image()[at + i] & 0xFF));
            }
            sb.append(String.format("  %08x  %-24s %s%n", SequenceGenerator.REGION + at, hex, in));
            at += in.length();
        }
        return sb.toString();
    }
}
