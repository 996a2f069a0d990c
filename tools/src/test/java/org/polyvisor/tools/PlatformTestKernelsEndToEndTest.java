package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.time.ClockMode;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The platform test kernels (guests/platform: device tests written as small protected-mode guests)
 * on the interpreter with the real device parts, assembled by the real core outside OSGi. Each
 * kernel checks itself and reports PASS/FAIL lines on COM1; the same ROMs pass under
 * {@code qemu-system-i386 -accel tcg} with the comparable QEMU devices (guests/platform/README.md),
 * so these results compare our devices with a reference.
 */
class PlatformTestKernelsEndToEndTest {

    /** Sectors of the virtio-blk test image (virtio.S NSECTORS) and the one the guest writes. */
    private static final int SECTORS = 64;
    private static final int WRITTEN_SECTOR = 2;

    private VmManagerImpl manager;

    @BeforeEach
    void setUp() throws Exception {
        manager = new VmManagerImpl();
        for (PartLoader.Found f : PartLoader.load(getClass().getClassLoader())) {
            manager.addPart(f.kind(), f.part());
        }
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    private String run(String suite, String irqchip, String devices, int tests) throws Exception {
        return run(suite, irqchip, devices, tests, ClockMode.REALTIME);
    }

    private String run(String suite, String irqchip, String devices, int tests, ClockMode clock) throws Exception {
        VmConfig config = VmConfig.builder("platform-" + suite).cpu("interpreter").irqchip(irqchip)
                .devices(devices).memory(16L << 20).clock(clock)
                .firmware(RunGuest.bundledRom("platform-" + suite + ".rom").toString()).build();
        Vm vm = manager.define(config);
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofSeconds(120), VmState.STOPPED, VmState.CRASHED);
        String out = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        manager.destroy(vm.name());
        assertEquals("stopped: powered off by the guest (exit status 1)", st.describe(), out);
        assertFalse(out.contains("FAIL"), out);
        List<String> passes = out.lines().filter(l -> l.startsWith("PASS: ")).toList();
        assertEquals(tests, passes.size(), out);
        Matcher m = Pattern.compile(Pattern.quote(suite) + ": (\\d+) passed, (\\d+) failed").matcher(out);
        assertTrue(m.find(), out);
        assertEquals(tests, Integer.parseInt(m.group(1)), out);
        assertEquals(0, Integer.parseInt(m.group(2)), out);
        return out;
    }

    /**
     * PIT channel 0 in mode 2 at 100 Hz through the 8259 pair (or the APIC's legacy path), timed
     * against PIT channel 2: the rate, masking, ISR until EOI and the counter latch. The same ROM
     * passes on QEMU TCG. (The rate test once failed here: realtime timers only fired between
     * instruction budgets, so ticks merged; the VM clock now kicks a vCPU when a timer is due.)
     * Both clocks: deterministic time makes the rate check exact whatever the host's load (on a
     * starved host a realtime guest may retire too few instructions in its 220 ms window to count
     * the ticks), realtime is what users run.
     */
    @ParameterizedTest(name = "irqchip {0}, clock {1}")
    @CsvSource({"pic, DETERMINISTIC", "apic, DETERMINISTIC", "pic, REALTIME"})
    void picAndPitDeliverTimerInterrupts(String irqchip, ClockMode clock) throws Exception {
        run("pic", irqchip, "uart16550, debug-exit, pit8254", 4, clock);
    }

    static byte[] pattern() {
        byte[] image = new byte[SECTORS * 512];
        for (int s = 0; s < SECTORS; s++) {
            for (int i = 0; i < 512; i++) {
                image[s * 512 + i] = (byte) (i + 3 * s + 0x5A);
            }
        }
        return image;
    }

    @Test
    void virtioBlkReadsAndWritesTheImage(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.img");
        byte[] expected = pattern();
        Files.write(image, expected);
        run("virtio", "pic", "uart16550, debug-exit, pci, virtio-blk(image=" + image + ")", 8);
        for (int i = 0; i < 512; i++) {
            expected[WRITTEN_SECTOR * 512 + i] = (byte) (5 * i + 0x11);
        }
        byte[] actual = Files.readAllBytes(image);
        assertEquals(expected.length, actual.length, "the image keeps its size");
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                throw new AssertionError("image byte " + i + " (sector " + i / 512 + "): expected "
                        + (expected[i] & 0xFF) + ", found " + (actual[i] & 0xFF));
            }
        }
    }
}
