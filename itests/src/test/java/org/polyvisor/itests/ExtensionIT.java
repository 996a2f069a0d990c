package org.polyvisor.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * Issue 4, item 6: a third-party device bundle (examples/dev-example-counter, built against the API
 * only) is installed into the running distribution, appears in {@code vm:strategies}, is used by a
 * newly created VM, and is updated to version 2 with {@code bundle:update} while that VM runs; the
 * new version takes over the old one's state (its tick count continues, it reports having taken
 * over a version 1 state) and the guest keeps running.
 *
 * <p>Needs the example artifacts in the local repository: build {@code examples/} first
 * ({@code mvn -o -f examples/pom.xml install}; the root reactor lists examples before itests).
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ExtensionIT extends PolyvisorTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(60);
    /** Where the reactor built the examples; handed into the container by {@link #config()}. */
    private static final String EXAMPLES = "polyvisor.examples.dir";

    private static String example(String version, String artifact) {
        File jar = new File(System.getProperty(EXAMPLES), "dev-example-counter/" + version + "/target/" + artifact);
        return jar.toURI().toString();
    }

    private static final String V1 = example("v1", "example-counter-v1-1.0.0.jar");
    private static final String V2 = example("v2", "example-counter-v2-2.0.0.jar");

    /**
     * The distribution, plus where the example bundles are (installed by file URL, as a user
     * would install a bundle they built themselves; a plain {@code mvn verify} installs nothing
     * into a Maven repository).
     *
     * @return the options
     */
    @Override
    @org.ops4j.pax.exam.Configuration
    public org.ops4j.pax.exam.Option[] config() {
        return org.ops4j.pax.exam.OptionUtils.combine(super.config(),
                org.ops4j.pax.exam.CoreOptions.systemProperty(EXAMPLES)
                        .value(new File(System.getProperty(EXAMPLES)).getAbsolutePath()));
    }
    private static final String SYMBOLIC_NAME = "org.example.polyvisor.counter";
    private static final Pattern BUNDLE_ID = Pattern.compile("Bundle ID: (\\d+)");

    private static long counter(Vm vm, String name) {
        Map<String, Long> c = vm.stats().parts().get("device example-counter");
        return c == null || !c.containsKey(name) ? -1 : c.get(name);
    }

    @Test
    public void aThirdPartyDeviceIsInstalledUsedAndUpdatedUnderARunningVm() throws Exception {
        // Karaf registers each command family when its bundle starts; the boot features may
        // still be coming up when the probe runs.
        await("the bundle:* commands", WAIT, () -> !execute("bundle:list -t 0 --no-format").contains("Command not found"));
        String installed = executeOk("bundle:install -s " + V1);
        Matcher m = BUNDLE_ID.matcher(installed);
        assertTrue(installed, m.find());
        long id = Long.parseLong(m.group(1));
        try {
            await("example-counter in vm:strategies", WAIT,
                    () -> execute("vm:strategies --no-format").contains("example-counter"));

            executeOk("vm:create --irqchip pic --devices 'uart16550, example-counter' --memory 16M --firmware "
                    + guest("demo.rom") + " --start extvm");
            try {
                Vm vm = vmManager.get("extvm").orElseThrow();
                VmStatus s = vm.awaitState(WAIT, VmState.RUNNING);
                assertEquals(s.describe(), VmState.RUNNING, s.state());
                String info = executeOk("vm:info --no-format extvm");
                assertTrue(info, info.contains("example-counter") && info.contains("0xe00"));
                await("ticks from version 1", WAIT, () -> counter(vm, "ticks") > 20);
                assertEquals(1L, counter(vm, "bundle-version"));
                awaitCountAbove(vm, 1, WAIT);

                // update to version 2 while the VM runs: the core parks the device with its state
                // and rebuilds it from the new bundle, which takes the version 1 state over
                long before = counter(vm, "ticks");
                executeOk("bundle:update " + id + " " + V2);
                await("version 2 running the device", WAIT, () -> counter(vm, "bundle-version") == 2L);
                Bundle b = bundleContext.getBundle(id);
                assertNotNull(b);
                assertEquals(SYMBOLIC_NAME, b.getSymbolicName());
                assertEquals("2.0.0", b.getVersion().toString());
                assertEquals(1L, counter(vm, "took-over-state-version"));
                assertTrue("ticks continue from version 1's count, not from zero",
                        counter(vm, "ticks") >= before);
                VmStatus after = vm.awaitState(WAIT, VmState.RUNNING);
                assertEquals(after.describe(), VmState.RUNNING, after.state());
                int count = lastCount(vm);
                awaitCountAbove(vm, count + 1, WAIT);
                assertConsecutive(output(vm));
                String strategies = executeOk("vm:strategies --no-format");
                assertTrue(strategies, strategies.contains(SYMBOLIC_NAME + "/2.0.0"));
            } finally {
                executeOk("vm:destroy extvm");
            }
        } finally {
            execute("bundle:uninstall " + id);
        }
    }
}
