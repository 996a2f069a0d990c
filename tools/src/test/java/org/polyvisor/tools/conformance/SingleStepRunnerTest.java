package org.polyvisor.tools.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runner's own machinery, on hand-written vectors: it must pass right answers and catch wrong ones. */
class SingleStepRunnerTest {

    /** {@code add al, 1} at 1000:0100 with AL = 0x41; HLT after it. */
    private static String addVector(int idx, int wantAx, int wantFlags) {
        return "{\"idx\":" + idx + ",\"name\":\"add al,1\",\"bytes\":[4,1,244],"
                + "\"initial\":{\"regs\":{\"ax\":65,\"bx\":0,\"cx\":0,\"dx\":0,\"cs\":4096,\"ss\":8192,\"ds\":0,"
                + "\"es\":0,\"sp\":256,\"bp\":0,\"si\":0,\"di\":0,\"ip\":256,\"flags\":61442},"
                + "\"ram\":[[65792,4],[65793,1],[65794,244]]},"
                + "\"final\":{\"regs\":{\"ax\":" + wantAx + ",\"ip\":259,\"flags\":" + wantFlags + "},\"ram\":[]},"
                + "\"hash\":\"x\"}";
    }

    private static void write(Path dir, String name, String json) throws Exception {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(dir.resolve(name + ".json.gz")))) {
            out.write(json.getBytes(StandardCharsets.UTF_8));
        }
    }

    @Test
    void passesTheRightAnswerAndCatchesAWrongOne(@TempDir Path dir) throws Exception {
        // 0x41 + 1 = 0x42: PF set (two bits), flags 0x06; FLAGS bits 12-15 of the input are dropped.
        write(dir, "04", "[" + addVector(0, 0x42, 0x06) + "," + addVector(1, 0x43, 0x06) + ","
                + addVector(2, 0x42, 0x86) + "]");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code = Conformance.run(new String[] {dir.toString()}, new PrintStream(buf, true, StandardCharsets.UTF_8));
        String out = buf.toString(StandardCharsets.UTF_8);
        List<String> lines = out.lines().toList();
        assertEquals("1 passed, 2 failed", lines.get(lines.size() - 1), out);
        assertTrue(out.contains("ax=0042(want 0043)"), out);
        assertTrue(out.contains("flags=0006(want 0086)"), out);
        assertEquals(1, code);
    }

    @Test
    void metadataMasksUndefinedFlags(@TempDir Path dir) throws Exception {
        write(dir, "04", "[" + addVector(0, 0x42, 0x86) + "]");
        Files.writeString(dir.resolve("metadata.json"),
                "{\"cpu\":\"test\",\"opcodes\":{\"04\":{\"status\":\"normal\",\"flags-mask\":65407}}}");
        SingleStepRunner.Report r = SingleStepRunner.runFolder(Conformance.engine("interpreter"), dir, 0, Set.of(), 5, null);
        assertEquals("1 passed, 0 failed", r.summary(), String.valueOf(r.failures()));
        assertEquals(Map.of(KnownDifference.UNDEFINED_FLAGS, 1), r.applied());
    }

    @Test
    void unknownEngineIsAUsageError() {
        assertThrows(IllegalArgumentException.class, () -> Conformance.engine("no-such-engine"));
    }

    @Test
    void jsonReader() {
        Object v = Json.parse("{\"a\":[1,-2,{\"b\":\"x\\\"y\"}],\"c\":true,\"d\":null,\"e\":1.5}");
        assertEquals("{a=[1, -2, {b=x\"y}], c=true, d=null, e=1.5}", v.toString());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1,"));
    }
}
