package org.polyvisor.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;

/**
 * A firmware switching the legacy window under its own data through the i440FX's PAM0 register,
 * as SeaBIOS does when it shadows itself, while each CPU engine keeps host buffers of the window's
 * pages in its TLB: every access after a switch must decode as the chipset now says (ROM, then
 * shadow RAM read and written, then shadow RAM write-protected, then ROM again), never through the
 * buffer filled before it. The firmware prints what it read on debugcon (port 0x402).
 */
class LegacyWindowSwitchTest {

    /** The ROM's byte at 0xF8000 (image offset 0x8000 of a 64 KiB image aliased at 0xF0000). */
    private static final int ROM_BYTE = 0x5A;

    /** Real-mode code at the image's start (CS base 0xFFFF0000, IP 0), reached from the reset vector. */
    private static final int[] CODE = {
        0xB8, 0x00, 0xF0,                   // mov ax, 0xF000
        0x8E, 0xD8,                         // mov ds, ax
        0xBA, 0x02, 0x04,                   // mov dx, 0x402 (debugcon)
        0xA0, 0x00, 0x80,                   // mov al, [0x8000]     ROM
        0xEE,                               // out dx, al
        0xBA, 0xF8, 0x0C,                   // mov dx, 0xCF8
        0x66, 0xB8, 0x58, 0x00, 0x00, 0x80, // mov eax, 0x80000058 (00:00.0, dword 0x58)
        0x66, 0xEF,                         // out dx, eax
        0xBA, 0xFD, 0x0C,                   // mov dx, 0xCFD        (PAM0 at 0x59)
        0xB0, 0x30,                         // mov al, 0x30         read and write DRAM
        0xEE,                               // out dx, al
        0xBA, 0x02, 0x04,                   // mov dx, 0x402
        0xA0, 0x00, 0x80,                   // mov al, [0x8000]     shadow RAM: still 0
        0xEE,                               // out dx, al
        0xC6, 0x06, 0x00, 0x80, 0x77,       // mov byte [0x8000], 0x77
        0xA0, 0x00, 0x80,                   // mov al, [0x8000]     0x77
        0xEE,                               // out dx, al
        0xBA, 0xFD, 0x0C,                   // mov dx, 0xCFD
        0xB0, 0x10,                         // mov al, 0x10         read DRAM, writes dropped
        0xEE,                               // out dx, al
        0xBA, 0x02, 0x04,                   // mov dx, 0x402
        0xC6, 0x06, 0x00, 0x80, 0x11,       // mov byte [0x8000], 0x11 (dropped)
        0xA0, 0x00, 0x80,                   // mov al, [0x8000]     0x77
        0xEE,                               // out dx, al
        0xBA, 0xFD, 0x0C,                   // mov dx, 0xCFD
        0xB0, 0x00,                         // mov al, 0            the ROM again
        0xEE,                               // out dx, al
        0xBA, 0x02, 0x04,                   // mov dx, 0x402
        0xA0, 0x00, 0x80,                   // mov al, [0x8000]     ROM
        0xEE,                               // out dx, al
        0xB0, 0x00,                         // mov al, 0
        0xE6, 0xF4,                         // out 0xF4, al         debug-exit: stop
        0xF4,                               // hlt
    };

    static byte[] firmware() {
        byte[] rom = new byte[0x1_0000];
        for (int i = 0; i < CODE.length; i++) {
            rom[i] = (byte) CODE[i];
        }
        rom[0x8000] = (byte) ROM_BYTE;
        // reset vector (0xFFFF0, IP 0xFFF0): jmp near to IP 0
        rom[0xFFF0] = (byte) 0xE9;
        rom[0xFFF1] = 0x0D;
        rom[0xFFF2] = 0x00;
        return rom;
    }

    @ParameterizedTest
    @ValueSource(strings = {"interpreter", "binary-translation"})
    void everyAccessAfterAPamSwitchDecodesAsTheChipsetSays(String cpu, @TempDir Path dir) throws Exception {
        Path rom = Files.write(dir.resolve("pam-switch.rom"), firmware());
        VmConfig config = VmConfig.builder("pam-" + cpu).cpu(cpu).irqchip("pic").devices("debug-exit, debugcon, pci")
                .memory(16L << 20).firmware(rom.toString()).build();
        RunGuest.Result r = RunGuest.run(config, Duration.ofSeconds(60), null);
        assertEquals(VmState.STOPPED, r.status().state(), r.status().describe());
        byte[] seen = r.log().getBytes(StandardCharsets.ISO_8859_1);
        assertArrayEquals(new byte[] {ROM_BYTE, 0x00, 0x77, 0x77, ROM_BYTE}, seen,
                "what the firmware read at 0xF8000: ROM, fresh shadow RAM, its write, the write-protected copy, ROM");
    }
}
