package org.polyvisor.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.part.Availability;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

class VmManagerTest {

    @TempDir
    Path dir;
    private VmManagerImpl manager;
    private ToyParts.CountingCpu cpuA;
    private ToyParts.CountingCpu cpuB;
    private ToyParts.ConsoleModel console;
    private Path rom;

    @BeforeEach
    void setUp() throws IOException {
        manager = new VmManagerImpl();
        cpuA = new ToyParts.CountingCpu("count-a");
        cpuB = new ToyParts.CountingCpu("count-b");
        console = new ToyParts.ConsoleModel();
        manager.addPart(PartKind.CPU, cpuA);
        manager.addPart(PartKind.CPU, cpuB);
        manager.addPart(PartKind.DEVICE, console);
        manager.addPart(PartKind.DEVICE, new ToyParts.ExitModel());
        rom = dir.resolve("fw.rom");
        byte[] image = new byte[0x1_0000];
        image[0xFFF0] = (byte) 0xF4; // HLT at the reset vector: a firmware image needs code there
        Files.write(rom, image);
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    private VmConfig.Builder config(String name) {
        return VmConfig.builder(name).cpu("count-a").devices("toy-console, toy-exit").memory(2 << 20)
                .firmware(rom.toString());
    }

    private static String output(Vm vm) {
        return new String(vm.console().recentOutput(), StandardCharsets.US_ASCII);
    }

    /** Waits until the console shows at least {@code lines} complete lines. */
    private static void awaitLines(Vm vm, int lines) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (output(vm).split("\n", -1).length <= lines) {
            if (System.nanoTime() > deadline) {
                fail("vm printed only: " + output(vm) + " state " + vm.status().describe());
            }
            Thread.sleep(5);
        }
    }

    /** The counter lines must be 1, 2, 3, ... with no gap and no repeat. */
    private static int assertContinuous(Vm vm) {
        String[] lines = output(vm).split("\n");
        for (int i = 0; i < lines.length; i++) {
            assertEquals(Integer.toString(i + 1), lines[i], "line " + (i + 1) + " of " + output(vm));
        }
        return lines.length;
    }

    @Test
    void refusesUnknownStrategyNamingWhatExists() {
        VmException e = assertThrows(VmException.class, () -> manager.define(config("a").cpu("nope").build()));
        assertEquals("vm 'a': unknown cpu strategy 'nope' (registered: count-a, count-b)", e.getMessage());
        assertTrue(manager.list().isEmpty());
    }

    @Test
    void refusesUnavailableStrategyWithItsReason() {
        cpuA.availability = Availability.no("count-a: host CPU has no abacus");
        VmException e = assertThrows(VmException.class, () -> manager.define(config("a").build()));
        assertEquals("vm 'a': cpu strategy 'count-a' is not available on this host: count-a: host CPU has no abacus",
                e.getMessage());
        assertTrue(manager.list().isEmpty());
    }

    @Test
    void refusesImpossibleCombinationWithStrategyReason() {
        manager.addPart(PartKind.MMU, new org.polyvisor.mmu.MmuStrategy() {
            @Override
            public String name() {
                return "shadow";
            }

            @Override
            public String description() {
                return "test";
            }

            @Override
            public Availability availability() {
                return Availability.yes();
            }

            @Override
            public org.polyvisor.mmu.Mmu create(org.polyvisor.mmu.MmuContext context) {
                throw new UnsupportedOperationException();
            }
        });
        cpuA.incompatibleMmu = "shadow";
        VmException e = assertThrows(VmException.class, () -> manager.define(config("a").mmu("shadow").build()));
        assertEquals("vm 'a': cpu strategy 'count-a' cannot be combined with mmu 'shadow': count-a cannot use shadow",
                e.getMessage());
    }

    @Test
    void cpuModelIsCheckedByTheStrategyAndReachesTheEngine() throws Exception {
        cpuA.modelPrefix = "abacus";
        VmException e = assertThrows(VmException.class, () -> manager.define(config("a").cpuModel("pentium3").build()));
        assertEquals("vm 'a': cpu strategy 'count-a' refuses cpu model 'pentium3': count-a knows only abacus",
                e.getMessage());
        assertTrue(manager.list().isEmpty());
        Vm vm = manager.define(config("a").cpuModel("abacus,brand=Toy CPU").build());
        vm.start();
        assertEquals("abacus,brand=Toy CPU", cpuA.modelSeen);
        assertEquals("abacus,brand=Toy CPU", vm.config().cpuModel());
        VmException swap = assertThrows(VmException.class, () -> vm.swap(PartKind.CPU, "count-b"));
        assertEquals("vm 'a': cpu strategy 'count-b' refuses cpu model 'abacus,brand=Toy CPU': cpu strategy "
                + "'count-b' has no configurable CPU model", swap.getMessage());
        assertEquals(VmState.RUNNING, vm.status().state());
    }

    @Test
    void cpuModelKeysMapToOneDescriptionAndBack() {
        java.util.Map<String, Object> props = new java.util.HashMap<>();
        props.put("name", "m");
        props.put("firmware", "fw.rom");
        props.put("cpu.model", "pentium2");
        props.put("cpu.model-number", "7");
        props.put("cpu.brand", "My CPU");
        props.put("cpu.features", "+pse36, -sep");
        props.put("cpu.vendor", "");
        VmConfig c = ConfigMapping.fromProperties(props, "org.polyvisor.vm~m");
        assertEquals("pentium2,model=7,brand=My CPU,features=+pse36, -sep", c.cpuModel());
        java.util.Dictionary<String, Object> back = ConfigMapping.toProperties(c);
        assertEquals("pentium2", back.get("cpu.model"));
        assertEquals("7", back.get("cpu.model-number"));
        assertEquals("My CPU", back.get("cpu.brand"));
        assertEquals("+pse36,-sep", back.get("cpu.features"));
        assertEquals(null, back.get("cpu.vendor"));
        java.util.Map<String, Object> again = new java.util.HashMap<>();
        for (var k = back.keys(); k.hasMoreElements();) {
            String key = k.nextElement();
            again.put(key, back.get(key));
        }
        assertEquals("pentium2,model=7,brand=My CPU,features=+pse36,-sep",
                ConfigMapping.fromProperties(again, "x").cpuModel());
        assertEquals("", ConfigMapping.fromProperties(java.util.Map.of("name", "d"), "x").cpuModel());
        props.put("cpu.model", "pentium2,brand=x");
        assertTrue(assertThrows(VmException.class, () -> ConfigMapping.fromProperties(props, "x")).getMessage()
                .contains("invalid cpu.model 'pentium2,brand=x'"));
        props.put("cpu.model", "pentium2");
        props.put("cpu.brand", "A, B");
        assertTrue(assertThrows(VmException.class, () -> ConfigMapping.fromProperties(props, "x")).getMessage()
                .contains("invalid cpu.brand 'A, B': no commas allowed"));
    }

    @Test
    void refusesBadValuesAndImages() throws IOException {
        assertEquals("vm 'a': invalid memory size 512K: must be between 1M and 3G",
                assertThrows(VmException.class, () -> manager.define(config("a").memory(512 << 10).build())).getMessage());
        assertEquals("invalid memory size '12Q': expected a number with an optional K, M or G suffix",
                assertThrows(VmException.class, () -> VmConfig.parseMemory("12Q")).getMessage());
        assertTrue(assertThrows(VmException.class, () -> manager.define(config("a").firmware(dir.resolve("missing.rom")
                .toString()).build())).getMessage().startsWith("vm 'a': firmware image '" + dir.resolve("missing.rom")
                + "' not found"));
        Path big = dir.resolve("big.rom");
        Files.write(big, new byte[3 << 20]);
        assertEquals("vm 'a': firmware image '" + big + "' is 3M, larger than guest RAM (2M)",
                assertThrows(VmException.class, () -> manager.define(config("a").firmware(big.toString()).build()))
                        .getMessage());
        Path truncated = dir.resolve("truncated.rom");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(rom), 100_000));
        assertEquals("vm 'a': firmware image '" + truncated + "' is 100000 bytes, not a whole number of 64 KiB blocks"
                + " as a PC firmware is (a truncated image?)",
                assertThrows(VmException.class, () -> manager.define(config("a").firmware(truncated.toString()).build()))
                        .getMessage());
        Path erased = dir.resolve("erased.rom");
        byte[] ff = new byte[0x2_0000];
        java.util.Arrays.fill(ff, (byte) 0xFF);
        ff[0x100] = 0x55; // content somewhere, but nothing at the reset vector
        Files.write(erased, ff);
        assertEquals("vm 'a': firmware image '" + erased + "' has no code at the reset vector (its last 16 bytes are"
                + " all 0xff): not a firmware image, or a corrupt one",
                assertThrows(VmException.class, () -> manager.define(config("a").firmware(erased.toString()).build()))
                        .getMessage());
        Files.write(erased, new byte[0x1_0000]);
        assertTrue(assertThrows(VmException.class, () -> manager.define(config("a").firmware(erased.toString()).build()))
                .getMessage().contains("all 0x00"));
        assertEquals("vm 'a': unknown device model 'floppy' (registered: toy-console, toy-exit)",
                assertThrows(VmException.class, () -> manager.define(config("a").devices("toy-console, floppy").build()))
                        .getMessage());
        assertTrue(assertThrows(VmException.class, () -> manager.define(config("bad name").build())).getMessage()
                .startsWith("invalid VM name 'bad name'"));
        assertTrue(manager.list().isEmpty(), "no half-built VM is left behind");
    }

    @Test
    void refusesDuplicateNames() {
        manager.define(config("a").build());
        assertEquals("vm 'a' already exists",
                assertThrows(VmException.class, () -> manager.define(config("a").build())).getMessage());
    }

    @Test
    void runsPausesResumesAndStops() throws Exception {
        Vm vm = manager.define(config("a").build());
        assertEquals(VmState.DEFINED, vm.status().state());
        vm.start();
        assertEquals(VmState.RUNNING, vm.status().state());
        awaitLines(vm, 20);
        vm.pause();
        assertEquals("paused: paused by user", vm.status().describe());
        long total = vm.console().totalOutput();
        CpuState s = vm.cpuState(0);
        Thread.sleep(50);
        assertEquals(total, vm.console().totalOutput(), "a paused guest prints nothing");
        assertEquals(s, vm.cpuState(0), "a paused guest does not change");
        assertTrue(s.gpr(CpuState.RAX) >= 20 * ToyParts.PRINT_EVERY);
        vm.resume();
        awaitLines(vm, 40);
        assertThrows(VmException.class, vm::resume);
        vm.stop();
        assertEquals(VmState.STOPPED, vm.status().state());
        int lines = assertContinuous(vm);
        assertTrue(vm.stats().exitsByReason().get("port-io") >= 2L * lines, "the last run's statistics stay readable");
    }

    @Test
    void statisticsCountInstructionsAndExits() throws Exception {
        Vm vm = manager.define(config("a").build());
        vm.start();
        awaitLines(vm, 10);
        vm.pause();
        var stats = vm.stats();
        long rax = vm.cpuState(0).gpr(CpuState.RAX);
        assertEquals(rax, stats.instructionsRetired());
        assertTrue(stats.exitsByReason().get("port-io") >= 10 * 2, stats.exitsByReason().toString());
        assertTrue(stats.parts().get("device toy-console").get("written") >= 20);
        assertTrue(stats.timeByState().get("running").toNanos() > 0);
    }

    @Test
    void swapKeepsTheGuestRunningWithoutGapOrRepeat() throws Exception {
        Vm vm = manager.define(config("a").build());
        vm.start();
        for (int i = 0; i < 20; i++) {
            awaitLines(vm, 5 * (i + 1));
            vm.swap(PartKind.CPU, i % 2 == 0 ? "count-b" : "count-a");
        }
        awaitLines(vm, 110);
        vm.pause();
        assertEquals("count-a", vm.config().cpu());
        assertTrue(assertContinuous(vm) >= 110);
        assertEquals(vm.cpuState(0).gpr(CpuState.RAX), vm.stats().instructionsRetired(),
                "retired instructions are counted across engines");
    }

    @Test
    void refusedSwapLeavesTheOldEngineRunning() throws Exception {
        Vm vm = manager.define(config("a").build());
        vm.start();
        cpuB.availability = Availability.no("count-b: switched off");
        assertEquals("vm 'a': cpu strategy 'count-b' is not available on this host: count-b: switched off",
                assertThrows(VmException.class, () -> vm.swap(PartKind.CPU, "count-b")).getMessage());
        assertEquals(VmState.RUNNING, vm.status().state());
        assertEquals("count-a", vm.config().cpu());
        awaitLines(vm, 5);
    }

    @Test
    void providerLeavingPausesWithStateKeptAndReturningResumes() throws Exception {
        Vm vm = manager.define(config("a").build());
        vm.start();
        awaitLines(vm, 10);
        manager.removePart(PartKind.CPU, cpuA);
        VmStatus st = vm.status();
        assertEquals("paused: waiting for cpu strategy 'count-a' (its provider went away)", st.describe());
        long rax = vm.cpuState(0).gpr(CpuState.RAX);
        int lines = output(vm).split("\n").length;
        long written = vm.stats().parts().get("device toy-console").get("written");
        assertThrows(VmException.class, vm::resume);
        // the same device provider leaving and coming back carries its state over too
        manager.removePart(PartKind.DEVICE, console);
        ToyParts.CountingCpu again = new ToyParts.CountingCpu("count-a");
        manager.addPart(PartKind.CPU, again);
        assertEquals(VmState.PAUSED, vm.status().state(), "still waiting for the console device");
        assertTrue(vm.status().detail().contains("device model 'toy-console'"), vm.status().detail());
        assertEquals(rax, vm.cpuState(0).gpr(CpuState.RAX), "the new engine took over the kept state");
        manager.addPart(PartKind.DEVICE, console);
        assertEquals(VmState.RUNNING, vm.status().state());
        awaitLines(vm, lines + 10);
        vm.pause();
        assertTrue(vm.cpuState(0).gpr(CpuState.RAX) > rax);
        assertTrue(vm.stats().parts().get("device toy-console").get("written") > written,
                "the device's counter continued from its saved state");
        assertContinuous(vm);
    }

    @Test
    void userPauseSurvivesProviderReturn() throws Exception {
        Vm vm = manager.define(config("a").build());
        vm.start();
        vm.pause();
        manager.removePart(PartKind.CPU, cpuA);
        manager.addPart(PartKind.CPU, new ToyParts.CountingCpu("count-a"));
        assertEquals("paused: paused by user", vm.status().describe());
        vm.resume();
        awaitLines(vm, 5);
    }

    @Test
    void guestPowerOffStopsWithExitStatus() throws Exception {
        cpuA.limit = 5 * ToyParts.PRINT_EVERY + 1;
        Vm vm = manager.define(config("a").build());
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(20), VmState.STOPPED);
        assertEquals("stopped: powered off by the guest (exit status 33)", st.describe());
        assertEquals("1\n2\n3\n4\n5\n", output(vm));
        vm.start(); // a stopped VM boots afresh
        assertEquals(VmState.STOPPED, vm.awaitState(Duration.ofSeconds(20), VmState.STOPPED).state());
    }

    @Test
    void tripleFaultCrashesThisVmOnly() throws Exception {
        cpuA.limit = 3 * ToyParts.PRINT_EVERY;
        cpuA.tripleFault = 1;
        Vm bad = manager.define(config("bad").build());
        Vm good = manager.define(config("good").cpu("count-b").build());
        good.start();
        bad.start(); // engines take their limit when they are created
        VmStatus st = bad.awaitState(Duration.ofSeconds(20), VmState.CRASHED);
        assertEquals("crashed: triple fault at 0008:00001234 (#GP during #DF)", st.describe());
        awaitLines(good, 20);
        assertEquals(VmState.RUNNING, good.status().state());
    }

    @Test
    void twoVcpusRunAndPauseTogether() throws Exception {
        Vm vm = manager.define(config("smp").vcpus(2).build());
        vm.start();
        awaitLines(vm, 3);
        vm.pause();
        assertEquals(vm.cpuState(1).activity(), org.polyvisor.cpu.ActivityState.WAIT_FOR_SIPI);
        vm.stop();
    }

    @Test
    void destroyRemovesTheVm() {
        manager.define(config("a").build()).start();
        manager.destroy("a");
        assertTrue(manager.get("a").isEmpty());
        assertEquals("no vm named 'a'", assertThrows(VmException.class, () -> manager.destroy("a")).getMessage());
    }

    @Test
    void listsPartsWithAvailability() {
        cpuB.availability = Availability.no("count-b: nope");
        var infos = manager.parts();
        assertEquals(4, infos.size());
        var b = infos.stream().filter(p -> p.name().equals("count-b")).findFirst().orElseThrow();
        assertEquals(PartKind.CPU, b.kind());
        assertEquals("count-b: nope", b.availability().reason());
    }
}
