package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * Direct kernel boot through the boot loaders found by their DS descriptors and the real core:
 * the Multiboot test kernels (ELF and a.out kludge) with modules on the interpreter, and the
 * refusals of bad kernels before anything runs.
 */
class BootLoaderEndToEndTest {

    private VmManagerImpl manager;
    @TempDir
    Path tmp;

    @BeforeEach
    void setUp() throws Exception {
        manager = new VmManagerImpl();
        for (PartLoader.Found f : PartLoader.load(getClass().getClassLoader())) {
            manager.addPart(f.kind(), f.part());
        }
        for (BootLoader l : PartLoader.bootLoaders(getClass().getClassLoader())) {
            manager.registerBootLoader(l);
        }
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    private Path resource(String name) throws IOException {
        try (InputStream in = getClass().getClassLoader().getResourceAsStream("org/polyvisor/guests/multiboot/" + name)) {
            assertTrue(in != null, "no bundled multiboot kernel " + name);
            Path p = tmp.resolve(name);
            Files.write(p, in.readAllBytes());
            return p;
        }
    }

    private static VmConfig.Builder base(String name) {
        return VmConfig.builder(name).cpu("interpreter").irqchip("pic").devices("uart16550, debug-exit")
                .memory(16L << 20);
    }

    @Test
    void allThreeLoadersAreFound() {
        assertEquals(java.util.Set.of("linux", "linux32", "multiboot"), PartLoaderNames.of(getClass()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"mbtest.elf", "mbtest.aout"})
    void multibootTestKernelPassesWithModules(String kernel) throws Exception {
        Path mod0 = tmp.resolve("mod0");
        Path mod1 = tmp.resolve("mod1");
        Files.writeString(mod0, "module-0: the first module");
        Files.write(mod1, ("module-1" + "x".repeat(5000)).getBytes(StandardCharsets.US_ASCII));
        Vm vm = manager.define(base("mb-" + kernel.replace('.', '-')).kernel(resource(kernel).toString())
                .initrd(mod0 + " tag=0, " + mod1 + " some args tag=1").cmdline("mods=2 verbose").build());
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(120), VmState.STOPPED, VmState.CRASHED);
        String out = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
        assertTrue(out.contains("SUMMARY: 20 tests, 0 unexpected failures"), out);
        assertFalse(out.contains("FAIL:"), out);
        assertTrue(out.contains("module 1: 0x"), out);
    }

    @Test
    void multibootKernelWithoutModulesFailsItsModuleCheckAndSaysSo() throws Exception {
        Vm vm = manager.define(base("mb-nomods").kernel(resource("mbtest.elf").toString()).cmdline("mods=1").build());
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(120), VmState.STOPPED, VmState.CRASHED);
        String out = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        assertEquals("stopped: powered off by the guest (exit status 3)", st.describe(), out);
        assertTrue(out.contains("FAIL: module count matches"), out);
    }

    @Test
    void unknownKernelFormatIsRefusedAtDefinition() throws Exception {
        Path junk = tmp.resolve("junk.bin");
        Files.write(junk, new byte[8192]);
        VmException e = assertThrows(VmException.class, () -> manager.define(base("junk").kernel(junk.toString()).build()));
        assertTrue(e.getMessage().contains("is in no format a registered boot loader knows"), e.getMessage());
        assertTrue(e.getMessage().contains("linux, linux32, multiboot") || e.getMessage().contains("multiboot"),
                e.getMessage());
    }

    @Test
    void firmwareAndKernelTogetherAreRefused() throws Exception {
        Path rom = RunGuest.bundledRom("demo.rom");
        VmException e = assertThrows(VmException.class, () -> manager.define(base("both")
                .firmware(rom.toString()).kernel(resource("mbtest.elf").toString()).build()));
        assertTrue(e.getMessage().contains("either firmware or a kernel"), e.getMessage());
    }

    /** A minimal bzImage: a setup header of the given protocol version and a payload. */
    static byte[] bzImage(int version, int setupSects, int payload, long initSize) {
        byte[] b = new byte[(setupSects + 1) * 512 + payload];
        b[0x1F1] = (byte) setupSects;
        put32(b, 0x1F4, payload / 16);
        b[0x1FE] = 0x55;
        b[0x1FF] = (byte) 0xAA;
        b[0x200] = (byte) 0xEB; // jmp short to the end of the header
        b[0x201] = 0x66;
        put32(b, 0x202, 0x5372_6448L);
        b[0x206] = (byte) version;
        b[0x207] = (byte) (version >> 8);
        b[0x211] = 0x01; // LOADED_HIGH
        put32(b, 0x214, 0x10_0000);
        put32(b, 0x22C, 0x37FF_FFFFL);
        put32(b, 0x238, 2048);
        put32(b, 0x258, 0x100_0000L); // pref_address 16 MiB
        put32(b, 0x260, initSize);
        // the protected-mode kernel: out 0xF4 with 0 (exit status 1), hlt
        int k = (setupSects + 1) * 512;
        byte[] code = {(byte) 0xB0, 0x00, (byte) 0xE6, (byte) 0xF4, (byte) 0xF4};
        System.arraycopy(code, 0, b, k, code.length);
        return b;
    }

    private static void put32(byte[] b, int off, long v) {
        for (int i = 0; i < 4; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }

    private Path write(String name, byte[] data) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, data);
        return p;
    }

    private String startFailure(VmConfig config) {
        Vm vm = manager.define(config);
        VmException e = assertThrows(VmException.class, vm::start);
        return e.getMessage();
    }

    @Test
    void linuxProtocolRefusalsNameTheProblem() throws Exception {
        String old = startFailure(base("old").kernel(write("old", bzImage(0x0201, 4, 4096, 0x10000)).toString()).build());
        assertTrue(old.contains("Linux boot protocol 2.01 is older than 2.02"), old);

        byte[] truncated = Arrays.copyOf(bzImage(0x020F, 4, 65536, 0x10000), 5 * 512 + 1024);
        String t = startFailure(base("trunc").kernel(write("trunc", truncated).toString()).build());
        assertTrue(t.contains("truncated"), t);

        String big = startFailure(base("big").kernel(write("big", bzImage(0x020F, 4, 4096, 64L << 20)).toString())
                .build());
        assertTrue(big.contains("needs RAM up to 0x05000000") && big.contains("give it more memory"), big);

        Path initrd = write("initrd", new byte[16 << 20]);
        String noRoom = startFailure(base("noroom").memory(32L << 20)
                .kernel(write("small", bzImage(0x020F, 4, 4096, 0x10_0000)).toString()).initrd(initrd.toString()).build());
        assertTrue(noRoom.contains("the initrd (16 MiB) does not fit"), noRoom);
    }

    @ParameterizedTest
    @ValueSource(strings = {"linux", "linux32"})
    void minimalBzImageRunsThroughEitherEntry(String loader) throws Exception {
        VmManagerImpl only = new VmManagerImpl();
        try {
            for (PartLoader.Found f : PartLoader.load(getClass().getClassLoader())) {
                only.addPart(f.kind(), f.part());
            }
            for (BootLoader l : PartLoader.bootLoaders(getClass().getClassLoader())) {
                if (l.name().equals(loader)) {
                    only.registerBootLoader(l);
                }
            }
            // The real-mode setup code of this image is a far jump to... nothing: for "linux" the
            // setup entry at 0x200 is the header's jmp, which lands on zeros; so give it setup code
            // that jumps to the protected-mode part in a way the 32-bit path never executes.
            byte[] image = bzImage(0x020F, 4, 4096, 0x10000);
            if (loader.equals("linux")) {
                // at the jump target (0x202 + 0x66 = 0x268): mov al,0; out 0xF4,al; hlt (16-bit)
                byte[] code = {(byte) 0xB0, 0x00, (byte) 0xE6, (byte) 0xF4, (byte) 0xF4};
                System.arraycopy(code, 0, image, 0x268, code.length);
            }
            Vm vm = only.define(base("bz-" + loader).memory(32L << 20)
                    .kernel(write("bz-" + loader, image).toString()).cmdline("console=ttyS0").build());
            vm.start();
            VmStatus st = vm.awaitState(Duration.ofSeconds(60), VmState.STOPPED, VmState.CRASHED);
            assertEquals("stopped: powered off by the guest (exit status 1)", st.describe());
        } finally {
            only.deactivate();
        }
    }
}
