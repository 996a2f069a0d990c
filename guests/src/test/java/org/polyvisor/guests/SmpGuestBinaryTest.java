package org.polyvisor.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

/** The committed SMP start-up ROM (smp/README.md). */
class SmpGuestBinaryTest extends CommittedRomsTest {

    SmpGuestBinaryTest() {
        super("smp", "the SMP ROM", List.of("smp-initsipi.rom"));
    }

    @Override
    void checkBootCode(String name, byte[] rom) {
        assertBootStubAt0xFF00(name, rom);
        assertEquals(OPCODE_CLI, rom[0] & 0xFF, name + ": the AP's code (SIPI vector 0xF0 -> F000:0000) starts with CLI");
    }
}
