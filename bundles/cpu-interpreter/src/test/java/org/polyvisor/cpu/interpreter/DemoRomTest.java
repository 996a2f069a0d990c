package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.Exit;

/** Boots the demo guest's test ROM (guests/demo/demo-test.rom) and checks its self-test verdict. */
class DemoRomTest {

    private static Path rom() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("guests/demo/demo-test.rom");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    @Test
    void demoTestRomPasses() throws Exception {
        Path rom = rom();
        assumeTrue(rom != null, "guests/demo/demo-test.rom is not built yet");
        byte[] image = Files.readAllBytes(rom);
        assertEquals(65536, image.length);
        TestMemory memory = new TestMemory(2 << 20);
        memory.addRom(image, 0xFFFF_0000L, 0x000F_0000L);
        TestMachine m = new TestMachine(memory);
        Exit exit = null;
        for (int i = 0; i < 200 && m.exitPortValue == null; i++) {
            exit = m.run(1_000_000);
            if (exit instanceof Exit.Shutdown || exit instanceof Exit.Halted) {
                break;
            }
        }
        String out = m.uart.toString(StandardCharsets.ISO_8859_1);
        assertNotNull(m.exitPortValue, "no write to the exit port; last exit " + exit + ", output:\n" + out
                + "\nstate:\n" + m.state());
        assertTrue(out.contains("PASS"), out);
        assertFalse(out.contains("FAIL"), out);
        assertEquals(0, m.exitPortValue & 0xFF, "exit status value (0 = all passed), output:\n" + out);
    }
}
