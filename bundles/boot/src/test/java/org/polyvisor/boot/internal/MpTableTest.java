package org.polyvisor.boot.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootPlan;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.testing.FakeGuestMemory;

/** The MP tables (Intel MultiProcessor Specification 1.4, chapter 4) read back as a kernel reads them. */
class MpTableTest {

    private static final long MIB = 1 << 20;

    /** Sums bytes modulo 256. */
    private static int sum(FakeGuestMemory m, long from, int length) {
        int s = 0;
        for (int i = 0; i < length; i++) {
            s += m.readByte(from + i);
        }
        return s & 0xFF;
    }

    private static String text(FakeGuestMemory m, long at, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) m.readByte(at + i);
        }
        return new String(b, StandardCharsets.US_ASCII);
    }

    /** An I/O interrupt entry as {bus, bus IRQ, IOAPIC pin, flags}. */
    private record IoInt(int bus, int irq, int pin, int flags) {
    }

    @Test
    void tablesDescribeTheProcessorsBusesIoApicAndIsaRouting() {
        FakeGuestMemory m = LoadersTest.memory(32 * MIB);
        String placed = MpTable.install(m, 3, 0x633);
        assertTrue(placed.startsWith("MP tables 0x000f0000-"), placed);
        // the floating pointer, where Linux's smp_scan_config finds it (16-byte aligned, 0xF0000-0xFFFFF)
        assertEquals("_MP_", text(m, 0xF_0000, 4));
        assertEquals(0, sum(m, 0xF_0000, 16), "floating pointer checksum");
        assertEquals(1, m.readByte(0xF_0008), "length in paragraphs");
        assertEquals(4, m.readByte(0xF_0009), "revision 1.4");
        assertEquals(0, m.readByte(0xF_000B), "feature byte 1: a configuration table follows, no default config");
        long table = m.readDword(0xF_0004);
        assertEquals("PCMP", text(m, table, 4));
        int length = m.readWord(table + 4);
        assertEquals(0, sum(m, table, length), "configuration table checksum");
        assertEquals(0xFEE0_0000L, m.readDword(table + 36) & 0xFFFF_FFFFL, "local APIC address");
        int count = m.readWord(table + 34);
        long at = table + 44;
        int cpus = 0;
        int boot = -1;
        List<String> buses = new ArrayList<>();
        List<IoInt> ints = new ArrayList<>();
        long ioapic = -1;
        int lint = 0;
        for (int i = 0; i < count; i++) {
            int type = m.readByte(at);
            switch (type) {
                case 0 -> {
                    assertEquals(cpus, m.readByte(at + 1), "APIC IDs are the vCPU indices");
                    assertEquals(1, m.readByte(at + 3) & 1, "enabled");
                    if ((m.readByte(at + 3) & 2) != 0) {
                        boot = cpus;
                    }
                    assertEquals(0x633, m.readDword(at + 4));
                    cpus++;
                    at += 20;
                }
                case 1 -> {
                    buses.add(m.readByte(at + 1) + ":" + text(m, at + 2, 6).trim());
                    at += 8;
                }
                case 2 -> {
                    assertEquals(0, m.readByte(at + 1), "IOAPIC ID");
                    assertEquals(1, m.readByte(at + 3) & 1, "IOAPIC enabled");
                    ioapic = m.readDword(at + 4) & 0xFFFF_FFFFL;
                    at += 8;
                }
                case 3 -> {
                    ints.add(new IoInt(m.readByte(at + 4), m.readByte(at + 5), m.readByte(at + 7), m.readWord(at + 2)));
                    assertEquals(0, m.readByte(at + 6), "to IOAPIC 0");
                    at += 8;
                }
                case 4 -> {
                    lint |= 1 << (m.readByte(at + 1) * 4 + m.readByte(at + 7)); // ExtINT on LINT0, NMI on LINT1
                    at += 8;
                }
                default -> throw new AssertionError("unknown entry type " + type + " at " + Long.toHexString(at));
            }
        }
        assertEquals(table + length, at, "entries fill the base table exactly");
        assertEquals(3, cpus);
        assertEquals(0, boot, "vCPU 0 is the boot processor");
        assertEquals(List.of("0:PCI", "1:ISA"), buses);
        assertEquals(0xFEC0_0000L, ioapic);
        assertEquals(1 << 12 | 1 << 5, lint, "LINT0 ExtINT, LINT1 NMI");
        assertTrue(ints.contains(new IoInt(1, 0, 2, 0)), "ISA IRQ 0 -> pin 2 (the override)");
        for (int irq : new int[] {1, 3, 4, 8, 12, 14, 15}) {
            assertTrue(ints.contains(new IoInt(1, irq, irq, 0)), "ISA IRQ " + irq + " on its own pin");
        }
        assertTrue(ints.stream().noneMatch(e -> e.bus() == 1 && e.irq() == 2), "no entry for the cascade");
        // PCI slot 3 pin A: PIRQ[(0 + 3 - 1) & 3] = PIRQC = 11, level, active low
        assertTrue(ints.contains(new IoInt(0, 3 << 2, 11, 0xF)), "PCI 00:03 INTA -> pin 11");
        assertTrue(ints.contains(new IoInt(0, 1 << 2 | 1, 10, 0xF)), "PCI 00:01 INTB -> pin 10");
    }

    @Test
    void loadersWriteTheTablesOnlyForAVmWithApics() {
        for (boolean apic : new boolean[] {true, false}) {
            FakeGuestMemory m = LoadersTest.memory(32 * MIB);
            BootPlan plan = new MultibootLoader().load(new BootRequest("t", new BootImage("kern",
                    LoadersTest.aoutKernel(0x1_0003), ""), List.of(), "", m, CpuState.powerOn(0x633), 2, apic));
            assertEquals(apic, "_MP_".equals(text(m, 0xF_0000, 4)), "apic " + apic);
            assertEquals(apic, plan.placements().stream().anyMatch(p -> p.startsWith("MP tables")),
                    plan.placements().toString());
        }
    }

    @Test
    void noTablesWhereTheBiosAreaIsNotRam() {
        FakeGuestMemory m = FakeGuestMemory.builder().ram(0, 0xA_0000, "ram-low")
                .ram(0x10_0000, 32 * MIB - 0x10_0000, "ram").ramSize(32 * MIB).build(); // nothing at 0xC0000-0xFFFFF
        assertEquals(null, MpTable.install(m, 1, 0));
    }
}
