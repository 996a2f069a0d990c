package org.polyvisor.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.boot.BootException;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.boot.BootPlan;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.part.Availability;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/** Direct kernel boot in the core: loader choice, the plan's state reaching the boot vCPU, refusals. */
class BootKernelTest {

    @TempDir
    Path dir;
    private VmManagerImpl manager;

    /** Recognises images starting with "TOY"; its plan makes the counting engine power off after RBX steps. */
    static final class ToyLoader implements BootLoader {
        volatile BootRequest last;

        @Override
        public String name() {
            return "toy";
        }

        @Override
        public String description() {
            return "toy loader";
        }

        @Override
        public Availability availability() {
            return Availability.yes();
        }

        @Override
        public int probe(BootImage kernel) {
            byte[] d = kernel.data();
            return d.length >= 3 && d[0] == 'T' && d[1] == 'O' && d[2] == 'Y' ? 10 : NOT_RECOGNISED;
        }

        @Override
        public BootPlan load(BootRequest request) {
            last = request;
            if (request.cmdline().contains("fail")) {
                throw new BootException(request.who() + "asked to fail");
            }
            request.memory().write(0x10_0000, request.kernel().data(), 0, request.kernel().size());
            CpuState s = request.resetState().toBuilder().gpr(CpuState.RAX, 0).gpr(CpuState.RBX, 500).build();
            return new BootPlan(name(), s, List.of("kernel at 1 MiB"), Map.of());
        }
    }

    private final ToyLoader loader = new ToyLoader();

    @BeforeEach
    void setUp() {
        manager = new VmManagerImpl();
        manager.addPart(PartKind.CPU, new ToyParts.CountingCpu("count-a"));
        manager.addPart(PartKind.DEVICE, new ToyParts.ConsoleModel());
        manager.addPart(PartKind.DEVICE, new ToyParts.ExitModel());
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    private VmConfig.Builder config(String name, Path kernel) {
        return VmConfig.builder(name).cpu("count-a").devices("toy-console, toy-exit").memory(2 << 20)
                .kernel(kernel.toString());
    }

    @Test
    void noLoaderMeansAClearRefusal() throws Exception {
        Path k = Files.write(dir.resolve("k"), "TOY kernel".getBytes());
        VmException e = assertThrows(VmException.class, () -> manager.define(config("a", k).build()));
        assertTrue(e.getMessage().contains("no boot loader is registered: install the polyvisor-boot feature"),
                e.getMessage());
    }

    @Test
    void unknownFormatNamesTheLoaders() throws Exception {
        manager.registerBootLoader(loader);
        Path k = Files.write(dir.resolve("k"), "ELF?".getBytes());
        VmException e = assertThrows(VmException.class, () -> manager.define(config("a", k).build()));
        assertEquals("vm 'a': kernel image '" + k + "' is in no format a registered boot loader knows (loaders: toy)",
                e.getMessage());
    }

    @Test
    void theLoadersStateStartsTheBootVcpuAndModulesArePassed() throws Exception {
        manager.registerBootLoader(loader);
        Path k = Files.write(dir.resolve("k"), "TOY kernel".getBytes());
        Path m0 = Files.write(dir.resolve("m0"), new byte[] {1});
        Path m1 = Files.write(dir.resolve("m1"), new byte[] {2, 3});
        Vm vm = manager.define(config("b", k).initrd(m0 + " a=1," + m1).cmdline("console=ttyS0").build());
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(20), VmState.STOPPED, VmState.CRASHED);
        // The counting engine powers off (0x10 -> exit status 0x21) only when RBX came from the plan.
        assertEquals("stopped: powered off by the guest (exit status 33)", st.describe());
        assertEquals(2, loader.last.initrds().size());
        assertEquals("a=1", loader.last.initrds().get(0).args());
        assertEquals(2, loader.last.initrds().get(1).size());
        assertEquals("console=ttyS0", loader.last.cmdline());
    }

    @Test
    void aLoaderRefusalFailsTheStartWithItsMessage() throws Exception {
        manager.registerBootLoader(loader);
        Path k = Files.write(dir.resolve("k"), "TOY kernel".getBytes());
        Vm vm = manager.define(config("c", k).cmdline("fail").build());
        VmException e = assertThrows(VmException.class, vm::start);
        assertEquals("vm 'c': kernel '" + k + "': asked to fail", e.getMessage());
        assertEquals(VmState.DEFINED, vm.status().state(), vm.status().describe());
    }

    @Test
    void firmwareAndKernelTogetherAreRefused() throws Exception {
        manager.registerBootLoader(loader);
        Path k = Files.write(dir.resolve("k"), "TOY kernel".getBytes());
        byte[] image = new byte[0x1_0000];
        image[0xFFF0] = (byte) 0xF4; // HLT at the reset vector
        Path rom = Files.write(dir.resolve("fw.rom"), image);
        VmException e = assertThrows(VmException.class, () -> manager.define(config("d", k).firmware(rom.toString())
                .build()));
        assertTrue(e.getMessage().contains("give either firmware or a kernel, not both"), e.getMessage());
    }
}
