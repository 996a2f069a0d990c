package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The MMU benchmark guest (guests/mmu-bench: 32-bit paging, CR3 switches, #PF storms,
 * copy-on-write page-table edits, a large working set, with self-checks of values and
 * accessed/dirty bits) on the real interpreter with each MMU strategy, and swapped between the
 * strategies many times while it runs.
 */
class MmuStrategiesEndToEndTest {

    private VmManagerImpl manager;

    @BeforeEach
    void setUp() throws Exception {
        manager = new VmManagerImpl();
        for (PartLoader.Found f : PartLoader.load(getClass().getClassLoader())) {
            manager.addPart(f.kind(), f.part());
        }
        for (String s : List.of("shadow", "slat")) {
            assertTrue(manager.parts().stream().anyMatch(p -> p.kind() == PartKind.MMU && p.name().equals(s)),
                    "mmu strategy " + s + " found on the class path: " + manager.parts());
        }
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    static Path rom(String name) {
        Path p = Path.of(System.getProperty("user.dir")).resolve("../guests/mmu-bench/" + name).normalize();
        assertTrue(Files.exists(p), "missing " + p);
        return p;
    }

    private VmConfig config(String name, String rom, String mmu) {
        return VmConfig.builder(name).cpu("interpreter").mmu(mmu).devices("uart16550, debug-exit")
                .memory(64L << 20).firmware(rom(rom).toString()).build();
    }

    private static String output(Vm vm) {
        return new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "shadow", "slat"})
    void theSelfCheckingRoundsPassWithEachStrategy(String mmu) throws Exception {
        Vm vm = manager.define(config("mmu-" + (mmu.isEmpty() ? "builtin" : mmu), "mmubench-endless.rom", mmu));
        vm.start();
        awaitRound(vm, 3);
        vm.stop();
        String out = output(vm);
        assertFalse(out.contains("FAIL"), out);
        if (!mmu.isEmpty()) {
            Map<String, Long> stats = mmuStats(vm);
            assertTrue(mmu.equals("shadow") ? stats.get("trace-faults") > 0 && stats.get("roots-reused") > 0
                    : stats.get("2d-walk-steps") > 0, stats::toString);
        }
    }

    @Test
    void swappingTheMmuWhileThePagingGuestRunsChangesNothing() throws Exception {
        Vm vm = manager.define(config("mmu-swap", "mmubench-endless.rom", "shadow"));
        vm.start();
        awaitRound(vm, 1);
        String[] order = {"slat", "shadow", "", "slat", "", "shadow"};
        int swaps = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (swaps < 60 && System.nanoTime() < deadline) {
            vm.swap(PartKind.MMU, order[swaps % order.length]);
            swaps++;
            Thread.sleep(15 + swaps % 7 * 5);
            if (vm.status().state() != VmState.RUNNING) {
                fail("vm " + vm.status().describe() + " after " + swaps + " swaps: " + output(vm));
            }
        }
        long reached = lastRound(output(vm));
        awaitRound(vm, reached + 2);
        vm.stop();
        String out = output(vm);
        assertFalse(out.contains("FAIL"), out);
        assertContinuousRounds(out);
        assertTrue(swaps >= 20, "swaps done: " + swaps);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ctxsw", "pfstorm", "fork", "bigws"})
    void eachBenchmarkWorkloadCompletesUnderBothStrategies(String workload) throws Exception {
        for (String mmu : List.of("shadow", "slat")) {
            // A short variant of the benchmark is not built; the full one runs a few seconds.
            Vm vm = manager.define(config("wl-" + workload + "-" + mmu, "mmubench-" + workload + ".rom", mmu));
            vm.start();
            VmStatus st = vm.awaitState(Duration.ofSeconds(240), VmState.STOPPED, VmState.CRASHED);
            String out = output(vm);
            assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
            assertTrue(out.contains("mmu-bench " + workload + " done"), out);
            manager.destroy(vm.name());
        }
    }

    @Test
    void aShadowMemoryCapFromTheVmConfigurationEvictsAndTheGuestStaysCorrect() throws Exception {
        VmConfig c = VmConfig.builder("mmu-cap").cpu("interpreter").mmu("shadow").option("mmu.shadow.max-pages", "6")
                .devices("uart16550, debug-exit").memory(64L << 20).firmware(rom("mmubench-endless.rom").toString())
                .build();
        Vm vm = manager.define(c);
        vm.start();
        awaitRound(vm, 3);
        Map<String, Long> stats = mmuStats(vm);
        vm.stop();
        String out = output(vm);
        assertFalse(out.contains("FAIL"), out);
        assertContinuousRounds(out);
        assertEquals(6L, stats.get("shadow-pages-cap"), stats::toString);
        assertTrue(stats.get("shadow-pages") <= 6, stats::toString);
        assertTrue(stats.get("evictions") > 0 && stats.get("shadow-pages-built") > 6 * 10, stats::toString);
    }

    @Test
    void aBadShadowOptionIsRefusedWithItsName() throws Exception {
        VmConfig c = VmConfig.builder("mmu-badcap").cpu("interpreter").mmu("shadow")
                .option("mmu.shadow.max-pages", "none").devices("uart16550, debug-exit").memory(16L << 20)
                .firmware(rom("mmubench-endless.rom").toString()).build();
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> manager.define(c).start());
        assertTrue(e.getMessage().contains("invalid mmu.shadow.max-pages 'none'"), e.getMessage());
    }

    @Test
    void dirtyPageLoggingThroughTheNestedTableSeesTheGuestsWrites() throws Exception {
        // A nested-table cap far below the 32 page tables that logging 64 MiB at 4 KiB would take.
        Vm vm = manager.define(VmConfig.builder("mmu-dirty").cpu("interpreter").mmu("slat")
                .option("mmu.slat.max-pages", "12").devices("uart16550, debug-exit").memory(64L << 20)
                .firmware(rom("mmubench-endless.rom").toString()).build());
        vm.start();
        awaitRound(vm, 1);
        org.polyvisor.mmu.DirtyPageLog log = vm.dirtyLog().orElseThrow();
        log.start();
        long round = lastRound(output(vm));
        awaitRound(vm, round + 1);
        java.util.BitSet first = log.collect();
        awaitRound(vm, round + 2);
        java.util.BitSet second = log.collect();
        Map<String, Long> stats = mmuStats(vm);
        log.stop();
        vm.stop();
        assertFalse(output(vm).contains("FAIL"), output(vm));
        // The guest rewrites its page tables and data pages every round: both rounds see writes, all in RAM.
        assertTrue(first.cardinality() > 8 && second.cardinality() > 8, first.cardinality() + " / " + second.cardinality());
        assertTrue(second.length() <= (64 << 20) >>> 12, "pages beyond RAM: " + second.length());
        assertTrue(stats.get("nested-violations-dirty-log") > 0 && stats.get("dirty-log-rounds") >= 2, stats::toString);
        assertTrue(stats.get("nested-table-pages") <= 12 && stats.get("nested-evictions") > 0, stats::toString);
        assertFalse(log.active());

        Vm shadow = manager.define(config("mmu-nodirty", "mmubench-endless.rom", "shadow"));
        shadow.start();
        assertTrue(shadow.dirtyLog().isEmpty(), "shadow keeps no dirty log");
        shadow.stop();
        assertTrue(shadow.dirtyLog().isEmpty(), "no machine, no log");
    }

    private Map<String, Long> mmuStats(Vm vm) {
        return vm.stats().parts().entrySet().stream().filter(e -> e.getKey().startsWith("mmu "))
                .findFirst().orElseThrow(() -> new AssertionError("no mmu stats in " + vm.stats().parts()))
                .getValue();
    }

    private static void awaitRound(Vm vm, long round) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (lastRound(output(vm)) < round) {
            if (System.nanoTime() > deadline || vm.status().state() != VmState.RUNNING) {
                fail("waited for round " + round + "; vm " + vm.status().describe() + " printed: " + output(vm));
            }
            Thread.sleep(10);
        }
    }

    static long lastRound(String out) {
        Matcher m = Pattern.compile("round (\\d+) ok\r\n").matcher(out);
        long last = 0;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last;
    }

    static void assertContinuousRounds(String out) {
        Matcher m = Pattern.compile("round (\\d+) ok").matcher(out);
        long expect = 1;
        while (m.find()) {
            assertEquals(expect, Long.parseLong(m.group(1)), "round sequence in " + out);
            expect++;
        }
        assertTrue(expect > 3, out);
    }
}
