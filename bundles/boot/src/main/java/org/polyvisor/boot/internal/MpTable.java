package org.polyvisor.boot.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;

/**
 * The Intel MultiProcessor Specification 1.4 tables a kernel booted without firmware needs to find
 * the APICs: an MP floating pointer structure in the BIOS area (where Linux's
 * {@code smp_scan_config} looks: 0xF0000-0xFFFFF) and the configuration table after it, with one
 * processor entry per vCPU (APIC ID = vCPU index, the boot processor first), a PCI bus (ID 0) and an
 * ISA bus (ID 1), the IOAPIC (ID 0 at 0xFEC00000, 24 pins), I/O interrupt entries for the ISA IRQs
 * (IRQ 0 on pin 2, as the irq-apic wiring and QEMU's tables have it; the others on their own pin),
 * PCI INTx entries for every slot by the PIIX3 swizzle of the host bridge's default PIRQ routing
 * (10, 10, 11, 11, level, active low), and the local interrupts (LINT0 ExtINT, LINT1 NMI). The
 * same layout SeaBIOS's mptable.c produces for QEMU, so a kernel sees what it would see there.
 */
final class MpTable {

    /** Where the floating pointer goes (paragraph aligned, in the BIOS area). */
    static final long FLOATING_POINTER = 0xF_0000L;
    /** The configuration table, right after the 16-byte floating pointer. */
    static final long CONFIG_TABLE = FLOATING_POINTER + 16;
    static final long LOCAL_APIC = 0xFEE0_0000L;
    static final long IO_APIC = 0xFEC0_0000L;
    static final int IO_APIC_ID = 0;
    /** Local APIC version (the irq-apic model's version register, low byte). */
    static final int APIC_VERSION = 0x14;
    /** IOAPIC version (82093AA with the EOI register). */
    static final int IO_APIC_VERSION = 0x20;
    static final int PCI_BUS = 0;
    static final int ISA_BUS = 1;
    /** PIRQA-D: the pci bridge's default routing (dev-pci README). */
    static final int[] PIRQ = {10, 10, 11, 11};

    // Entry types (MP spec 4.3).
    private static final int PROCESSOR = 0;
    private static final int BUS = 1;
    private static final int IOAPIC = 2;
    private static final int IO_INTERRUPT = 3;
    private static final int LOCAL_INTERRUPT = 4;
    // Interrupt types.
    private static final int INT = 0;
    private static final int NMI = 1;
    private static final int EXTINT = 3;
    /** Polarity and trigger "conforms to the bus" (ISA: edge, active high). */
    private static final int CONFORMS = 0;
    /** Active low, level triggered (PCI). */
    private static final int LEVEL_LOW = 0x3 | 0x3 << 2;

    private MpTable() {
    }

    /**
     * Builds the two structures.
     *
     * @param cpus      the number of vCPUs
     * @param signature the CPUID signature to report for each processor (family/model/stepping)
     * @return the floating pointer followed by the configuration table, ready for {@link #FLOATING_POINTER}
     */
    static byte[] build(int cpus, int signature) {
        int entries = cpus + 2 + 1 + 16 + 31 * 4 + 2;
        ByteBuffer t = ByteBuffer.allocate(16 + 44 + 20 * cpus + 8 * (entries - cpus)).order(ByteOrder.LITTLE_ENDIAN);
        // Floating pointer (MP spec 4.1).
        t.put("_MP_".getBytes(StandardCharsets.US_ASCII));
        t.putInt((int) CONFIG_TABLE);
        t.put((byte) 1);            // length in 16-byte units
        t.put((byte) 4);            // specification revision 1.4
        t.put((byte) 0);            // checksum, below
        t.put(new byte[5]);         // feature 1 = 0: a configuration table is present; IMCR absent (virtual wire)
        // Configuration table header (4.2).
        int header = t.position();
        t.put("PCMP".getBytes(StandardCharsets.US_ASCII));
        t.putShort((short) 0);      // base table length, below
        t.put((byte) 4);
        t.put((byte) 0);            // checksum, below
        t.put(pad("POLYVISR", 8));
        t.put(pad("PC", 12));
        t.putInt(0);                // no OEM table
        t.putShort((short) 0);
        t.putShort((short) 0);      // entry count, below
        t.putInt((int) LOCAL_APIC);
        t.putShort((short) 0);      // no extended table
        t.put((byte) 0);
        t.put((byte) 0);
        int count = 0;
        for (int cpu = 0; cpu < cpus; cpu++) {
            t.put((byte) PROCESSOR);
            t.put((byte) cpu);      // local APIC ID
            t.put((byte) APIC_VERSION);
            t.put((byte) (cpu == 0 ? 0x3 : 0x1)); // enabled, boot processor
            t.putInt(signature);
            t.putInt(1 << 9 | 1);   // feature flags: APIC, FPU
            t.putLong(0);
            count++;
        }
        t.put((byte) BUS).put((byte) PCI_BUS).put(pad("PCI", 6));
        t.put((byte) BUS).put((byte) ISA_BUS).put(pad("ISA", 6));
        count += 2;
        t.put((byte) IOAPIC).put((byte) IO_APIC_ID).put((byte) IO_APIC_VERSION).put((byte) 1).putInt((int) IO_APIC);
        count++;
        for (int irq = 0; irq < 16; irq++) {
            if (irq == 2 || irq == PIRQ[0] || irq == PIRQ[2]) {
                continue; // 2 is the cascade; the PCI lines are described below
            }
            count += ioInterrupt(t, INT, CONFORMS, ISA_BUS, irq, irq == 0 ? 2 : irq);
        }
        for (int slot = 1; slot < 32; slot++) {
            for (int pin = 0; pin < 4; pin++) {
                count += ioInterrupt(t, INT, LEVEL_LOW, PCI_BUS, slot << 2 | pin, PIRQ[(pin + slot - 1) & 3]);
            }
        }
        // Local interrupts to all local APICs (0xFF): LINT0 ExtINT (the 8259), LINT1 NMI.
        t.put((byte) LOCAL_INTERRUPT).put((byte) EXTINT).putShort((short) CONFORMS).put((byte) ISA_BUS).put((byte) 0)
                .put((byte) 0xFF).put((byte) 0);
        t.put((byte) LOCAL_INTERRUPT).put((byte) NMI).putShort((short) CONFORMS).put((byte) ISA_BUS).put((byte) 0)
                .put((byte) 0xFF).put((byte) 1);
        count += 2;
        byte[] b = t.array();
        int length = t.position() - header;
        b[header + 4] = (byte) length;
        b[header + 5] = (byte) (length >>> 8);
        b[header + 34] = (byte) count;
        b[header + 35] = (byte) (count >>> 8);
        b[header + 7] = checksum(b, header, length);
        b[10] = checksum(b, 0, 16);
        return java.util.Arrays.copyOf(b, t.position());
    }

    private static int ioInterrupt(ByteBuffer t, int type, int flags, int bus, int busIrq, int pin) {
        t.put((byte) IO_INTERRUPT).put((byte) type).putShort((short) flags).put((byte) bus).put((byte) busIrq)
                .put((byte) IO_APIC_ID).put((byte) pin);
        return 1;
    }

    /** The byte that makes the sum of a structure's bytes 0 (MP spec 4.1, 4.2). */
    static byte checksum(byte[] b, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += b[i];
        }
        return (byte) -sum;
    }

    private static byte[] pad(String s, int n) {
        byte[] out = new byte[n];
        java.util.Arrays.fill(out, (byte) ' ');
        byte[] a = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(a, 0, out, 0, Math.min(n, a.length));
        return out;
    }

    /**
     * Writes the tables when the VM's BIOS area is RAM (no firmware ROM there: a firmware writes
     * its own).
     *
     * @param memory    guest memory
     * @param cpus      vCPU count
     * @param signature CPUID signature for the processor entries
     * @return what was placed where, for the boot plan, or null when the BIOS area is not RAM
     */
    static String install(GuestMemory memory, int cpus, int signature) {
        if (cpus < 1 || cpus > 255) {
            return null; // the table holds 8-bit APIC IDs
        }
        byte[] table = build(cpus, signature);
        for (MemoryRegion r : memory.regions()) {
            if (r.kind() == MemoryRegion.Kind.RAM && r.guestBase() <= FLOATING_POINTER
                    && r.end() >= FLOATING_POINTER + table.length) {
                memory.write(FLOATING_POINTER, table, 0, table.length);
                return String.format("MP tables %s-%s (%d CPU%s, IOAPIC at %s)", Le.hex(FLOATING_POINTER),
                        Le.hex(FLOATING_POINTER + table.length - 1), cpus, cpus == 1 ? "" : "s", Le.hex(IO_APIC));
            }
        }
        return null;
    }

    /**
     * Writes the tables for a boot request whose VM has APICs, and notes it in the placements.
     *
     * @param request    the request
     * @param placements the boot plan's placement list
     */
    static void installFor(org.polyvisor.boot.BootRequest request, java.util.List<String> placements) {
        if (!request.apic()) {
            return;
        }
        int signature = (int) request.resetState().gpr(org.polyvisor.cpu.CpuState.RDX);
        String placed = install(request.memory(), request.vcpus(), signature);
        placements.add(placed != null ? placed : "no MP tables: the BIOS area 0xF0000 is not RAM");
    }
}
