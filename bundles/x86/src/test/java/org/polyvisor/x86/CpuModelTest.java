package org.polyvisor.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CpuModelTest {

    @Test
    void defaultIsTheP6ModelTheInterpreterImplements() {
        CpuModel m = CpuModel.DEFAULT;
        assertEquals(0x633, m.signature());
        int[] l0 = m.cpuid(0, 0);
        assertEquals(1, l0[0]);
        assertEquals(0x756E_6547, l0[1]); // "Genu"
        assertEquals(0x6C65_746E, l0[2]); // "ntel" in ECX
        assertEquals(0x4965_6E69, l0[3]); // "ineI" in EDX
        int[] l1 = m.cpuid(1, 2);
        assertEquals(0x633, l1[0]);
        assertEquals(2 << 24, l1[1]);
        assertEquals(0x0100_A979, l1[3]); // FPU PSE TSC MSR PAE CX8 SEP PGE CMOV FXSR; no VME, no APIC
        assertFalse(m.has(CpuModel.EDX_VME));
        assertArrayEquals(new int[4], m.cpuid(0x8000_0000, 0)); // no extended leaves
        assertEquals(List.of(), m.unsupported(CpuModel.DEFAULT));
    }

    @Test
    void parsesTheConfigurationString() {
        CpuModel m = CpuModel.parse("vendor=GenuineIntel,family=6,model=15,stepping=11,features=+mtrr,-sep");
        assertEquals(0x06FB, m.signature());
        assertTrue(m.has(CpuModel.EDX_MTRR));
        assertFalse(m.has(CpuModel.EDX_SEP));
        assertFalse(m.initialMsrs().containsKey(CpuModel.MSR_SYSENTER_CS));
        assertEquals(List.of("mtrr"), m.unsupported(CpuModel.DEFAULT));
        assertEquals(m, CpuModel.parse(m.toString()));
        assertSame(CpuModel.DEFAULT, CpuModel.parse(" "));
    }

    @Test
    void extendedFamilyAndModelAndBrand() {
        CpuModel m = CpuModel.parse("vendor=AuthenticAMD,family=16,model=0x42,stepping=2,brand=Test CPU 1");
        assertEquals(0x0010_0F22 | 0x4 << 16, m.signature()); // family F + ext 1, model 2 + ext 4
        assertEquals(0x8000_0004, m.cpuid(0x8000_0000, 0)[0]);
        int[] b = m.cpuid(0x8000_0002, 0);
        assertEquals(0x7473_6554, b[0]); // "Test"
        assertEquals(m, CpuModel.parse(m.toString()));
    }

    @Test
    void apicBitFollowsTheInterruptController() {
        CpuModel m = CpuModel.DEFAULT.withApic(true);
        assertTrue(m.has(CpuModel.EDX_APIC));
        assertEquals(List.of(), m.unsupported(CpuModel.DEFAULT));
        assertSame(CpuModel.DEFAULT, CpuModel.DEFAULT.withApic(false));
        assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("features=+apic"));
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("vendor=Intel"));
        assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("features=+warp"));
        assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("speed=9"));
        assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("family=x"));
        assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("stepping=16"));
    }

    @Test
    void builtInModelsCarryTheirSignatureAndOnlyImplementedFeatures() {
        assertEquals(List.of("default", "pentium-pro", "pentium2", "pentium3"), CpuModel.names());
        assertSame(CpuModel.DEFAULT, CpuModel.named("default"));
        assertSame(CpuModel.DEFAULT, CpuModel.parse("default"));
        CpuModel ppro = CpuModel.parse("Pentium-Pro");
        assertEquals(0x619, ppro.signature());
        assertFalse(ppro.has(CpuModel.EDX_SEP), "the Pentium Pro's SEP bit does not work, so it is not reported");
        assertFalse(ppro.has(CpuModel.EDX_FXSR));
        assertEquals(0x686, CpuModel.named("pentium3").signature());
        assertEquals(0x652, CpuModel.named("pentium2").signature());
        for (String n : CpuModel.names()) {
            CpuModel m = CpuModel.named(n);
            assertEquals(List.of(), m.unsupported(CpuModel.DEFAULT), n + " reports only what the default has");
            assertFalse(m.has(CpuModel.EDX_VME) || m.has(CpuModel.EDX_MMX) || m.has(CpuModel.EDX_SSE), n);
            assertEquals(m, CpuModel.parse(m.toString()), n);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("pentium9"));
        assertTrue(e.getMessage().contains("unknown model 'pentium9'") && e.getMessage().contains("pentium-pro"),
                e.getMessage());
    }

    @Test
    void overridesApplyToTheNamedModel() {
        CpuModel m = CpuModel.parse("pentium2, stepping=3, brand=Polyvisor Test CPU, features=-sep,+pse36");
        assertEquals(0x653, m.signature());
        assertEquals("Polyvisor Test CPU", m.brand());
        assertFalse(m.has(CpuModel.EDX_SEP));
        assertTrue(m.has(CpuModel.EDX_FXSR), "kept from pentium2");
        assertEquals(List.of("pse36"), m.unsupported(CpuModel.DEFAULT));
        assertEquals(0x8000_0004, m.cpuid(0x8000_0000, 0)[0]);
        int[] b = m.cpuid(0x8000_0002, 0);
        assertEquals(0x796C_6F50, b[0]); // "Poly"
        assertThrows(IllegalArgumentException.class, () -> CpuModel.parse("family=6,pentium2"));
    }

    @Test
    void identificationMsrsExistFromTheP6FamilyOn() {
        CpuModel p6 = CpuModel.DEFAULT;
        assertEquals(List.of(CpuModel.MSR_PLATFORM_ID, CpuModel.MSR_BIOS_SIGN_ID),
                List.copyOf(p6.identificationMsrs().keySet()));
        assertTrue(p6.ignoresWrite(CpuModel.MSR_BIOS_SIGN_ID));
        assertTrue(p6.ignoresWrite(CpuModel.MSR_BIOS_UPDT_TRIG));
        assertFalse(p6.ignoresWrite(CpuModel.MSR_PLATFORM_ID), "read-only");
        CpuModel p5 = CpuModel.parse("family=5,model=2,stepping=5,features=-sep,-fxsr,-pge,-cmov");
        assertEquals(0x525, p5.signature());
        assertTrue(p5.identificationMsrs().isEmpty());
        assertFalse(p5.ignoresWrite(CpuModel.MSR_BIOS_SIGN_ID));
        assertTrue(p5.initialMsrs().isEmpty());
    }
}
