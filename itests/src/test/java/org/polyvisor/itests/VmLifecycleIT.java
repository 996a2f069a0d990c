package org.polyvisor.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.RandomAccessFile;
import java.time.Duration;
import java.util.Hashtable;
import java.util.List;
import java.util.Optional;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.service.cm.Configuration;
import org.polyvisor.vm.PartInfo;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * Defining VMs (through Config Admin and through vm:create), running the demo guests, the shell
 * commands, and refusing bad input without leaving anything behind.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class VmLifecycleIT extends PolyvisorTestSupport {

    private static final Duration BOOT = Duration.ofSeconds(60);

    @Before
    public void quietDemo() {
        // the predefined demo VM counts forever; these tests do not need it running
        vmManager.get("demo").ifPresent(vm -> {
            if (vm.status().state() == VmState.RUNNING || vm.status().state() == VmState.PAUSED) {
                vm.stop();
            }
        });
    }

    @Test
    public void partsAreRegisteredAndListed() {
        List<PartInfo> parts = vmManager.parts();
        assertTrue(parts.toString(), parts.stream().anyMatch(p -> p.name().equals("interpreter") && p.availability().available()));
        assertTrue(parts.toString(), parts.stream().anyMatch(p -> p.name().equals("pic")));
        assertTrue(parts.toString(), parts.stream().anyMatch(p -> p.name().equals("uart16550")));
        assertTrue(parts.toString(), parts.stream().anyMatch(p -> p.name().equals("debug-exit")));
        String out = executeOk("vm:strategies --no-format");
        for (String s : new String[] {"interpreter", "pic", "uart16550", "debug-exit", "org.polyvisor.cpu-interpreter"}) {
            assertTrue("vm:strategies lacks " + s + ":\n" + out, out.contains(s));
        }
        String cpus = executeOk("vm:strategies --kind cpu --no-format");
        assertFalse(cpus, cpus.contains("uart16550"));
    }

    @Test
    public void vmDefinedThroughConfigAdminRunsTheDemoGuest() throws Exception {
        Configuration config = configAdmin.getFactoryConfiguration(VM_FACTORY_PID, "cfgvm", "?");
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("name", "cfgvm");
        props.put("cpu", "interpreter");
        props.put("irqchip", "pic");
        props.put("devices", "uart16550, debug-exit");
        props.put("memory", "16M");
        props.put("vcpus", 1);
        props.put("firmware", "guests/demo.rom"); // relative to karaf.home
        props.put("clock", "realtime");
        props.put("autostart", true);
        config.update(props);
        try {
            await("vm 'cfgvm' to appear", BOOT, () -> vmManager.get("cfgvm").isPresent());
            Vm vm = vmManager.get("cfgvm").get();
            VmStatus s = vm.awaitState(BOOT, VmState.RUNNING);
            assertEquals(s.describe(), VmState.RUNNING, s.state());
            await("the banner", BOOT, () -> output(vm).contains("Polyvisor demo guest: 32-bit protected mode"));
            awaitCountAbove(vm, 2, BOOT);
            String text = output(vm);
            assertTrue(text, text.contains("Polyvisor demo guest: real mode"));
            assertConsecutive(text);
            assertEquals(1, (int) counts(text).get(0));

            String list = executeOk("vm:list --no-format");
            assertTrue(list, list.lines().anyMatch(l -> l.contains("cfgvm") && l.contains("running")));
            String console = executeOk("vm:console --timeout 0 cfgvm");
            assertTrue(console, console.contains("Polyvisor demo guest"));
            assertTrue(console, console.contains("count: 2"));
        } finally {
            config.delete();
        }
        await("vm 'cfgvm' to go with its configuration", BOOT, () -> vmManager.get("cfgvm").isEmpty());
    }

    @Test
    public void vmCreatedInTheShellRunsTheTestGuestToExitStatusOne() throws Exception {
        String out = executeOk("vm:create --irqchip pic --devices 'uart16550, debug-exit' --memory 16M --firmware "
                + guest("demo-test.rom") + " --start testvm");
        assertTrue(out, out.contains("vm 'testvm': defined"));
        try {
            Vm vm = vmManager.get("testvm").orElseThrow();
            VmStatus s = vm.awaitState(BOOT, VmState.STOPPED, VmState.CRASHED);
            assertEquals(s.describe() + "\n" + output(vm), VmState.STOPPED, s.state());
            assertEquals(s.describe(), 1, s.exitStatus().orElse(-1));
            String text = output(vm);
            assertTrue(text, text.contains("PASS"));
            assertFalse(text, text.contains("FAIL"));
            assertTrue(vmConfigurations("testvm").length == 1);

            String list = executeOk("vm:list --no-format");
            assertTrue(list, list.lines().anyMatch(l -> l.contains("testvm") && l.contains("exit status 1")));
            String info = executeOk("vm:info --no-format testvm");
            assertTrue(info, info.contains("demo-test.rom"));
            String stats = executeOk("vm:stats --no-format testvm");
            assertTrue(stats, stats.contains("Instructions retired"));

            // it can run again
            executeOk("vm:start testvm");
            s = vm.awaitState(BOOT, VmState.STOPPED, VmState.CRASHED);
            assertEquals(1, s.exitStatus().orElse(-1));
        } finally {
            executeOk("vm:destroy testvm");
        }
        assertTrue(vmManager.get("testvm").isEmpty());
        assertEquals(0, vmConfigurations("testvm").length);
    }

    @Test
    public void pauseShowsRegistersAndResumeContinues() throws Exception {
        executeOk("vm:create --irqchip pic --devices uart16550 --memory 16M --firmware " + guest("demo.rom")
                + " --start pausevm");
        try {
            Vm vm = vmManager.get("pausevm").orElseThrow();
            awaitCountAbove(vm, 1, BOOT);
            executeOk("vm:pause pausevm");
            assertEquals(VmState.PAUSED, vm.status().state());
            String info = executeOk("vm:info --no-format pausevm");
            assertTrue(info, info.contains("vCPU 0"));
            assertTrue(info, info.contains("EIP"));
            assertTrue(info, info.contains("protected mode"));
            int before = lastCount(vm);
            executeOk("vm:resume pausevm");
            awaitCountAbove(vm, before, BOOT);
            assertConsecutive(output(vm));
            String stop = executeOk("vm:stop pausevm");
            assertTrue(stop, stop.contains("stopped"));
        } finally {
            executeOk("vm:destroy pausevm");
        }
    }

    @Test
    public void severalNamesFailTogether() {
        String out = execute("vm:start nosuch1 nosuch2");
        assertTrue(out, out.contains("ERROR: cannot start 2 VMs"));
        assertTrue(out, out.contains("no VM named 'nosuch1'"));
        assertTrue(out, out.contains("no VM named 'nosuch2'"));
    }

    @Test
    public void unknownCpuStrategyIsRefused() throws Exception {
        assertRefused("vm:create --cpu warp-drive --memory 16M --firmware " + guest("demo.rom") + " badcpu",
                "badcpu", "warp-drive");
    }

    @Test
    public void unknownDeviceIsRefused() throws Exception {
        assertRefused("vm:create --devices 'uart16550, flux-capacitor' --memory 16M --firmware " + guest("demo.rom")
                + " baddev", "baddev", "flux-capacitor");
    }

    @Test
    public void invalidMemoryIsRefused() throws Exception {
        assertRefused("vm:create --memory 12Q --firmware " + guest("demo.rom") + " badmem", "badmem", "memory");
        assertRefused("vm:create --memory 100K --firmware " + guest("demo.rom") + " badmem2", "badmem2", "memory");
    }

    @Test
    public void missingFirmwareIsRefused() throws Exception {
        assertRefused("vm:create --memory 16M --firmware /nonexistent/bios.rom badfw", "badfw", "/nonexistent/bios.rom");
    }

    @Test
    public void imageLargerThanRamIsRefused() throws Exception {
        File big = new File(System.getProperty("karaf.data"), "tmp/too-big.img");
        big.getParentFile().mkdirs();
        try (RandomAccessFile f = new RandomAccessFile(big, "rw")) {
            f.setLength(3L << 20); // 3 MiB image, 2 MiB of RAM
        }
        try {
            assertRefused("vm:create --memory 2M --kernel " + big.getAbsolutePath() + " bigkernel", "bigkernel",
                    "too-big.img", "larger than");
            assertRefused("vm:create --memory 2M --firmware " + big.getAbsolutePath() + " bigfw", "bigfw",
                    "too-big.img", "larger than", "too large");
        } finally {
            big.delete();
        }
    }

    @Test
    public void badConfigurationFromConfigAdminIsReportedAndRunsNothing() throws Exception {
        Configuration config = configAdmin.getFactoryConfiguration(VM_FACTORY_PID, "badcfg", "?");
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("name", "badcfg");
        props.put("cpu", "warp-drive");
        props.put("memory", "16M");
        props.put("firmware", "guests/demo.rom");
        props.put("autostart", true);
        config.update(props);
        try {
            Thread.sleep(2000);
            Optional<Vm> vm = vmManager.get("badcfg");
            // the core may list it with a state that explains the problem, or not list it; it must not run
            vm.ifPresent(v -> {
                VmStatus s = v.status();
                System.out.println("badcfg: " + s.describe());
                assertFalse(s.describe(), s.state() == VmState.RUNNING);
                assertTrue(s.describe(), s.describe().contains("warp-drive"));
            });
        } finally {
            config.delete();
        }
    }

    /**
     * Runs a vm:create that must fail with a message naming the problem (one of {@code mention}),
     * and leave no VM and no configuration behind.
     */
    private void assertRefused(String command, String name, String... mention) throws Exception {
        String out = execute(command);
        assertTrue("expected a refusal:\n" + out, out.contains("ERROR: "));
        String message = out.substring(out.indexOf("ERROR: "));
        assertTrue("the message should name one of " + List.of(mention) + ": " + message,
                List.of(mention).stream().anyMatch(message::contains));
        assertFalse("no stack trace for a user error: " + out, out.contains("\tat "));
        assertTrue("vm '" + name + "' was left behind", vmManager.get(name).isEmpty());
        assertEquals("a configuration of '" + name + "' was left behind", 0, vmConfigurations(name).length);
        String list = executeOk("vm:list --no-format");
        assertFalse(list, list.contains(name));
    }
}
