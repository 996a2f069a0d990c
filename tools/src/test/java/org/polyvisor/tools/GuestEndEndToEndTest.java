package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.core.internal.VmManagerImpl;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * How a guest's end shows in the VM state, on the real core and interpreter: a CPU halted with
 * interrupts disabled (Linux's poweroff without ACPI) stops the VM and says so with the last
 * console line; a Linux panic line on the console crashes the VM with that message. The guests
 * are tiny real-mode ROMs written here byte by byte.
 */
class GuestEndEndToEndTest {

    private VmManagerImpl manager;
    @TempDir
    Path tmp;

    @BeforeEach
    void setUp() throws Exception {
        manager = PartLoader.manager(getClass().getClassLoader());
    }

    @AfterEach
    void tearDown() {
        manager.deactivate();
    }

    /**
     * A 64 KiB ROM (F000:0000 up to the reset vector) that prints a text on COM1 and then runs
     * {@code tail}.
     *
     * @param text what to print (ASCII)
     * @param tail the code after the text is printed
     */
    private Path rom(String name, String text, byte... tail) throws Exception {
        byte[] rom = new byte[0x1_0000];
        byte[] code = {
            (byte) 0xBE, 0x40, 0x00,       // mov si, 0x0040 (the text)
            (byte) 0xBA, (byte) 0xF8, 0x03, // mov dx, 0x3f8 (COM1 data)
            0x2E, (byte) 0xAC,              // next: cs lodsb
            (byte) 0x84, (byte) 0xC0,       // test al, al
            0x74, 0x03,                     // jz done
            (byte) 0xEE,                    // out dx, al
            (byte) 0xEB, (byte) 0xF7,       // jmp next
        };                                  // done: (offset 0x0f) the tail
        System.arraycopy(code, 0, rom, 0, code.length);
        System.arraycopy(tail, 0, rom, code.length, tail.length);
        byte[] t = text.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(t, 0, rom, 0x40, t.length);
        byte[] reset = {(byte) 0xEA, 0x00, 0x00, 0x00, (byte) 0xF0}; // jmp far f000:0000
        System.arraycopy(reset, 0, rom, 0xFFF0, reset.length);
        Path p = tmp.resolve(name + ".rom");
        Files.write(p, rom);
        return p;
    }

    private Vm start(String name, Path rom) {
        Vm vm = manager.define(VmConfig.builder(name).cpu("interpreter").irqchip("pic")
                .devices("uart16550, pit8254").memory(16L << 20).firmware(rom.toString()).build());
        vm.start();
        return vm;
    }

    private static String output(Vm vm) {
        return new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
    }

    @Test
    void haltWithInterruptsDisabledStopsTheVmWithTheLastConsoleLine() throws Exception {
        // cli; hlt; jmp back to the hlt (as Linux's halt loop), with the PIT ticking meanwhile
        Vm vm = start("halt", rom("halt", "\r\nreboot: System halted\r\n",
                (byte) 0xFA, (byte) 0xF4, (byte) 0xEB, (byte) 0xFD));
        VmStatus st = vm.awaitState(Duration.ofSeconds(60), VmState.STOPPED);
        assertEquals(VmState.STOPPED, st.state(), st.describe() + "\n" + output(vm));
        assertTrue(st.detail().contains("halted every vCPU with interrupts disabled"), st.describe());
        assertTrue(st.detail().contains("last console line: 'reboot: System halted'"), st.describe());
    }

    @Test
    void haltWithInterruptsEnabledKeepsRunning() throws Exception {
        // sti; hlt; jmp back: an idle loop, woken by nothing (no timer programmed) but not dead
        Vm vm = start("idle", rom("idle", "idle\n", (byte) 0xFB, (byte) 0xF4, (byte) 0xEB, (byte) 0xFD));
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!output(vm).contains("idle") && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertTrue(output(vm).contains("idle"), output(vm));
        VmStatus st = vm.awaitState(Duration.ofSeconds(2), VmState.STOPPED);
        assertEquals(VmState.RUNNING, st.state(), st.describe());
    }

    @Test
    void linuxPanicLineCrashesTheVmWithTheMessage() throws Exception {
        // Linux prints its panic line, then spins with interrupts on: sti; jmp $
        Vm vm = start("panic", rom("panic", "[    3.1] Kernel panic - not syncing: VFS: Unable to mount root fs\n",
                (byte) 0xFB, (byte) 0xEB, (byte) 0xFE));
        VmStatus st = vm.awaitState(Duration.ofSeconds(60), VmState.CRASHED);
        assertEquals(VmState.CRASHED, st.state(), st.describe() + "\n" + output(vm));
        assertEquals("guest kernel panic: Kernel panic - not syncing: VFS: Unable to mount root fs", st.detail());
    }
}
