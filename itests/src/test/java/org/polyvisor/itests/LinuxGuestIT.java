package org.polyvisor.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.OptionUtils;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * Debian's i386 kernel with the busybox initramfs of {@code guests/fetch}, inside the
 * distribution, defined with {@code vm:create --preset linux-i386} and driven through
 * {@code vm:console}. Three guests boot side by side (one boot's wall time on two cores):
 * <ul>
 * <li>{@code linux}: its CPU engine (interpreter / binary-translation) and its MMU (shadow / slat) are swapped
 * at seeded random moments during the boot; at the shell, {@code uname -a},
 * {@code cat /proc/cpuinfo} and {@code ls /} answer; {@code reboot -f} resets the VM (Linux pulses
 * the i8042 reset line) and the kernel starts again;</li>
 * <li>{@code linux-ref}: the same boot without swaps; its kernel messages must equal those of
 * {@code linux} (timestamps and timing-dependent figures aside); {@code poweroff -f} then halts
 * it (no ACPI/APM here: Linux halts the CPU with interrupts off), and the VM stops saying so;</li>
 * <li>{@code linux-panic}: {@code rdinit=} names no program, so Linux panics for want of a root
 * file system; the VM is crashed with the panic message and Karaf keeps going.</li>
 * </ul>
 * Skipped, saying why, when {@code guests/cache} has not been filled by {@code guests/fetch}.
 * KVM is not swapped in: this machine's KVM cannot run 32-bit paged guests (see TOOLCHAIN notes).
 * Bad images are refused before the guest runs ({@link #badImagesAreRefusedBeforeTheGuestRuns}).
 * The random moments come from {@code -Dpolyvisor.swap.seed} (printed; default: the time).
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class LinuxGuestIT extends PolyvisorTestSupport {

    private static final String PROMPT = "polyvisor:/# ";
    private static final String KERNEL = "vmlinuz-686";
    private static final String INITRD = "initramfs-686.cpio.gz";
    /** Kernel message lines: {@code [    1.234567] text}. */
    private static final Pattern MESSAGE = Pattern.compile("^\\[\\s*\\d+\\.\\d+\\] (.*)$", Pattern.MULTILINE);
    /**
     * Messages whose presence or wording depends on host speed and wall time, not on the machine:
     * calibrations, timing reports, and the warnings (with their register and stack dumps) that a
     * guest slowed down by a busy host gets from its watchdogs (RCU stalls, soft lockups).
     */
    private static final Pattern TIMING = Pattern.compile("tsc: |clocksource|BogoMIPS|Calibrating delay|hrtimer: |"
            + "random: |sched_clock|audit\\(|rtc_cmos .*setting system clock|clk: |workqueue: |Workqueue: |"
            + "timekeeping|Timer-related|took \\d+|interrupt took|Freeing unused|cpuidle|hpet|RT throttling|"
            + "rcu: |rcu_|soft lockup|hung_task|watchdog|Call Trace|TASK>|\\+0x[0-9a-f]+/0x[0-9a-f]+|"
            + "^(E[A-Z]{2}|[DEFGS]S|CR0|DR[0-7]|EIP): |CPU: \\d+ PID|Hardware name|Code: |NMI|Modules linked|"
            + "task:|\\(t=\\d+|Sending |Stack:|^\\? ");

    @Override
    @org.ops4j.pax.exam.Configuration
    public Option[] config() {
        String cache = System.getProperty("polyvisor.guests.cache", "");
        return OptionUtils.combine(super.config(),
                systemProperty("polyvisor.guests.cache").value(cache),
                systemProperty("polyvisor.swap.seed").value(System.getProperty("polyvisor.swap.seed",
                        Long.toString(System.currentTimeMillis()))),
                systemProperty("polyvisor.linux.minutes").value(System.getProperty("polyvisor.linux.minutes", "45")));
    }

    private static Path cache() {
        Path cache = Paths.get(System.getProperty("polyvisor.guests.cache", "guests/cache"));
        for (String f : List.of(KERNEL, INITRD)) {
            assumeTrue("guest image " + cache.resolve(f) + " not fetched: run guests/fetch to test with it",
                    Files.isRegularFile(cache.resolve(f)));
        }
        return cache;
    }

    /** Everything a VM writes on its console from attachment on (the VM keeps only the last 64 KiB). */
    private static final class Recorder {
        private final ByteArrayOutputStream all = new ByteArrayOutputStream();
        private final AutoCloseable attached;

        Recorder(Vm vm) {
            attached = vm.console().attach(bytes -> {
                synchronized (all) {
                    all.writeBytes(bytes);
                }
            });
        }

        String text() {
            synchronized (all) {
                return all.toString(StandardCharsets.ISO_8859_1);
            }
        }

        void close() throws Exception {
            attached.close();
        }
    }

    private static Duration bootLimit() {
        return Duration.ofMinutes(Long.getLong("polyvisor.linux.minutes", 45));
    }

    /** Waits until the recorded output after {@code from} contains a text, or fails saying what was seen. */
    private static String awaitText(Vm vm, Recorder r, int from, String text, Duration limit) throws InterruptedException {
        long until = System.nanoTime() + limit.toNanos();
        while (true) {
            String t = r.text();
            if (t.indexOf(text, from) >= 0) {
                return t;
            }
            VmState s = vm.status().state();
            if (s != VmState.RUNNING || System.nanoTime() > until) {
                fail("vm '" + vm.name() + "' (" + vm.status().describe() + ") did not write '" + text + "' within "
                        + limit.toMinutes() + " min; its output:\n" + tail(t.substring(Math.min(from, t.length()))));
            }
            Thread.sleep(200);
        }
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : "..." + s.substring(s.length() - 6000);
    }

    /**
     * Types a line into a guest through {@code vm:console} and returns what the command showed
     * until the marker (written by the guest's shell, never echoed as typed) appeared.
     */
    private String type(String vm, String line, String marker) {
        String out = executeWithInput("vm:console --tail 0 --timeout 600 --until " + marker + " " + vm, line + "\n");
        assertTrue("vm:console " + vm + ": no '" + marker + "' after typing '" + line + "':\n" + out, out.contains(marker));
        return out;
    }

    /** The kernel messages of some output, timestamps stripped. */
    static List<String> kernelMessages(String output) {
        List<String> out = new ArrayList<>();
        Matcher m = MESSAGE.matcher(output.replace("\r", ""));
        while (m.find()) {
            out.add(m.group(1).strip());
        }
        return out;
    }

    /** The messages as a multiset, figures replaced by '#' and timing-dependent ones left out. */
    static Map<String, Integer> comparable(List<String> messages) {
        Map<String, Integer> out = new HashMap<>();
        for (String m : messages) {
            if (!TIMING.matcher(m).find()) {
                out.merge(m.replaceAll("\\d+", "#"), 1, Integer::sum);
            }
        }
        return out;
    }

    private static String difference(Map<String, Integer> a, Map<String, Integer> b) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Integer> e : a.entrySet()) {
            int other = b.getOrDefault(e.getKey(), 0);
            if (other != e.getValue()) {
                sb.append("  swapped ").append(e.getValue()).append(" x, unswapped ").append(other).append(" x: ")
                        .append(e.getKey()).append('\n');
            }
        }
        for (Map.Entry<String, Integer> e : b.entrySet()) {
            if (!a.containsKey(e.getKey())) {
                sb.append("  swapped 0 x, unswapped ").append(e.getValue()).append(" x: ").append(e.getKey()).append('\n');
            }
        }
        return sb.toString();
    }

    @Test
    public void linuxBootsThroughSwapsAnswersRebootsPowersOffAndPanics() throws Exception {
        Path cache = cache();
        // the demo VM would take CPU time from the three guests
        vmManager.get("demo").ifPresent(d -> {
            if (d.status().state() == VmState.RUNNING) {
                executeOk("vm:stop demo");
            }
        });
        long seed = Long.getLong("polyvisor.swap.seed", 1L);
        System.out.println("LinuxGuestIT: swap moments from -Dpolyvisor.swap.seed=" + seed);
        String strategies = executeOk("vm:strategies --kind cpu --no-format");
        System.out.println("LinuxGuestIT: kvm is not swapped in (this host's KVM cannot run 32-bit paged guests); "
                + "cpu strategies here:\n" + strategies);

        String model = " --cpu-model 'pentium3,brand=Polyvisor Test CPU'";
        String created = executeOk("vm:create --preset linux-i386 --mmu shadow" + model + " linux");
        assertTrue(created, created.contains("vm 'linux': defined"));
        executeOk("vm:create --preset linux-i386 --mmu shadow" + model + " linux-ref");
        executeOk("vm:create --preset linux-i386 --cmdline \"console=ttyS0 earlyprintk=serial nokaslr "
                + "rdinit=/no-such-init\" linux-panic");
        Vm linux = vmManager.get("linux").get();
        Vm ref = vmManager.get("linux-ref").get();
        Vm panic = vmManager.get("linux-panic").get();
        assertEquals(cache.resolve(KERNEL).toAbsolutePath().normalize().toString(), linux.config().kernel());
        String info = executeOk("vm:info linux");
        assertTrue(info, info.contains("console=ttyS0") && info.contains("uart16550") && info.contains("i8042"));

        Recorder onLinux = new Recorder(linux);
        Recorder onRef = new Recorder(ref);
        Recorder onPanic = new Recorder(panic);
        try {
            executeOk("vm:start linux linux-ref linux-panic");

            // ---- swaps at random moments until the prompt
            Random rnd = new Random(seed);
            long until = System.nanoTime() + bootLimit().toNanos();
            String mmu = "shadow";
            String cpu = "interpreter";
            int cpuSwaps = 0;
            int mmuSwaps = 0;
            boolean cpuNext = rnd.nextBoolean();
            List<String> swaps = new ArrayList<>();
            while (!onLinux.text().contains(PROMPT)) {
                int seconds = cpuSwaps + mmuSwaps < 2 ? 2 + rnd.nextInt(20) : 5 + rnd.nextInt(60);
                long at = System.nanoTime() + seconds * 1_000_000_000L;
                while (System.nanoTime() < at && !onLinux.text().contains(PROMPT)) {
                    Thread.sleep(100);
                }
                assertEquals(linux.status().describe() + "\n" + tail(onLinux.text()), VmState.RUNNING, linux.status().state());
                if (System.nanoTime() > until) {
                    fail("no shell prompt within " + bootLimit().toMinutes() + " min:\n" + tail(onLinux.text()));
                }
                if (onLinux.text().contains(PROMPT)) {
                    break;
                }
                int atByte = onLinux.text().length();
                if (cpuNext) {
                    String nextCpu = cpu.equals("interpreter") ? "binary-translation" : "interpreter";
                    String out = executeOk("vm:swap linux --cpu " + nextCpu);
                    assertTrue(out, out.contains("cpu " + cpu + " -> " + nextCpu));
                    cpuSwaps++;
                    swaps.add("cpu " + cpu + " -> " + nextCpu + " after " + atByte + " bytes of output");
                    cpu = nextCpu;
                } else {
                    String next = mmu.equals("shadow") ? "slat" : "shadow";
                    String out = executeOk("vm:swap linux --mmu " + next);
                    assertTrue(out, out.contains("mmu " + mmu + " -> " + next));
                    mmu = next;
                    mmuSwaps++;
                    swaps.add("mmu -> " + next + " after " + atByte + " bytes of output");
                }
                cpuNext = !cpuNext;
            }
            System.out.println("LinuxGuestIT: swaps during the boot: " + swaps);
            assertTrue("the boot was over before a CPU and an MMU swap: " + swaps, cpuSwaps >= 1 && mmuSwaps >= 1);
            String boot = onLinux.text();
            assertTrue(boot, boot.contains("Linux version 6."));
            assertTrue(boot, boot.contains("Run /init as init process"));

            // ---- the shell answers through vm:console
            String uname = type("linux", "uname -a; echo end-$((40+1))", "end-41");
            assertTrue(uname, uname.contains("Linux ") && uname.contains("i686"));
            String cpuinfo = type("linux", "cat /proc/cpuinfo; echo end-$((40+2))", "end-42");
            assertTrue(cpuinfo, cpuinfo.contains("vendor_id") && cpuinfo.contains("flags") && cpuinfo.contains(" fpu "));
            // the configured CPU model: Pentium III's signature (family 6, model 8) and the brand string
            assertTrue(cpuinfo, java.util.regex.Pattern.compile("model name\\s*: Polyvisor Test CPU\r?\n")
                    .matcher(cpuinfo).find());
            assertTrue(cpuinfo, java.util.regex.Pattern.compile("model\\s*: 8\r?\n").matcher(cpuinfo).find());
            String ls = type("linux", "ls /; echo end-$((40+3))", "end-43");
            for (String entry : List.of("bin", "dev", "init", "proc", "sys")) {
                assertTrue(ls, ls.contains(entry));
            }
            System.out.println("LinuxGuestIT: uname and cpuinfo:\n" + uname + cpuinfo);

            // ---- the unswapped boot says the same
            awaitText(ref, onRef, 0, PROMPT, bootLimit());
            List<String> swapped = kernelMessages(boot);
            List<String> unswapped = kernelMessages(onRef.text().substring(0, onRef.text().indexOf(PROMPT)));
            String diff = difference(comparable(swapped), comparable(unswapped));
            assertTrue("kernel messages differ between the swapped and the unswapped boot:\n" + diff, diff.isEmpty());
            assertTrue(swapped.size() > 100);
            System.out.println("LinuxGuestIT: " + swapped.size() + " kernel messages, the same in both boots; devices:");
            Pattern devices = Pattern.compile("8259|PIC|APIC|PIT|pit|RTC|rtc|ttyS|8250|serial|i8042|serio|virtio|e820|clocksource|tsc");
            swapped.stream().filter(m -> devices.matcher(m).find()).forEach(m -> System.out.println("  " + m));

            // ---- reboot: the VM resets and the kernel starts again
            int before = onLinux.text().length();
            executeWithInput("vm:console --tail 0 --timeout 120 --until \"Restarting system\" linux", "reboot -f\n");
            String again = awaitText(linux, onLinux, before, "Linux version 6.", Duration.ofMinutes(15));
            assertTrue(again.substring(before), again.indexOf("reboot: Restarting system", before) >= 0);
            assertEquals(linux.status().describe(), VmState.RUNNING, linux.status().state());
            awaitText(linux, onLinux, before, "Kernel command line:", Duration.ofMinutes(15));
            executeOk("vm:stop linux");

            // ---- poweroff: Linux halts (no ACPI/APM to switch off), the VM stops and says why
            int refBefore = onRef.text().length();
            executeWithInput("vm:console --tail 0 --timeout 120 --until \"System halted\" linux-ref", "poweroff -f\n");
            awaitText(ref, onRef, refBefore, "System halted", Duration.ofMinutes(3));
            VmStatus off = ref.awaitState(Duration.ofMinutes(2), VmState.STOPPED);
            assertEquals(off.describe() + "\n" + execute("vm:stats --no-format linux-ref") + "\n"
                    + tail(onRef.text().substring(refBefore)), VmState.STOPPED, off.state());
            assertTrue(off.describe(), off.detail().contains("halted every vCPU with interrupts disabled"));
            assertTrue(off.describe(), off.detail().contains("reboot: System halted"));

            // ---- panic: the VM shows Linux's message, Karaf carries on
            VmStatus crashed = panic.awaitState(bootLimit(), VmState.CRASHED);
            assertEquals(crashed.describe() + "\n" + tail(onPanic.text()), VmState.CRASHED, crashed.state());
            assertTrue(crashed.describe(), crashed.detail().startsWith("guest kernel panic: Kernel panic - not syncing: "));
            System.out.println("LinuxGuestIT: linux-panic " + crashed.describe());
            String list = executeOk("vm:list --no-format");
            assertTrue(list, list.contains("linux-panic") && list.contains("crashed"));
            String panicInfo = executeOk("vm:info linux-panic");
            assertTrue(panicInfo, panicInfo.contains("Kernel panic - not syncing"));
        } finally {
            onLinux.close();
            onRef.close();
            onPanic.close();
            for (String vm : List.of("linux", "linux-ref", "linux-panic")) {
                execute("vm:destroy " + vm);
            }
        }
    }

    /**
     * Damaged and unsuitable images are refused with a clear message before the guest runs, and
     * nothing is left running.
     */
    @Test
    public void badImagesAreRefusedBeforeTheGuestRuns() throws Exception {
        Path cache = cache();
        Path dir = Files.createTempDirectory("polyvisor-bad-images");
        byte[] kernel = Files.readAllBytes(cache.resolve(KERNEL));
        byte[] initrd = Files.readAllBytes(cache.resolve(INITRD));

        Path truncated = Files.write(dir.resolve("truncated-bzImage"), Arrays.copyOf(kernel, kernel.length / 2));
        assertRefused("trunc", "--kernel " + truncated, "truncated");

        byte[] noHeader = kernel.clone();
        noHeader[0x202] = 'X'; // the "HdrS" signature
        Path corrupt = Files.write(dir.resolve("corrupt-bzImage"), noHeader);
        assertRefused("corrupt", "--kernel " + corrupt, "no format a registered boot loader knows");

        byte[] future = kernel.clone();
        future[0x207] = 3; // boot protocol 3.xx
        Path unknown = Files.write(dir.resolve("protocol-3-bzImage"), future);
        assertRefused("proto", "--kernel " + unknown, "is unknown");

        assertRefused("small", "--memory 16M", "give it more memory");

        Path cutInitrd = Files.write(dir.resolve("truncated-initrd.gz"), Arrays.copyOf(initrd, initrd.length - 1000));
        assertRefused("initrd", "--initrd " + cutInitrd, "damaged gzip stream");

        Path firmware = cache.resolve("bios.bin");
        if (Files.isRegularFile(firmware)) {
            byte[] bios = Files.readAllBytes(firmware);
            Path cutBios = Files.write(dir.resolve("truncated-bios.bin"), Arrays.copyOfRange(bios, 4096, bios.length));
            String out = execute("vm:create --irqchip pic --devices uart16550 --firmware " + cutBios + " --start badfw");
            assertTrue(out, out.contains("ERROR: ") && out.contains("not a whole number of 64 KiB blocks"));
            assertTrue(vmManager.get("badfw").isEmpty());
        }
        assertTrue(executeOk("vm:list --no-format"), true);
    }

    /** The preset with one option changed must not start, for the given reason, and leaves no VM running. */
    private void assertRefused(String name, String option, String reason) {
        String out = execute("vm:create --preset linux-i386 " + option + " --start " + name);
        assertTrue(out, out.contains("ERROR: ") && out.contains(reason));
        vmManager.get(name).ifPresent(vm -> {
            assertTrue(vm.status().describe(), vm.status().state() != VmState.RUNNING);
            executeOk("vm:destroy " + name);
        });
    }
}
