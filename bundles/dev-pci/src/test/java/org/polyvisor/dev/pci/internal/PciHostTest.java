package org.polyvisor.dev.pci.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.device.Device;
import org.polyvisor.part.SavedState;
import org.polyvisor.pci.PciBus;
import org.polyvisor.pci.PciBuses;
import org.polyvisor.pci.PciConfigSpace;
import org.polyvisor.pci.PciFunction;
import org.polyvisor.pci.PciSlot;

/** The host bridge as a guest's PCI enumeration code and a PCI device bundle see it. */
class PciHostTest {

    private static int vmCounter;
    private final String vm = "pci-test-" + (++vmCounter) + "-" + System.nanoTime();
    private final Fakes.Context ctx = new Fakes.Context(vm, "pci", Map.of());
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        assertFalse(ctx.vmService(PciBus.class).isPresent(), "bus released when bridge and functions are gone");
    }

    private Device bridge() {
        Device d = new PciHostModel().create(ctx);
        toClose.add(d);
        return d;
    }

    /** A function with a 4 KiB memory BAR 0 and a 32-port I/O BAR 1, recording BAR changes. */
    static final class TestFunction implements PciFunction {
        final PciConfigSpace cfg = new PciConfigSpace(0x1AF4, 0x1042, 1, 0x01_80_00, 0x1AF4, 0x40);
        final List<String> events = new ArrayList<>();
        final int pin;

        TestFunction(int pin) {
            this.pin = pin;
            cfg.defineMemoryBar(0, 0x1000);
            cfg.defineIoBar(1, 0x20);
            cfg.addCapability(PciConfigSpace.CAP_VENDOR_SPECIFIC, new byte[] {14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13});
            cfg.setListener((i, b) -> events.add(i + "@" + Long.toHexString(b)));
        }

        @Override
        public int configRead(int offset, int size) {
            return cfg.read(offset, size);
        }

        @Override
        public void configWrite(int offset, int size, int value) {
            cfg.write(offset, size, value);
        }

        @Override
        public int interruptPin() {
            return pin;
        }
    }

    private PciSlot attach(PciFunction f, int device) {
        PciSlot s = PciBuses.attach(function("fn" + device), "fn" + device, f, device);
        toClose.add(s);
        return s;
    }

    /** A function's own context in the same VM. */
    private Fakes.Context function(String name) {
        return new Fakes.Context(vm, name, Map.of(), ctx.ports, ctx.lines);
    }

    private static int address(int bus, int dev, int fn, int reg) {
        return 0x8000_0000 | bus << 16 | dev << 11 | fn << 8 | reg;
    }

    private int cfgRead(int dev, int reg, int size) {
        ctx.ports.write(0xCF8, 4, address(0, dev, 0, reg & 0xFC));
        return ctx.ports.read(0xCFC + (reg & 3), size);
    }

    private void cfgWrite(int dev, int reg, int size, int value) {
        ctx.ports.write(0xCF8, 4, address(0, dev, 0, reg & 0xFC));
        ctx.ports.write(0xCFC + (reg & 3), size, value);
    }

    @Test
    void linuxType1ProbeSeesTheAddressLatch() {
        bridge();
        // arch/x86/pci/direct.c pci_check_type1: outb(0x01, 0xCFB); tmp = inl(0xCF8);
        // outl(0x80000000, 0xCF8); inl(0xCF8) == 0x80000000
        ctx.ports.write(0xCFB, 1, 0x01);
        ctx.ports.write(0xCF8, 4, 0x8000_0000);
        assertEquals(0x8000_0000, ctx.ports.read(0xCF8, 4));
        ctx.ports.write(0xCF8, 4, 0xFFFF_FFFF);
        assertEquals(0x80FF_FFFC, ctx.ports.read(0xCF8, 4), "reserved bits and type bits read as zero");
    }

    @Test
    void hostBridgeIsAt0000AndPassesLinuxSanityCheck() {
        bridge();
        assertEquals(0x1237_8086, cfgRead(0, 0, 4));
        assertEquals(0x0600, cfgRead(0, 0x0A, 2), "class host bridge");
        assertEquals(0, cfgRead(0, 0x0E, 1) & 0x7F, "header type 0");
        cfgWrite(0, 0x59, 1, 0x30); // PAM0 as SeaBIOS writes it: reads back
        assertEquals(0x30, cfgRead(0, 0x59, 1));
        cfgWrite(0, 0x00, 4, 0); // vendor/device are read-only
        assertEquals(0x1237_8086, cfgRead(0, 0, 4));
    }

    @Test
    void subsystemIdsTellSeaBiosItRunsOnQemusI440fx() {
        bridge();
        assertEquals(0x1AF4, cfgRead(0, 0x2C, 2), "subsystem vendor: Red Hat");
        assertEquals(0x1100, cfgRead(0, 0x2E, 2), "subsystem: QEMU virtual machine");
    }

    @Test
    void pamRegistersSwitchTheLegacyWindowSegmentBySegment() {
        Device d = bridge();
        // power-on: every segment decodes to the ROM/PCI side
        assertEquals("--", ctx.memory.legacyDecode(0xF_0000L));
        assertEquals("--", ctx.memory.legacyDecode(0xC_0000L));
        assertEquals("--", ctx.memory.legacyDecode(0xE_C000L));
        // SeaBIOS make_bios_writable_intel: two dword writes at 0x58 and 0x5C
        cfgWrite(0, 0x58, 4, 0x3333_3000);
        cfgWrite(0, 0x5C, 4, 0x3333_3333);
        for (long a = 0xC_0000L; a < 0x10_0000L; a += 0x1000) {
            assertEquals("RW", ctx.memory.legacyDecode(a), Long.toHexString(a));
        }
        // make_bios_readonly: 0x11, and one segment with its own attributes
        cfgWrite(0, 0x59, 1, 0x10);
        cfgWrite(0, 0x5E, 1, 0x21); // PAM5: 0xE0000 read-only DRAM, 0xE4000 write-only
        assertEquals("R-", ctx.memory.legacyDecode(0xF_F000L));
        assertEquals("R-", ctx.memory.legacyDecode(0xE_3000L));
        assertEquals("-W", ctx.memory.legacyDecode(0xE_4000L));
        assertEquals("RW", ctx.memory.legacyDecode(0xE_8000L));
        cfgWrite(0, 0x59, 1, 0x03); // PAM0's low nibble is reserved: no effect on 0xF0000
        assertEquals("--", ctx.memory.legacyDecode(0xF_0000L));
        assertTrue(d.stats().get("pam-changes") >= 4);
        // a reset puts the window back on the ROM side; a restore brings the saved map back
        cfgWrite(0, 0x59, 1, 0x30);
        SavedState s = d.saveState();
        d.reset();
        assertEquals("--", ctx.memory.legacyDecode(0xF_0000L));
        assertEquals("--", ctx.memory.legacyDecode(0xE_8000L));
        d.restoreState(s);
        assertEquals("RW", ctx.memory.legacyDecode(0xF_0000L));
        assertEquals("-W", ctx.memory.legacyDecode(0xE_4000L));
    }

    @Test
    void absentFunctionsBusesAndDisabledCyclesReadAllOnes() {
        Device d = bridge();
        assertEquals(0xFFFF_FFFF, cfgRead(5, 0, 4));
        assertEquals(0xFFFF, cfgRead(5, 0, 2));
        ctx.ports.write(0xCF8, 4, address(1, 0, 0, 0));
        assertEquals(0xFFFF_FFFF, ctx.ports.read(0xCFC, 4), "bus 1 does not exist");
        ctx.ports.write(0xCF8, 4, address(0, 0, 3, 0));
        assertEquals(0xFFFF_FFFF, ctx.ports.read(0xCFC, 4), "single-function devices only");
        ctx.ports.write(0xCF8, 4, 0); // enable bit clear
        assertEquals(0xFFFF_FFFF, ctx.ports.read(0xCFC, 4));
        cfgWrite(7, 0x04, 2, 0xFFFF); // writes to nothing are dropped
        assertEquals(6L, d.stats().get("master-aborts"));
    }

    @Test
    void enumeratesAFunctionAndSizesItsBars() {
        bridge();
        TestFunction f = new TestFunction(1);
        PciSlot slot = attach(f, PciBuses.ANY_DEVICE);
        assertEquals(1, slot.device(), "lowest free device number");
        assertEquals("00:01.0", slot.address());
        int d = slot.device();
        assertEquals(0x1042_1AF4, cfgRead(d, 0, 4));
        assertEquals(0x10, cfgRead(d, 0x06, 2) & 0x10, "status: capability list");
        int cap = cfgRead(d, 0x34, 1);
        assertEquals(0x40, cap);
        assertEquals(0x09, cfgRead(d, cap, 1));
        assertEquals(0x0E, cfgRead(d, cap + 2, 1));
        // BAR sizing as in PCI 3.0 6.2.5.1: write all ones, read back, restore.
        cfgWrite(d, 0x10, 4, 0xFFFF_FFFF);
        assertEquals(0xFFFF_F000, cfgRead(d, 0x10, 4));
        cfgWrite(d, 0x14, 4, 0xFFFF_FFFF);
        assertEquals(0xFFFF_FFE1, cfgRead(d, 0x14, 4), "32-port I/O BAR");
        assertTrue(f.events.isEmpty(), "nothing decodes while the command register is off");
        cfgWrite(d, 0x10, 4, 0xE000_0000);
        cfgWrite(d, 0x14, 4, 0xC040);
        cfgWrite(d, 0x04, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_IO);
        assertEquals(List.of("0@e0000000", "1@c040"), f.events);
        assertEquals(0xE000_0000L, f.cfg.barBase(0));
        cfgWrite(d, 0x04, 2, PciConfigSpace.COMMAND_IO);
        assertEquals(-1, f.cfg.barBase(0));
        cfgWrite(d, 0x10, 4, 0xFFFF_FFFF);
        cfgWrite(d, 0x04, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(-1, f.cfg.barBase(0), "the sizing pattern never decodes");
        assertEquals(0, cfgRead(d, 0x18, 4), "unimplemented BAR reads zero");
        cfgWrite(d, 0x18, 4, 0xFFFF_FFFF);
        assertEquals(0, cfgRead(d, 0x18, 4));
    }

    @Test
    void intxIsRoutedSwizzledAndShared() {
        bridge();
        TestFunction a = new TestFunction(1);
        TestFunction b = new TestFunction(1);
        TestFunction c = new TestFunction(0);
        PciSlot sa = attach(a, 3); // INTA of slot 3 -> PIRQ (0 + 3 - 1) & 3 = C -> GSI 11
        PciSlot sb = attach(b, 4); // slot 4 -> PIRQ D -> GSI 11
        attach(c, 5);
        assertEquals(11, cfgRead(3, 0x3C, 1));
        assertEquals(1, cfgRead(3, 0x3D, 1));
        assertEquals(0x010B, cfgRead(3, 0x3C, 2));
        assertEquals(0xFF, cfgRead(5, 0x3C, 1), "no pin: line unknown");
        assertEquals(0, cfgRead(5, 0x3D, 1));
        sa.setInterrupt(true);
        assertTrue(ctx.line(11).high);
        sb.setInterrupt(true);
        sa.setInterrupt(false);
        assertTrue(ctx.line(11).high, "wired-OR: b still asserts");
        sb.setInterrupt(false);
        assertFalse(ctx.line(11).high);
        assertEquals(1, ctx.line(11).raises);
        cfgWrite(3, 0x3C, 1, 5); // the OS may rewrite Interrupt Line; the pin is read-only
        cfgWrite(3, 0x3D, 1, 4);
        assertEquals(5, cfgRead(3, 0x3C, 1));
        assertEquals(1, cfgRead(3, 0x3D, 1));
    }

    @Test
    void pirqOptionRoutesToApicGsis() {
        Fakes.Context c = new Fakes.Context(vm, "pci", Map.of("pirq", "16:17:18:19"));
        Device d = new PciHostModel().create(c);
        toClose.add(d);
        PciSlot s = attach(new TestFunction(2), 1); // INTB of slot 1 -> PIRQB -> 17
        s.setInterrupt(true);
        assertTrue(c.line(17).high);
        assertTrue(d.resources().contains("pci 00:01.0 fn1 INTB -> gsi 17"), d.resources().toString());
        assertThrows(IllegalArgumentException.class,
                () -> new PciHostModel().create(new Fakes.Context("x", "pci", Map.of("pirq", "1:2"))));
        assertThrows(IllegalArgumentException.class,
                () -> new PciHostModel().create(new Fakes.Context("x", "pci", Map.of("pirq", "ten"))));
        assertThrows(IllegalArgumentException.class,
                () -> new PciHostModel().create(new Fakes.Context("x", "pci", Map.of("slots", "3"))));
    }

    @Test
    void functionsMayAttachBeforeTheBridgeAndSurviveItsReplacement() {
        TestFunction f = new TestFunction(1);
        PciSlot s = attach(f, 2);
        s.setInterrupt(true); // asserted while no bridge is bound: kept
        Device first = new PciHostModel().create(ctx);
        assertEquals(0x1042_1AF4, cfgRead(2, 0, 4));
        assertTrue(ctx.line(10).high, "slot 2 INTA -> PIRQB -> GSI 10, driven at bind");
        cfgWrite(2, 0x3C, 1, 9);
        SavedState saved = first.saveState();
        first.close();
        assertThrows(IllegalArgumentException.class, () -> PciBuses.attach(function("other"), "other", new TestFunction(1), 2),
                "the function keeps its slot while the bridge is away");
        Fakes.Context ctx2 = new Fakes.Context(vm, "pci", Map.of(), ctx.ports, ctx.lines);
        Device second = new PciHostModel().create(ctx2);
        toClose.add(second);
        second.restoreState(saved);
        assertEquals(9, cfgRead(2, 0x3C, 1), "interrupt line register handed over");
        assertTrue(ctx.line(10).high);
        assertEquals(1, ctx.line(10).raises, "no second edge across the swap");
    }

    /**
     * The bus is a per-VM service offered through the context of the part that created it; when
     * that part goes first, the offer passes to a remaining user, so parts that come later still
     * find the same bus (no second bus behind no bridge).
     */
    @Test
    void busOfferPassesToARemainingUserWhenItsCreatorLeaves() throws Exception {
        TestFunction first = new TestFunction(1);
        PciSlot firstSlot = PciBuses.attach(function("first"), "first", first, 3); // creates and offers the bus
        bridge();
        firstSlot.close();
        assertTrue(ctx.vmService(PciBus.class).isPresent(), "still offered while the bridge uses the bus");
        attach(new TestFunction(1), 5);
        assertEquals(0x1042_1AF4, cfgRead(5, 0, 4), "a function attached after the hand-over is behind the bridge");
        assertEquals(0xFFFF_FFFF, cfgRead(3, 0, 4), "the detached function is gone");
    }

    @Test
    void oneBridgePerVmAndSlotConflictsNameTheOwner() {
        bridge();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PciHostModel().create(new Fakes.Context(vm, "pci2", Map.of())));
        assertTrue(e.getMessage().contains("already has a PCI host bridge"), e.getMessage());
        attach(new TestFunction(1), 4);
        e = assertThrows(IllegalArgumentException.class, () -> PciBuses.attach(function("x"), "x", new TestFunction(1), 4));
        assertTrue(e.getMessage().contains("taken by fn4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PciBuses.attach(function("x"), "x", new TestFunction(1), 0));
        assertThrows(IllegalArgumentException.class, () -> PciBuses.attach(function("x"), "x", new TestFunction(1), 32));
    }

    @Test
    void resetControlRegisterResetsTheMachine() {
        bridge();
        ctx.ports.write(0xCF9, 1, 0x02);
        assertEquals(0x02, ctx.ports.read(0xCF9, 1));
        assertEquals(0, ctx.control.resets);
        ctx.ports.write(0xCF9, 1, 0x06);
        assertEquals(1, ctx.control.resets);
    }

    @Test
    void saveRestoreRoundTripsAndRejectsForeignState() {
        Device d = bridge();
        ctx.ports.write(0xCF8, 4, address(0, 0, 0, 0x58));
        ctx.ports.write(0xCFD, 1, 0x33);
        SavedState s = d.saveState();
        d.reset();
        assertEquals(0, ctx.ports.read(0xCF8, 4));
        assertEquals(0, cfgRead(0, 0x59, 1));
        d.restoreState(s);
        assertEquals(0x33, cfgRead(0, 0x59, 1));
        assertEquals(s, d.saveState());
        assertThrows(IllegalArgumentException.class, () -> d.restoreState(SavedState.builder("uart16550", 1).build()));
        assertThrows(IllegalArgumentException.class, () -> d.restoreState(SavedState.builder(HostState.TYPE, 9).build()));
    }

    @Test
    void randomPortTrafficNeverThrows() {
        bridge();
        attach(new TestFunction(1), 1);
        Random r = new Random(42);
        int[] sizes = {1, 2, 4};
        for (int i = 0; i < 100_000; i++) {
            int port = 0xCF8 + r.nextInt(8);
            int size = sizes[r.nextInt(3)];
            if (r.nextBoolean()) {
                ctx.ports.write(port, size, r.nextInt());
            } else {
                ctx.ports.read(port, size);
            }
        }
    }
}
