package org.polyvisor.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.OptionUtils;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmState;

/**
 * SeaBIOS (Debian's bios.bin) defined and started from the shell of the distribution: its POST
 * messages in the VM log ({@code vm:console --log}), its boot messages on COM1. The image comes
 * from {@code guests/fetch}'s cache or the seabios package; the test skips, saying so, without it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SeaBiosIT extends PolyvisorTestSupport {

    /** Where the image is, as the driver JVM (in itests/) finds it; empty when absent. */
    static String biosBin() {
        File[] candidates = {
            new File(System.getProperty("polyvisor.guests.cache", "../guests/cache"), "bios.bin"),
            new File("/usr/share/seabios/bios.bin"),
        };
        for (File f : candidates) {
            if (f.isFile()) {
                return f.getAbsolutePath();
            }
        }
        return "";
    }

    @Override
    @org.ops4j.pax.exam.Configuration
    public Option[] config() {
        return OptionUtils.combine(super.config(), systemProperty("polyvisor.seabios").value(biosBin()));
    }

    @Test
    public void postMessagesAreInTheVmLogAndBootMessagesOnCom1() throws Exception {
        String bios = System.getProperty("polyvisor.seabios", "");
        Assume.assumeTrue("SeaBIOS bios.bin not found: run guests/fetch (or install Debian's seabios package)",
                !bios.isEmpty() && new File(bios).isFile());
        executeOk("vm:create --irqchip pic --devices 'uart16550, debug-exit, debugcon, pit8254, rtc, i8042, fwcfg, pci'"
                + " --memory 32M --firmware " + bios + " --start seabios");
        try {
            Vm vm = vmManager.get("seabios").orElseThrow();
            await("'No bootable device.' in the VM log", Duration.ofMinutes(3), () -> text(vm.log().recentOutput())
                    .contains("No bootable device.") || vm.status().state() != VmState.RUNNING);
            assertEquals(vm.status().describe(), VmState.RUNNING, vm.status().state());
            String log = executeOk("vm:console --timeout 0 --log seabios");
            for (String line : new String[] {"SeaBIOS (version 1.", "Running on QEMU (i440fx)", "Found QEMU fw_cfg",
                    "PCI: init bdf=00:00.0 id=8086:1237", "0000000000100000 - 0000000002000000 = 1 RAM",
                    "No bootable device."}) {
                assertTrue("VM log lacks '" + line + "':\n" + log, log.contains(line));
            }
            String console = executeOk("vm:console --timeout 0 seabios");
            assertTrue(console, console.contains("No bootable device."));
            assertFalse("debug messages stay out of COM1:\n" + console, console.contains("Found QEMU fw_cfg"));
            String info = executeOk("vm:info --no-format seabios");
            assertTrue(info, info.contains("io 0x402") && info.contains("Log output"));
        } finally {
            executeOk("vm:destroy seabios");
        }
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }
}
