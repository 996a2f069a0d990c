package org.polyvisor.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;

/**
 * The legacy window 0xC0000-0xFFFFF as a chipset's PAM registers switch it: reads from the
 * firmware alias or the shadow RAM, writes into the shadow RAM or dropped, code watchers told
 * when what reads see changes.
 */
class LegacyWindowTest {

    /** A 128 KiB firmware whose bytes are their offset's low byte plus 1, ending at 4 GiB and aliased at 0xE0000. */
    private static GuestMemoryImpl pcWithFirmware() {
        byte[] fw = new byte[0x2_0000];
        for (int i = 0; i < fw.length; i++) {
            fw[i] = (byte) (i + 1);
        }
        return GuestMemoryImpl.pc(32L << 20, fw);
    }

    @Test
    void powerOnLayoutReadsTheRomAliasAndDropsWrites() {
        GuestMemoryImpl m = pcWithFirmware();
        assertEquals(0x01, m.readByte(0xE_0000L));
        assertEquals(m.readDword(0xFFFF_0100L), m.readDword(0xF_0100L), "the alias shows the firmware's last 64 KiB");
        m.writeByte(0xF_0000L, 0x99);
        assertEquals(m.readByte(0xFFFF_0000L), m.readByte(0xF_0000L), "ROM: the write was dropped");
        m.writeByte(0xC_0000L, 0x42); // upper memory RAM until a chipset says otherwise
        assertEquals(0x42, m.readByte(0xC_0000L));
    }

    @Test
    void shadowingAsSeaBiosDoesIt() {
        GuestMemoryImpl m = pcWithFirmware();
        int romByte = m.readByte(0xF_1234L);
        // PAM0 = 0x30: 0xF0000-0xFFFFF read and write DRAM; the shadow starts out empty
        assertTrue(m.setLegacyDecode(0xF_0000L, 0x1_0000L, true, true));
        assertEquals(0, m.readByte(0xF_1234L), "reads now come from the (zeroed) shadow RAM");
        byte[] copy = new byte[0x1_0000];
        m.read(0xFFFF_0000L, copy, 0, copy.length); // the firmware copies itself from its high alias
        m.write(0xF_0000L, copy, 0, copy.length);
        m.writeDword(0xF_2000L, 0xCAFE_F00D); // and keeps variables there
        assertEquals(romByte, m.readByte(0xF_1234L));
        assertEquals(0xCAFE_F00D, m.readDword(0xF_2000L));
        // PAM0 = 0x10: read-only DRAM
        m.setLegacyDecode(0xF_0000L, 0x1_0000L, true, false);
        m.writeDword(0xF_2000L, 0x1234_5678);
        assertEquals(0xCAFE_F00D, m.readDword(0xF_2000L), "write-protected copy");
        assertThrows(IllegalArgumentException.class, () -> m.compareAndSwapInt(0xF_2000L, 0xCAFE_F00D, 0));
        // back to the ROM side (a reset): the firmware's own bytes, its high copy untouched
        m.setLegacyDecode(0xF_0000L, 0x1_0000L, false, false);
        assertEquals(m.readDword(0xFFFF_2000L), m.readDword(0xF_2000L));
        assertTrue(m.readDword(0xFFFF_2000L) != 0xCAFE_F00D);
        // and the shadow RAM kept what was written into it
        m.setLegacyDecode(0xF_0000L, 0x1_0000L, true, true);
        assertEquals(0xCAFE_F00D, m.readDword(0xF_2000L));
        assertTrue(m.compareAndSwapInt(0xF_2000L, 0xCAFE_F00D, 7));
        assertEquals(7, m.readDword(0xF_2000L));
    }

    @Test
    void writeOnlyShadowReadsTheRomAndFillsTheRam() {
        GuestMemoryImpl m = pcWithFirmware();
        m.setLegacyDecode(0xE_0000L, 0x4000, false, true); // PAM5 low nibble = 2
        int rom = m.readByte(0xE_0010L);
        m.writeByte(0xE_0010L, rom ^ 0xFF);
        assertEquals(rom, m.readByte(0xE_0010L), "reads still from the ROM");
        m.setLegacyDecode(0xE_0000L, 0x4000, true, false);
        assertEquals(rom ^ 0xFF, m.readByte(0xE_0010L), "the write went to the shadow RAM");
    }

    @Test
    void upperMemoryWithoutRomBehindReadsOpenBusWhenNotShadowed() {
        GuestMemoryImpl m = pcWithFirmware();
        m.writeByte(0xC_8000L, 0x5A);
        m.setLegacyDecode(0xC_8000L, 0x4000, false, false);
        assertEquals(0xFF, m.readByte(0xC_8000L), "PCI side: nothing there");
        m.writeByte(0xC_8000L, 0x11);
        m.setLegacyDecode(0xC_8000L, 0x4000, true, true);
        assertEquals(0x5A, m.readByte(0xC_8000L), "the RAM kept its contents");
        assertTrue(m.isMemory(0xC_8000L));
    }

    @Test
    void codeWatchersAreToldWhenTheContentUnderThemChanges() {
        GuestMemoryImpl m = pcWithFirmware();
        List<Long> told = new ArrayList<>();
        try (GuestMemory.WriteWatch w = m.watch(0xF_0000L, 0x1000, (gpa, len) -> told.add(gpa))) {
            m.setLegacyDecode(0xF_0000L, 0x1_0000L, false, false); // no change: nothing to say
            assertTrue(told.isEmpty());
            m.setLegacyDecode(0xF_0000L, 0x1_0000L, true, true);
            assertEquals(List.of(0xF_0000L), told);
            m.setLegacyDecode(0xF_0000L, 0x1_0000L, true, false); // only writability: same content
            assertEquals(1, told.size());
        }
    }

    /** What an engine caching host buffers of window pages is told: the region each access decodes to, and when to drop it. */
    @Test
    void decodedRegionsFollowTheSwitchesAndTheChangeCountMovesOnlyWithThem() {
        GuestMemoryImpl m = pcWithFirmware();
        long before = m.legacyDecodeChanges();
        MemoryRegion rom = m.decodedRegion(0xF_1000L, false);
        assertEquals(MemoryRegion.Kind.ROM, rom.kind());
        assertEquals(m.readByte(0xF_1234L), rom.backing().get((int) (0xF_1234L - rom.guestBase())) & 0xFF,
                "the ROM's buffer at the page's offset holds what a read sees");
        assertNull(m.decodedRegion(0xF_1000L, true), "writes to ROM are dropped");

        m.setLegacyDecode(0xF_0000L, 0x1_0000L, false, true); // write-only shadow
        assertEquals(before + 1, m.legacyDecodeChanges());
        assertSame(rom, m.decodedRegion(0xF_1000L, false), "reads still from the ROM");
        MemoryRegion shadow = m.decodedRegion(0xF_1000L, true);
        assertEquals(MemoryRegion.Kind.RAM, shadow.kind());
        m.writeDword(0xF_1234L, 0x600D_CAFE);
        assertEquals(0x600D_CAFE, shadow.backing().getInt((int) (0xF_1234L - shadow.guestBase())),
                "the shadow RAM's buffer at the page's offset got the write");

        m.setLegacyDecode(0xF_0000L, 0x1_0000L, false, true); // the same again: nothing to drop
        assertEquals(before + 1, m.legacyDecodeChanges());
        m.setLegacyDecode(0xF_0000L, 0x1_0000L, true, false);
        assertEquals(before + 2, m.legacyDecodeChanges());
        assertSame(shadow, m.decodedRegion(0xF_1000L, false));
        assertNull(m.decodedRegion(0xF_1000L, true), "write-protected shadow: writes dropped");

        m.setLegacyDecode(0xC_8000L, 0x4000, false, false);
        assertNull(m.decodedRegion(0xC_8000L, false), "no ROM behind: open bus, no buffer");
        assertEquals(MemoryRegion.Kind.RAM, m.decodedRegion(0x10_0000L, false).kind(), "outside the window: the RAM");
        assertNull(m.decodedRegion(0xA_0000L, false), "the VGA hole decodes to no region");
    }

    @Test
    void withoutFirmwareTheWindowIsPlainRamAndNotSwitchable() {
        GuestMemoryImpl m = GuestMemoryImpl.pc(32L << 20, null);
        assertFalse(m.setLegacyDecode(0xF_0000L, 0x1_0000L, false, false));
        m.writeByte(0xF_0000L, 0x77);
        assertEquals(0x77, m.readByte(0xF_0000L));
    }

    @Test
    void rangesOutsideTheWindowOrNotWholePagesAreRefused() {
        GuestMemoryImpl m = pcWithFirmware();
        assertThrows(IllegalArgumentException.class, () -> m.setLegacyDecode(0xB_F000L, 0x2000, true, true));
        assertThrows(IllegalArgumentException.class, () -> m.setLegacyDecode(0xF_F000L, 0x2000, true, true));
        assertThrows(IllegalArgumentException.class, () -> m.setLegacyDecode(0xC_0800L, 0x1000, true, true));
        assertThrows(IllegalArgumentException.class, () -> m.setLegacyDecode(0xC_0000L, 0, true, true));
    }

    @Test
    void regionsListedStayTheRamAndRomOfTheLayout() {
        GuestMemoryImpl m = pcWithFirmware();
        assertTrue(m.regions().stream().noneMatch(r -> r.name().equals("shadow-ram")), m.regions().toString());
        assertEquals(32L << 20, m.ramSize());
    }
}
