package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmConsole;
import org.polyvisor.vm.VmState;

/**
 * Real guests from Debian's packages (brought by {@code guests/fetch} into {@code guests/cache/}),
 * booted directly through the boot loaders on the interpreter: memtest86+ (32-bit, Linux boot
 * protocol, serial console) and Debian's i386 kernel with the fetched initramfs. Skipped, saying
 * so, when the cache has not been filled (run {@code guests/fetch}); the cache folder can be moved
 * with {@code -Dpolyvisor.guests.cache=DIR}. The Debian boot runs with the engine's own page walk,
 * or under an MMU strategy with {@code -Dpolyvisor.linux.mmu=shadow|slat}.
 */
class RealGuestsEndToEndTest {

    private VmManagerImpl manager;

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

    static Path cached(String file) {
        String dir = System.getProperty("polyvisor.guests.cache");
        Path cache = dir != null ? Paths.get(dir) : Paths.get(System.getProperty("user.dir")).resolve("../guests/cache");
        Path p = cache.resolve(file).normalize().toAbsolutePath();
        Assumptions.assumeTrue(Files.isRegularFile(p), "guest image " + p + " not fetched: run guests/fetch to test with it");
        return p;
    }

    /** Waits until the console satisfies a condition, the VM stops, or the time is up; returns the console. */
    private static String runUntil(Vm vm, Duration limit, Predicate<String> done) throws InterruptedException {
        return runUntil(vm, vm.console(), limit, done);
    }

    /** Waits until a VM's console or log satisfies a condition, the VM stops, or the time is up; returns the text. */
    static String runUntil(Vm vm, VmConsole source, Duration limit, Predicate<String> done) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        String out = "";
        while (System.nanoTime() < deadline) {
            out = new String(source.recentOutput(), StandardCharsets.ISO_8859_1);
            if (done.test(out) || vm.status().state() != VmState.RUNNING) {
                break;
            }
            Thread.sleep(500);
        }
        return out;
    }

    @Test
    void memtest86PlusCompletesItsFirstTestWithoutErrors() throws Exception {
        Path memtest = cached("memtest86+ia32.bin");
        Vm vm = manager.define(VmConfig.builder("memtest").cpu("interpreter").irqchip("pic")
                .devices("uart16550, debug-exit, pit8254, rtc, i8042").memory(32L << 20)
                .kernel(memtest.toString()).cmdline("console=ttyS0,115200").build());
        vm.start();
        // The screen goes to COM1 as VT100 output; test #0 is done when a later test is shown.
        Pattern later = Pattern.compile("#([1-9]|1[0-9])  \\[");
        String out = runUntil(vm, Duration.ofMinutes(5), o -> later.matcher(o).find());
        String shown = out.replaceAll("\u001b\\[[0-9;?]*[A-Za-z]", " ");
        assertTrue(shown.contains("Memtest86+ v6"), shown);
        assertTrue(later.matcher(out).find(), "memtest86+ did not get past test #0:\n" + shown);
        assertTrue(shown.contains("Errors: 0"), shown);
        assertFalse(Pattern.compile("Errors: *[1-9]").matcher(shown).find(), shown);
        assertTrue(vm.status().state() == VmState.RUNNING, vm.status().describe());
    }

    /**
     * Debian's i386 kernel with the fetched initramfs, two vCPUs and the APIC chip finds the local
     * APICs and the IOAPIC in the MP tables the boot loader writes (there is no firmware and no ACPI), brings up the second
     * processor, routes the timer, serial, RTC and PCI interrupts through the IOAPIC, and reaches
     * the shell, which answers {@code uname -a} and shows the brand string the VM's CPU model
     * configures (CPUID 0x8000_0002-4) as /proc/cpuinfo's model name. The console goes to the
     * test's output, for the record. (The single-vCPU boot
     * with the 8259 pair, driven through vm:console with swaps during the boot, is the
     * distribution's LinuxGuestIT.)
     */
    @Test
    void debianKernelFindsTheApicsInTheMpTablesAndBootsBothProcessors(@TempDir Path dir) throws Exception {
        // Opt-in (-Dpolyvisor.linux.smp=true): the boot takes about 4 minutes to the shell with
        // the interpreter on a loaded host (210-239 s), and it is not yet shown reliable. Once, on an
        // idle host, CPU 1 stopped in calibrate_delay after "calibrate_delay_direct() failed to get
        // a good estimate" (jiffies no longer moved on CPU 0). A possible cause has been fixed since
        // (the interpreter ignored LOCK, so a spin lock of the two CPUs could be held by both or
        // stay taken with interrupts off), but that stall was not reproduced on a loaded host with
        // or without the fix, so it is not proven gone. On a loaded host the PIT's ticks are kept
        // and delivered late (so the LAPIC timer calibrates), but missed LAPIC-timer ticks still
        // merge, so guest time runs slower than the host's. The MP tables themselves are checked
        // by bundles/boot's MpTableTest.
        Assumptions.assumeTrue(Boolean.getBoolean("polyvisor.linux.smp"),
                "two-vCPU Debian boot is opt-in (-Dpolyvisor.linux.smp=true): about 4 minutes, and the "
                + "application processor's calibrate_delay stall seen once on an idle host is not proven fixed");
        Path kernel = cached("vmlinuz-686");
        Path initrd = cached("initramfs-686.cpio.gz");
        Path disk = dir.resolve("disk.img");
        Files.write(disk, new byte[1 << 20]);
        Vm vm = manager.define(VmConfig.builder("debian-apic").cpu("interpreter")
                .cpuModel("default,brand=Polyvisor i686 CPU").irqchip("apic").vcpus(2)
                .devices("uart16550, debug-exit, pit8254, rtc, i8042, pci, virtio-blk(image=" + disk + ")")
                .memory(128L << 20).kernel(kernel.toString()).initrd(initrd.toString())
                .cmdline("console=ttyS0 earlyprintk=serial nokaslr").build());
        vm.start();
        Duration limit = Duration.ofMinutes(Long.getLong("polyvisor.linux.minutes", 15));
        String prompt = "polyvisor:/# ";
        String out = runUntil(vm, limit, o -> o.contains(prompt));
        String after = "";
        if (out.contains(prompt)) {
            int before = out.length();
            vm.console().send("cat /proc/interrupts; uname -a; grep -m1 'model name' /proc/cpuinfo; echo done-$((6*7))\n"
                    .getBytes(StandardCharsets.US_ASCII));
            after = runUntil(vm, Duration.ofMinutes(3), o -> o.length() > before && o.substring(before).contains("done-42"))
                    .substring(before);
        }
        System.out.println(out + after);
        assertTrue(out.contains("Intel MultiProcessor Specification v1.4"), out);
        assertTrue(out.contains("MPTABLE: OEM ID: POLYVISR"), out);
        assertTrue(out.contains("IOAPIC[0]: apic_id 0, version 32, address 0xfec00000, GSI 0-23"), out);
        assertTrue(out.contains("Processors: 2"), out);
        assertTrue(out.contains("Brought up 1 node, 2 CPUs"), out);
        assertTrue(out.contains(prompt), "no shell prompt yet (" + vm.status().describe() + "):\n" + out);
        assertTrue(after.contains("IO-APIC") && after.contains("ttyS0") && after.contains("rtc0"), after);
        assertTrue(after.contains("6.1.0") && after.contains("i686"), after);
        assertTrue(Pattern.compile("model name\\s*: Polyvisor i686 CPU\r?\n").matcher(after).find(), after);
        assertEquals(VmState.RUNNING, vm.status().state(), vm.status().describe());
    }
}
