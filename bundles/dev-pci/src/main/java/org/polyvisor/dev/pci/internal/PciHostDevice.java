package org.polyvisor.dev.pci.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.part.SavedState;
import org.polyvisor.pci.PciConfigSpace;
import org.polyvisor.pci.PciFunction;

/**
 * One VM's PCI host bridge: configuration mechanism #1 (PCI Local Bus Specification 3.0, section
 * 3.2.2.3.2) on ports 0xCF8-0xCFF, the host bridge function 00:00.0, the PIIX3-style reset control
 * register at 0xCF9, and INTx routing of the attached functions onto GSIs.
 *
 * <p>Threads: configuration cycles arrive on vCPU threads; INTx changes on whatever thread a function
 * raises its interrupt from. No lock is held while calling into a function, so a function may
 * raise INTx from inside a configuration access. The CONFIG_ADDRESS latch is one per machine, as on
 * the chipset: two vCPUs interleaving configuration cycles without a lock race as on real hardware.
 */
final class PciHostDevice implements Device, PortDevice, Segment.Host {

    /** First port: CONFIG_ADDRESS. */
    static final int BASE_PORT = 0xCF8;
    /** CONFIG_ADDRESS (0xCF8-0xCFB) and CONFIG_DATA (0xCFC-0xCFF). */
    static final int WINDOW = 8;
    /** CONFIG_ADDRESS bit 31: configuration space mapping enabled. */
    static final int ENABLE = 0x8000_0000;
    /** CONFIG_ADDRESS bits that exist: enable, bus, device, function, register (dword). */
    static final int ADDRESS_MASK = 0x80FF_FFFC;
    /** Reset control register (PIIX3 datasheet 4.1.5, port 0xCF9): bit 2 starts a reset. */
    static final int RCR_RESET_CPU = 0x04;
    /** Reset control register bit 1: the next reset is a hard (system) reset; kept. */
    static final int RCR_SYS_RST = 0x02;
    /** Intel 82441FX PMC (440FX host bridge): what Linux's pci_sanity_check and firmware expect. */
    static final int VENDOR_INTEL = 0x8086;
    /** 82441FX device ID. */
    static final int DEVICE_440FX = 0x1237;
    /** Class 06/00/00: host bridge. */
    static final int CLASS_HOST_BRIDGE = 0x06_00_00;
    /** Subsystem vendor and ID QEMU gives its devices (Red Hat, "QEMU virtual machine"): SeaBIOS's
     *  qemu_detect (src/fw/paravirt.c) checks them on 00:00.0 to know it runs on QEMU's i440FX. */
    static final int SUBSYSTEM_VENDOR_QEMU = 0x1AF4;
    static final int SUBSYSTEM_QEMU = 0x1100;
    /** Interrupt Line: unknown / not connected (PCI 3.0, 6.2.4). */
    static final int LINE_UNKNOWN = 0xFF;

    private final String name;
    private final int[] pirq;
    private final VmControl control;
    private final Segment segment;
    private final DeviceContext context;
    private final Registration registration;
    private final Map<Integer, IrqLine> gsiLines = new TreeMap<>();
    /** Level last driven per GSI (absent: not yet driven, so the first change drives every line); guarded by {@link #intxLock}. */
    private final Map<Integer, Boolean> driven = new TreeMap<>();
    private final Object intxLock = new Object();
    private volatile int configAddress;
    private volatile int resetControl;
    /** The host bridge function's header; guarded by this. */
    private final PciConfigSpace own;
    /** The PAM registers last applied to the legacy window, null before the first time; guarded by this. */
    private int[] pamApplied;
    private final GuestMemory memory;
    private long pamChanges;
    /** Interrupt Line register per slot, -1 for "as routed"; guarded by this. */
    private final int[] lines = new int[Segment.SLOTS];
    private final AtomicLong configReads = new AtomicLong();
    private final AtomicLong configWrites = new AtomicLong();
    private final AtomicLong unclaimed = new AtomicLong();
    private final AtomicLong interruptChanges = new AtomicLong();
    private boolean closed;

    PciHostDevice(DeviceContext context, int[] pirq) {
        this.name = context.instanceName();
        this.pirq = pirq.clone();
        this.control = context.control();
        for (int gsi : pirq) {
            gsiLines.computeIfAbsent(gsi, context::irq);
        }
        this.own = new PciConfigSpace(VENDOR_INTEL, DEVICE_440FX, 0x02, CLASS_HOST_BRIDGE,
                SUBSYSTEM_VENDOR_QEMU, SUBSYSTEM_QEMU);
        // Chipset registers (SMRAM, DRB, ...) and Interrupt Line: plain storage, so firmware that
        // programs them reads back what it wrote. Of their effects only PAM's is modelled.
        own.makeWritable(0x3C, 0x3D);
        own.makeWritable(PciConfigSpace.DEVICE_SPECIFIC, 256);
        this.memory = context.memory();
        synchronized (this) {
            applyPam(); // power-on: the whole window decodes to the ROM side
        }
        Arrays.fill(lines, -1);
        this.context = context;
        this.segment = Segments.acquire(context);
        Registration r = null;
        try {
            r = context.ports().map(BASE_PORT, WINDOW, name, this);
            segment.bind(this, "pci '" + name + "'");
        } catch (RuntimeException e) {
            if (r != null) {
                r.close();
            }
            Segments.release(segment, context);
            throw e;
        }
        this.registration = r;
    }

    // ---- port window ---------------------------------------------------------------------

    @Override
    public int read(int offset, int size) {
        if (offset == 0 && size == 4) {
            return configAddress;
        }
        if (offset == 1 && size == 1) {
            return resetControl;
        }
        if (offset >= 4 && (offset & (size - 1)) == 0 && offset + size <= WINDOW) {
            return dataRead(offset - 4, size);
        }
        int v = 0;
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            int b;
            if (o < 4) {
                b = o == 1 ? resetControl : configAddress >>> (8 * o) & 0xFF;
            } else if (o < WINDOW) {
                b = dataRead(o - 4, 1);
            } else {
                b = 0xFF;
            }
            v |= (b & 0xFF) << (8 * i);
        }
        return v;
    }

    @Override
    public void write(int offset, int size, int value) {
        if (offset == 0 && size == 4) {
            configAddress = value & ADDRESS_MASK; // only dword writes latch (QEMU pci_host_config_write)
        } else if (offset == 1 && size == 1) {
            if ((value & RCR_RESET_CPU) != 0) {
                control.reset();
            } else {
                resetControl = value & RCR_SYS_RST;
            }
        } else if (offset >= 4 && (offset & (size - 1)) == 0 && offset + size <= WINDOW) {
            dataWrite(offset - 4, size, value);
        } else if (offset >= 4) {
            for (int i = 0; i < size && offset + i < WINDOW; i++) {
                dataWrite(offset + i - 4, 1, value >>> (8 * i));
            }
        }
        // other byte/word writes to 0xCF8-0xCFB do not address the configuration mechanism
    }

    private static int ones(int size) {
        return size == 4 ? -1 : (1 << (8 * size)) - 1;
    }

    private int dataRead(int byteInDword, int size) {
        configReads.incrementAndGet();
        int addr = configAddress;
        if ((addr & ENABLE) == 0) {
            unclaimed.incrementAndGet();
            return ones(size);
        }
        int bus = addr >>> 16 & 0xFF;
        int dev = addr >>> 11 & 0x1F;
        int fn = addr >>> 8 & 0x7;
        int reg = (addr & 0xFC) + byteInDword;
        if (bus != 0 || fn != 0) {
            unclaimed.incrementAndGet();
            return ones(size);
        }
        if (dev == 0) {
            synchronized (this) {
                return own.read(reg, size);
            }
        }
        PciFunction f = segment.function(dev);
        if (f == null) {
            unclaimed.incrementAndGet();
            return ones(size); // no device: the master aborts, reads all ones (vendor 0xFFFF)
        }
        if (reg >= 0x3C && reg < 0x40) {
            int v = 0;
            for (int i = 0; i < size; i++) {
                v |= interruptRegister(dev, reg + i) << (8 * i);
            }
            return v;
        }
        return f.configRead(reg, size) & ones(size);
    }

    private void dataWrite(int byteInDword, int size, int value) {
        configWrites.incrementAndGet();
        int addr = configAddress;
        if ((addr & ENABLE) == 0) {
            unclaimed.incrementAndGet();
            return;
        }
        int bus = addr >>> 16 & 0xFF;
        int dev = addr >>> 11 & 0x1F;
        int fn = addr >>> 8 & 0x7;
        int reg = (addr & 0xFC) + byteInDword;
        if (bus != 0 || fn != 0) {
            unclaimed.incrementAndGet();
            return;
        }
        if (dev == 0) {
            synchronized (this) {
                own.write(reg, size, value);
                if (reg <= Pam.LAST && reg + size > Pam.FIRST) {
                    applyPam();
                }
            }
            return;
        }
        PciFunction f = segment.function(dev);
        if (f == null) {
            unclaimed.incrementAndGet();
            return;
        }
        if (reg >= 0x3C && reg < 0x40) {
            if (reg == 0x3C) {
                synchronized (this) {
                    lines[dev] = value & 0xFF; // Interrupt Line: written by firmware or the OS, read back
                }
            }
            return; // Interrupt Pin, Min_Gnt, Max_Lat are read-only
        }
        f.configWrite(reg, size, value);
    }

    /** Switches the legacy window's segments whose PAM attributes changed; caller holds this. */
    private void applyPam() {
        int[] now = new int[Pam.COUNT];
        for (int i = 0; i < Pam.COUNT; i++) {
            now[i] = own.read(Pam.FIRST + i, 1);
        }
        if (pamApplied != null && Arrays.equals(now, pamApplied)) {
            return;
        }
        Pam.apply(memory, now, pamApplied);
        pamApplied = now;
        pamChanges++;
    }

    /** Bytes 0x3C-0x3F of a function: Interrupt Line, Interrupt Pin, Min_Gnt, Max_Lat. */
    private int interruptRegister(int dev, int reg) {
        int pin = segment.pin(dev);
        switch (reg) {
            case 0x3C: {
                synchronized (this) {
                    if (lines[dev] >= 0) {
                        return lines[dev];
                    }
                }
                return pin == 0 ? LINE_UNKNOWN : pirq[Segment.pirqOf(dev, pin)] & 0xFF;
            }
            case 0x3D:
                return pin;
            default:
                return 0;
        }
    }

    // ---- INTx ----------------------------------------------------------------------------

    @Override
    public void slotChanged(int device) {
        synchronized (intxLock) {
            if (closed) {
                return;
            }
            int mask = segment.assertedPirqs();
            Map<Integer, Boolean> want = new TreeMap<>();
            for (int k = 0; k < 4; k++) {
                want.merge(pirq[k], (mask >>> k & 1) != 0, Boolean::logicalOr);
            }
            for (Map.Entry<Integer, Boolean> e : want.entrySet()) {
                if (!e.getValue().equals(driven.get(e.getKey()))) {
                    driven.put(e.getKey(), e.getValue());
                    interruptChanges.incrementAndGet();
                    gsiLines.get(e.getKey()).set(e.getValue());
                }
            }
        }
    }

    // ---- Device --------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    @Override
    public void reset() {
        configAddress = 0;
        resetControl = 0;
        synchronized (this) {
            own.reset();
            Arrays.fill(lines, -1);
            applyPam();
        }
    }

    @Override
    public synchronized SavedState saveState() {
        return new HostState(configAddress, resetControl, own.saveRegisters(), own.saveWritableBytes(), lines).toSaved();
    }

    @Override
    public void restoreState(SavedState state) {
        HostState s = HostState.fromSaved(state);
        synchronized (this) {
            own.restore(s.registers(), s.config());
            int[] l = s.lines();
            for (int i = 0; i < lines.length; i++) {
                lines[i] = l[i] < 0 ? -1 : l[i] & 0xFF;
            }
            applyPam();
        }
        configAddress = s.configAddress() & ADDRESS_MASK;
        resetControl = s.resetControl();
    }

    @Override
    public List<String> resources() {
        List<String> out = new ArrayList<>();
        out.add(String.format("io 0x%x-0x%x", BASE_PORT, BASE_PORT + WINDOW - 1));
        out.add("pci 00:00.0 host bridge");
        for (int d = 1; d < Segment.SLOTS; d++) {
            String owner = segment.owner(d);
            if (owner != null) {
                int pin = segment.pin(d);
                out.add(String.format("pci 00:%02x.0 %s%s", d, owner,
                        pin == 0 ? "" : " INT" + (char) ('A' + pin - 1) + " -> gsi " + pirq[Segment.pirqOf(d, pin)]));
            }
        }
        StringBuilder irqs = new StringBuilder("irq");
        for (int gsi : gsiLines.keySet()) {
            irqs.append(' ').append(gsi);
        }
        out.add(irqs.toString());
        return out;
    }

    @Override
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("config-reads", configReads.get());
        m.put("config-writes", configWrites.get());
        m.put("master-aborts", unclaimed.get());
        m.put("intx-changes", interruptChanges.get());
        synchronized (this) {
            m.put("pam-changes", pamChanges);
        }
        return m;
    }

    @Override
    public void close() {
        synchronized (intxLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        // The GSI levels are left as they are: a successor bridge binding to the same bus drives
        // the same levels, so a swap neither loses nor duplicates an edge.
        segment.unbind(this);
        registration.close();
        Segments.release(segment, context);
    }
}
