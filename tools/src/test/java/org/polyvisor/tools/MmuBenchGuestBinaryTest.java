package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The committed MMU benchmark ROMs (guests/mmu-bench) are what build.sh makes of mmubench.S. */
class MmuBenchGuestBinaryTest {

    private static final List<String> ROMS = List.of("mmubench-endless.rom", "mmubench-ctxsw.rom",
            "mmubench-pfstorm.rom", "mmubench-fork.rom", "mmubench-bigws.rom");

    @Test
    void committedRomsHaveTheResetVectorAndMatchARebuild() throws Exception {
        Path dir = MmuStrategiesEndToEndTest.rom("mmubench-endless.rom").getParent();
        for (String r : ROMS) {
            byte[] rom = Files.readAllBytes(dir.resolve(r));
            assertEquals(65536, rom.length, r);
            assertEquals(0xEA, rom[0xFFF0] & 0xFF, r + ": ljmp at the reset vector");
        }
        assumeTrue(onPath("as") && onPath("ld") && onPath("objcopy"), "GNU binutils not installed");
        Path out = Files.createTempDirectory("mmubench");
        Process p = new ProcessBuilder("sh", dir.resolve("build.sh").toString(), out.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        for (String r : ROMS) {
            assertArrayEquals(Files.readAllBytes(dir.resolve(r)), Files.readAllBytes(out.resolve(r)),
                    r + " is stale: run guests/mmu-bench/build.sh and commit the ROMs");
        }
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }
}
