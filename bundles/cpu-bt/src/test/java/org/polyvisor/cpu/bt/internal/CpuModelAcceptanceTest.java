package org.polyvisor.cpu.bt.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.part.Availability;

/** The translator presents the CPU models its interpreter core does, and refuses the same ones. */
class CpuModelAcceptanceTest {

    @Test
    void acceptsTheInterpretersModelsAndRefusesOthersWithTheReason() {
        BinaryTranslationStrategy s = new BinaryTranslationStrategy();
        assertTrue(s.acceptsCpuModel("").available());
        assertTrue(s.acceptsCpuModel("pentium3,brand=Polyvisor Test CPU").available());
        Availability unknown = s.acceptsCpuModel("pentium9");
        assertFalse(unknown.available());
        assertTrue(unknown.reason().contains("pentium9"), unknown.reason());
    }
}
