package org.polyvisor.cpu.interpreter;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.cpu.interpreter.internal.InterpreterStrategy;
import org.polyvisor.io.MmioBus;
import org.polyvisor.io.MmioDevice;
import org.polyvisor.io.PortBus;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.time.ClockMode;
import org.polyvisor.time.VmClock;

/**
 * An in-memory machine for engine tests: RAM, fake port and MMIO buses that record accesses, a
 * settable interrupt source and clock, and helpers for real-mode and flat 32-bit states.
 */
public final class TestMachine implements VcpuContext {

    /** GDT selectors set up by {@link #flat32}. */
    public static final int CODE32 = 0x08;
    public static final int DATA32 = 0x10;
    public static final int CODE16 = 0x18;
    public static final int DATA16 = 0x20;
    public static final int CODE32_R3 = 0x2B;
    public static final int DATA32_R3 = 0x33;
    public static final int TSS = 0x38;
    public static final int GDT = 0x1000;
    public static final int IDT = 0x2000;
    public static final int TSS_BASE = 0x3000;

    public final TestMemory memory;
    public final List<int[]> portWrites = new ArrayList<>();
    public final ByteArrayOutputStream uart = new ByteArrayOutputStream();
    public final AtomicLong nanos = new AtomicLong();
    public volatile int pendingVector = -1;
    public int acknowledged;
    public Integer exitPortValue;
    /** What {@link #a20Mask()} answers: -1 (gate open) or ~(1 << 20). Engines read it per run. */
    public volatile long a20 = -1L;
    /** INIT ({@link InterruptSource#INIT}) and SIPI vectors the interrupt source hands out, in order. */
    public final java.util.concurrent.ConcurrentLinkedQueue<Integer> startupEvents =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** What {@link #vcpuId()} answers (0: the bootstrap processor). */
    public volatile int vcpuId;
    /** NMIs the interrupt source holds (latched until the engine takes one). */
    public volatile int nmis;
    /** What {@link #cpuModel()} answers; read when the engine is created. */
    private final String cpuModel;
    public final CpuEngine engine;

    /**
     * Makes the engine under test: the interpreter, unless a test of an engine built on the
     * interpreter core (binary translation) runs these tests against its own.
     */
    public static volatile java.util.function.Function<VcpuContext, CpuEngine> engines =
            c -> new InterpreterStrategy().createEngine(c);

    private final PortBus ports = new PortBus() {
        @Override
        public Registration map(int base, int length, String owner, PortDevice device) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int read(int port, int size) {
            if (port == 0x3FD) {
                return 0x60; // LSR: transmitter empty
            }
            if (port == 0x80) {
                return 0x5A;
            }
            return size == 1 ? 0xFF : size == 2 ? 0xFFFF : -1;
        }

        @Override
        public void write(int port, int size, int value) {
            portWrites.add(new int[] {port, size, value});
            if (port == 0x3F8) {
                uart.write(value);
            } else if (port == 0x92) {
                a20 = (value & 2) != 0 ? -1L : ~(1L << 20); // fast A20, as the i8042 + core do
            } else if (port == 0xF4) {
                exitPortValue = value;
                engine.requestExit();
            }
        }

        @Override
        public List<Registration> windows() {
            return List.of();
        }
    };

    public final List<long[]> mmioWrites = new ArrayList<>();
    private final MmioBus mmio = new MmioBus() {
        @Override
        public Registration map(long base, long length, String owner, MmioDevice device) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isMapped(long gpa) {
            return true;
        }

        @Override
        public long read(long gpa, int size) {
            return gpa & 0xFF; // recognisable pattern
        }

        @Override
        public void write(long gpa, int size, long value) {
            mmioWrites.add(new long[] {gpa, size, value});
        }

        @Override
        public List<Registration> windows() {
            return List.of();
        }
    };

    private final InterruptSource interrupts = new InterruptSource() {
        @Override
        public boolean hasInterrupt() {
            return pendingVector >= 0;
        }

        @Override
        public int acknowledge() {
            int v = pendingVector;
            pendingVector = -1;
            acknowledged++;
            return v;
        }

        @Override
        public boolean hasStartupEvent() {
            return !startupEvents.isEmpty();
        }

        @Override
        public boolean takeNmi() {
            if (nmis == 0) {
                return false;
            }
            nmis--;
            return true;
        }

        @Override
        public int takeStartupEvent() {
            Integer e = startupEvents.poll();
            return e == null ? NO_STARTUP : e;
        }
    };

    private final VmClock clock = new VmClock() {
        @Override
        public ClockMode mode() {
            return ClockMode.values()[0];
        }

        @Override
        public long nanos() {
            return nanos.get();
        }

        @Override
        public Timer schedule(long deadlineNanos, Runnable action) {
            return () -> { };
        }
    };

    public TestMachine() {
        this(4 << 20);
    }

    public TestMachine(int ramBytes) {
        this(new TestMemory(ramBytes));
    }

    public TestMachine(TestMemory memory) {
        this(memory, "");
    }

    /** A machine whose engine presents a configured CPU model ({@link VcpuContext#cpuModel()}). */
    public TestMachine(String cpuModel) {
        this(new TestMemory(4 << 20), cpuModel);
    }

    private TestMachine(TestMemory memory, String cpuModel) {
        this.memory = memory;
        this.cpuModel = cpuModel;
        this.engine = engines.apply(this);
    }

    // ---- VcpuContext ----

    @Override
    public String vmName() {
        return "test";
    }

    @Override
    public int vcpuId() {
        return vcpuId;
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public PortBus ports() {
        return ports;
    }

    @Override
    public MmioBus mmio() {
        return mmio;
    }

    @Override
    public InterruptSource interrupts() {
        return interrupts;
    }

    @Override
    public VmClock clock() {
        return clock;
    }

    /** The VM's MMU strategy instance, or null for the engine's own walk. */
    public volatile Mmu mmu;

    @Override
    public Optional<Mmu> mmu() {
        return Optional.ofNullable(mmu);
    }

    /**
     * Puts the machine under an MMU strategy (effective at the engine's next run, as after a swap).
     *
     * @param name {@code shadow}, {@code slat}, or empty for the engine's own walk
     * @return this machine
     */
    public TestMachine withMmu(String name) {
        if (mmu != null) {
            mmu.close();
        }
        mmu = MmuParts.create(name, memory, 1);
        return this;
    }

    @Override
    public String cpuModel() {
        return cpuModel;
    }

    /** The A20 mask: {@link #a20} (VcpuContext.a20Mask, API 0.2). */
    @Override
    public long a20Mask() {
        return a20;
    }

    // ---- helpers ----

    public CpuState state() {
        return engine.exportState();
    }

    public long reg(int index) {
        return engine.exportState().gpr(index);
    }

    public long eip() {
        return engine.exportState().rip();
    }

    public int flags() {
        return (int) engine.exportState().rflags();
    }

    public Exit step() {
        return engine.run(1);
    }

    public Exit run(long budget) {
        return engine.run(budget);
    }

    /** Real mode with CS:IP = cs:ip, SS:SP = 0:0x8000, other segments 0, flags 0x2. */
    public void real(int cs, int ip) {
        CpuState.Builder b = CpuState.powerOn(0x633).toBuilder();
        b.segment(CpuState.CS, new SegmentRegister(cs, (long) cs << 4, 0xFFFF, SegmentRegister.REAL_MODE_CODE));
        b.rip(ip).gpr(CpuState.RSP, 0x8000).gpr(CpuState.RDX, 0);
        b.cr0(0x10);
        b.idtr(new DescriptorTableRegister(0, 0x3FF));
        engine.importState(b.build());
    }

    /** Writes a code/data descriptor into the GDT. */
    public void descriptor(int selector, long base, int limit, int access, int flags) {
        int lo = (limit & 0xFFFF) | (int) ((base & 0xFFFF) << 16);
        int hi = (int) ((base >>> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) | (flags << 20)
                | (int) (base & 0xFF00_0000L);
        memory.writeDword(GDT + (selector & ~7), lo);
        memory.writeDword(GDT + (selector & ~7) + 4, hi);
    }

    /** Writes an IDT gate (type 0xE interrupt, 0xF trap, 6/7 for 16-bit gates). */
    public void gate(int vector, int selector, int offset, int type, int dpl) {
        int lo = (offset & 0xFFFF) | selector << 16;
        int hi = (offset & 0xFFFF_0000) | 0x8000 | dpl << 13 | type << 8;
        memory.writeDword(IDT + vector * 8L, lo);
        memory.writeDword(IDT + vector * 8L + 4, hi);
    }

    private static SegmentRegister seg(int sel, long base, int limit, int attr) {
        return new SegmentRegister(sel, base, limit, attr);
    }

    /**
     * Flat 32-bit protected mode at ring 0: GDT at 0x1000 (code/data 32 and 16, ring 3 code/data,
     * a 32-bit TSS), an empty IDT at 0x2000 (limit 0x7FF), ESP = 0x9000, EIP = eip.
     */
    public void flat32(int eip) {
        descriptor(CODE32, 0, 0xFFFFF, 0x9B, 0xC);
        descriptor(DATA32, 0, 0xFFFFF, 0x93, 0xC);
        descriptor(CODE16, 0, 0xFFFF, 0x9B, 0x0);
        descriptor(DATA16, 0, 0xFFFF, 0x93, 0x0);
        descriptor(CODE32_R3, 0, 0xFFFFF, 0xFB, 0xC);
        descriptor(DATA32_R3, 0, 0xFFFFF, 0xF3, 0xC);
        descriptor(TSS, TSS_BASE, 0x67, 0x8B, 0x0);
        memory.writeDword(TSS_BASE + 4, 0x7000); // ESP0
        memory.writeDword(TSS_BASE + 8, DATA32); // SS0
        memory.writeWord(TSS_BASE + 0x66, 0x68); // no I/O bitmap
        int code = 0xC09B & 0xF0FF;
        int data = 0xC093 & 0xF0FF;
        CpuState.Builder b = CpuState.powerOn(0x633).toBuilder();
        b.cr0(0x11).rip(eip).gpr(CpuState.RSP, 0x9000).gpr(CpuState.RDX, 0);
        b.segment(CpuState.CS, seg(CODE32, 0, -1, code));
        for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
            b.segment(s, seg(DATA32, 0, -1, data));
        }
        b.gdtr(new DescriptorTableRegister(GDT, 0x3F));
        b.idtr(new DescriptorTableRegister(IDT, 0x7FF));
        b.tr(seg(TSS, TSS_BASE, 0x67, 0x8B));
        b.ldtr(seg(0, 0, 0, SegmentRegister.UNUSABLE));
        engine.importState(b.build());
    }

    /** Replaces registers of the current state. */
    public void set(int index, long value) {
        engine.importState(engine.exportState().toBuilder().gpr(index, value).build());
    }

    public void setFlags(int value) {
        engine.importState(engine.exportState().toBuilder().rflags(value).build());
    }
}
