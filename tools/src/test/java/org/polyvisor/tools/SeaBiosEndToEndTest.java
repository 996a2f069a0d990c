package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * SeaBIOS, Debian's unmodified {@code bios.bin}, on the interpreter with the PC parts it expects
 * of QEMU's i440FX machine: its POST runs to "No bootable device", its debug messages (debugcon,
 * port 0x402) land in the VM log and its boot messages on COM1 (SeaBIOS's serial console, which
 * it turns on when it finds no VGA); with a disk on virtio-blk it boots the disk's first sector.
 * The image comes from {@code guests/fetch}'s cache
 * ({@code -Dpolyvisor.guests.cache=DIR} moves it) or from an installed {@code seabios} package;
 * the tests skip, saying so, when neither is there.
 */
class SeaBiosEndToEndTest {

    /** The PC of QEMU's {@code -M pc} that SeaBIOS probes: i440FX host bridge, fw_cfg, debugcon, legacy devices. */
    static final String DEVICES = "uart16550, debug-exit, debugcon, pit8254, rtc, i8042, fwcfg, pci";

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

    /** Debian's bios.bin from the guest cache, else from the seabios package; skips when neither exists. */
    static Path biosBin() {
        String dir = System.getProperty("polyvisor.guests.cache");
        Path cache = dir != null ? Paths.get(dir) : Paths.get(System.getProperty("user.dir")).resolve("../guests/cache");
        for (Path p : new Path[] {cache.resolve("bios.bin"), Paths.get("/usr/share/seabios/bios.bin")}) {
            if (Files.isRegularFile(p)) {
                return p.normalize().toAbsolutePath();
            }
        }
        Assumptions.abort("SeaBIOS bios.bin not found in " + cache.normalize().toAbsolutePath()
                + " nor in /usr/share/seabios: run guests/fetch (or install Debian's seabios package) to test with it");
        return null;
    }

    static VmConfig.Builder seabiosVm(String name, Path bios) {
        return VmConfig.builder(name).cpu("interpreter").irqchip("pic").devices(DEVICES).memory(32L << 20)
                .firmware(bios.toString());
    }

    @Test
    void postRunsToNoBootableDeviceWithItsMessagesInTheVmLog() throws Exception {
        Vm vm = manager.define(seabiosVm("seabios", biosBin()).build());
        vm.start();
        String log = RealGuestsEndToEndTest.runUntil(vm, vm.log(), Duration.ofMinutes(3), l -> l.contains("No bootable device."));
        assertEquals(VmState.RUNNING, vm.status().state(), vm.status().describe() + "\n" + log);
        assertTrue(log.contains("No bootable device."), "POST did not end at the boot failure:\n" + log);
        // version banner and platform detection (subsystem 1af4:1100 on 00:00.0, fw_cfg with DMA)
        assertTrue(Pattern.compile("(?m)^SeaBIOS \\(version 1\\.[0-9]+").matcher(log).find(), log);
        assertTrue(log.contains("Running on QEMU (i440fx)"), log);
        assertTrue(log.contains("Found QEMU fw_cfg") && log.contains("QEMU fw_cfg DMA interface supported"), log);
        // the RAM it found: etc/e820 read through DMA, then its own e820 map with 32 MiB
        assertTrue(log.contains("qemu/e820: addr 0x0000000000100000 len 0x0000000001f00000 [RAM]"), log);
        assertTrue(Pattern.compile("0000000000100000 - 0000000002000000 = 1 RAM").matcher(log).find(), log);
        // shadowing through the PAM registers worked: it wrote its variables, relocated its init code
        assertTrue(log.contains("Relocating init from 0x000e"), log);
        // PCI enumeration found the host bridge
        Matcher found = Pattern.compile("Found ([0-9]+) PCI devices").matcher(log);
        assertTrue(found.find(), log);
        assertTrue(Integer.parseInt(found.group(1)) >= 1, log);
        assertTrue(log.contains("PCI: init bdf=00:00.0 id=8086:1237"), log);
        // devices it probed on the way
        assertTrue(log.contains("Found 1 serial ports"), log);
        assertTrue(log.contains("PS2 keyboard initialized"), log);
        assertTrue(log.contains("Booting from Hard Disk...") && log.contains("Booting from Floppy..."), log);
        assertFalse(log.contains("WARNING"), log);
        // the boot messages on COM1, apart from the log (no debug line mixed in)
        String console = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        assertTrue(console.contains("No bootable device."), console);
        assertFalse(console.contains("Found QEMU fw_cfg"), console);
        assertThrows(VmException.class, () -> vm.log().send(new byte[] {'x'}), "the log takes no input");
    }

    /** With the APIC and two vCPUs SeaBIOS wakes the second one (INIT/SIPI) and counts both, as fw_cfg says. */
    @Test
    void countsTwoCpusThroughTheApic() throws Exception {
        // SeaBIOS's start-up lock is taken with LOCK BTS and released with a plain store; a race
        // there (before LOCK was atomic across vCPU threads) hung or triple-faulted about 1 run in 8.
        Vm vm = manager.define(seabiosVm("seabios-smp", biosBin()).irqchip("apic").vcpus(2).build());
        vm.start();
        String log = RealGuestsEndToEndTest.runUntil(vm, vm.log(), Duration.ofMinutes(3), l -> l.contains("No bootable device."));
        assertEquals(VmState.RUNNING, vm.status().state(), vm.status().describe() + "\n" + log);
        assertTrue(log.contains("handle_smp: apic_id=0x1"), log);
        assertTrue(log.contains("Found 2 cpu(s) max supported 2 cpu(s)"), log);
        assertTrue(log.contains("No bootable device."), log);
    }

    /** What the boot sector prints on COM1. */
    static final String BOOT_MESSAGE = "Booted from virtio-blk by SeaBIOS";

    /**
     * A 1 MiB disk whose first sector (loaded by SeaBIOS at 0000:7C00) prints {@link #BOOT_MESSAGE}
     * on COM1 and ends the VM through the debug-exit port with 0x10 (exit status 33). The disk
     * is larger than one sector on purpose: SeaBIOS reads it by CHS through INT 13h, and a disk
     * under one cylinder of 16 heads x 63 sectors has no cylinder to read (QEMU fails the same).
     */
    static byte[] bootDisk() {
        byte[] msg = (BOOT_MESSAGE + "\r\n\0").getBytes(StandardCharsets.US_ASCII);
        int msgAt = 26; // the code below is 26 bytes
        byte[] code = {
            (byte) 0xFA,                                   // 7C00 cli
            0x31, (byte) 0xC0,                             // 7C01 xor ax, ax
            (byte) 0x8E, (byte) 0xD8,                      // 7C03 mov ds, ax
            (byte) 0xBE, (byte) (0x7C00 + msgAt), 0x7C,    // 7C05 mov si, msg
            (byte) 0xBA, (byte) 0xF8, 0x03,                // 7C08 mov dx, 0x3f8 (COM1 data)
            (byte) 0xAC,                                   // 7C0B next: lodsb
            (byte) 0x84, (byte) 0xC0,                      // 7C0C test al, al
            0x74, 0x03,                                    // 7C0E jz done
            (byte) 0xEE,                                   // 7C10 out dx, al
            (byte) 0xEB, (byte) 0xF8,                      // 7C11 jmp next
            (byte) 0xB0, 0x10,                             // 7C13 done: mov al, 0x10
            (byte) 0xE6, (byte) 0xF4,                      // 7C15 out 0xf4, al (exit status 33)
            (byte) 0xF4,                                   // 7C17 hlt
            (byte) 0xEB, (byte) 0xFD,                      // 7C18 jmp hlt
        };
        assertEquals(msgAt, code.length);
        byte[] disk = new byte[1 << 20];
        System.arraycopy(code, 0, disk, 0, code.length);
        System.arraycopy(msg, 0, disk, msgAt, msg.length);
        disk[510] = 0x55; // boot signature
        disk[511] = (byte) 0xAA;
        return disk;
    }

    @Test
    void bootsASectorFromTheVirtioBlockDevice(@TempDir Path dir) throws Exception {
        Path disk = Files.write(dir.resolve("boot.img"), bootDisk());
        Vm vm = manager.define(seabiosVm("seabios-boot", biosBin())
                .devices(DEVICES + ", virtio-blk(image=" + disk + ")").build());
        vm.start();
        VmStatus st = vm.awaitState(Duration.ofMinutes(3), VmState.STOPPED, VmState.CRASHED);
        String log = new String(vm.log().recentOutput(), StandardCharsets.ISO_8859_1);
        String console = new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
        assertEquals("stopped: powered off by the guest (exit status 33)", st.describe(), log + "\n" + console);
        assertTrue(log.contains("found virtio-blk at 00:0"), log);
        assertTrue(log.contains("using modern (1.0) virtio mode"), log);
        assertTrue(log.contains("PCI: init bdf=00:01.0 id=1af4:1042"), log);
        assertTrue(log.contains("s=2048"), "1 MiB: 2048 sectors\n" + log);
        assertTrue(log.contains("Booting from Hard Disk...") && log.contains("Booting from 0000:7c00"), log);
        assertTrue(console.contains(BOOT_MESSAGE), console);
    }

    /**
     * With no bootable device SeaBIOS waits etc/boot-fail-wait milliseconds and reboots: it copies
     * its pristine image back over the shadow RAM, asks for a reset through port 0xCF9 and
     * triple-faults in case that did nothing. The VM resets (PAM back to the ROM side) and runs
     * POST again instead of crashing.
     */
    @Test
    void rebootsAfterTheBootFailureAndRunsPostAgain(@TempDir Path dir) throws Exception {
        Path wait = Files.write(dir.resolve("boot-fail-wait"), new byte[] {1, 0, 0, 0}); // 1 ms, little-endian
        String devices = DEVICES.replace("fwcfg", "fwcfg(file=etc/boot-fail-wait:" + wait + ")");
        Vm vm = manager.define(seabiosVm("seabios-reboot", biosBin()).devices(devices).build());
        vm.start();
        Pattern banner = Pattern.compile("(?m)^SeaBIOS \\(version ");
        String log = RealGuestsEndToEndTest.runUntil(vm, vm.log(), Duration.ofMinutes(3),
                l -> banner.matcher(l).results().count() >= 5); // two POSTs (each shows it twice) and a third begun
        assertEquals(VmState.RUNNING, vm.status().state(), vm.status().describe() + "\n" + log);
        assertTrue(banner.matcher(log).results().count() >= 5, log);
        assertTrue(log.contains("Attempting a hard reboot"), log);
        assertFalse(log.contains("Unable to hard-reboot"), log);
        assertTrue(vm.stats().parts().get("device pci").get("pam-changes") > 4, vm.stats().parts().toString());
    }

    @Test
    void truncatedOrCorruptFirmwareIsRefusedBeforeStart(@TempDir Path dir) throws Exception {
        byte[] bios = Files.readAllBytes(biosBin());
        Path truncated = Files.write(dir.resolve("truncated.bin"), Arrays.copyOf(bios, bios.length - 5000));
        VmException e = assertThrows(VmException.class, () -> manager.define(seabiosVm("cut", truncated).build()));
        assertTrue(e.getMessage().contains("not a whole number of 64 KiB blocks"), e.getMessage());
        byte[] corrupt = bios.clone();
        Arrays.fill(corrupt, corrupt.length - 16, corrupt.length, (byte) 0);
        Path noVector = Files.write(dir.resolve("corrupt.bin"), corrupt);
        e = assertThrows(VmException.class, () -> manager.define(seabiosVm("bad", noVector).build()));
        assertTrue(e.getMessage().contains("no code at the reset vector"), e.getMessage());
        assertTrue(manager.list().isEmpty(), "nothing left behind");
    }
}
