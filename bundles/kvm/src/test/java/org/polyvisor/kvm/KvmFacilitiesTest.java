package org.polyvisor.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.BitSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The binding's other facilities against the real /dev/kvm: KVM's in-kernel interrupt controllers
 * (KVM_CREATE_IRQCHIP, KVM_IRQ_LINE, KVM_GET/SET_LAPIC), interrupt-window exits, dirty-page logging
 * and hypercall exits. Program (GNU as, {@code .code16}, at 0x1000 with CS = DS = 0x0100):
 * <pre>
 * 00 picinit: mov $0x11,%al; out %al,$0x20; mov $0x20,%al; out %al,$0x21   ICW1, ICW2 (vectors 0x20..)
 *             mov $0x04,%al; out %al,$0x21; mov $0x01,%al; out %al,$0x21   ICW3, ICW4 (8086 mode)
 *             mov $0xef,%al; out %al,$0x21                                 OCW1: only IRQ 4 unmasked
 *             out %al,$0x81; sti; 1: hlt; jmp 1b                           "ready", then wait
 * 1a window:  cli; out %al,$0x81; mov $100,%cx; 2: loop 2b; sti; nop; 3: jmp 3b
 * 26 dirty:   movw $0x1111,0x4000; movw $0x2222,0x6000; out %al,$0x81      pages 5 and 7
 *             movw $0x3333,0x8000; out %al,$0x81; hlt                      page 9
 * 3d handler: mov $0x42,%al; out %al,$0x80; mov $0x20,%al; out %al,$0x20; iret   (vector 0x24: IRQ 4)
 * </pre>
 */
class KvmFacilitiesTest {

    static final byte[] CODE = {
        (byte) 0xb0, 0x11, (byte) 0xe6, 0x20, (byte) 0xb0, 0x20, (byte) 0xe6, 0x21, (byte) 0xb0, 0x04, (byte) 0xe6,
        0x21, (byte) 0xb0, 0x01, (byte) 0xe6, 0x21, (byte) 0xb0, (byte) 0xef, (byte) 0xe6, 0x21, (byte) 0xe6,
        (byte) 0x81, (byte) 0xfb, (byte) 0xf4, (byte) 0xeb, (byte) 0xfd, (byte) 0xfa, (byte) 0xe6, (byte) 0x81,
        (byte) 0xb9, 0x64, 0x00, (byte) 0xe2, (byte) 0xfe, (byte) 0xfb, (byte) 0x90, (byte) 0xeb, (byte) 0xfe,
        (byte) 0xc7, 0x06, 0x00, 0x40, 0x11, 0x11, (byte) 0xc7, 0x06, 0x00, 0x60, 0x22, 0x22, (byte) 0xe6,
        (byte) 0x81, (byte) 0xc7, 0x06, 0x00, (byte) 0x80, 0x33, 0x33, (byte) 0xe6, (byte) 0x81, (byte) 0xf4,
        (byte) 0xb0, 0x42, (byte) 0xe6, (byte) 0x80, (byte) 0xb0, 0x20, (byte) 0xe6, 0x20, (byte) 0xcf
    };
    static final int PIC_INIT = 0x00;
    static final int WINDOW = 0x1a;
    static final int DIRTY = 0x26;
    static final int HANDLER = 0x3d;
    /** The vector the program's PIC set-up gives IRQ 4, and its IVT entry's handler. */
    static final int VECTOR = 0x24;

    /**
     * 64-bit code placed at 0x1100 of the long-mode guest: {@code hc: vmcall; out %al,$0xf1; jmp hc}.
     */
    static final byte[] VMCALL = {0x0f, 0x01, (byte) 0xc1, (byte) 0xe6, (byte) 0xf1, (byte) 0xeb, (byte) 0xf9};

    /** KVM_HC_MAP_GPA_RANGE (include/uapi/linux/kvm_para.h). */
    static final int HC_MAP_GPA_RANGE = 12;

    @BeforeEach
    void needKvm() {
        KvmAssume.kvmUsable();
    }

    private static RealModeGuest guest(boolean irqchip, int slotFlags) {
        RealModeGuest g = new RealModeGuest(CODE, irqchip, slotFlags);
        g.ram.putShort(VECTOR * 4, (short) HANDLER);
        g.ram.putShort(VECTOR * 4 + 2, (short) 0x0100);
        return g;
    }

    /**
     * Runs until an exit other than a time-slice interruption, for at most {@code slices} slices of
     * 10 ms (with KVM's local APIC a HLT blocks in the kernel instead of exiting, and a KVM that
     * cannot make progress would otherwise hang the test).
     *
     * @return the exit, or null if the guest was still in KVM_RUN after every slice
     */
    private static KvmExit runGuarded(VcpuFd vcpu, int slices) {
        vcpu.bindToCurrentThread();
        vcpu.setKickable(true);
        vcpu.timeSlice(10_000_000);
        try {
            for (int i = 0; i < slices; i++) {
                KvmExit e = vcpu.run();
                if (e instanceof KvmExit.Intr) {
                    vcpu.acknowledgeKicks();
                    continue;
                }
                return e;
            }
            return null;
        } finally {
            vcpu.timeSlice(0);
            vcpu.setKickable(false);
            vcpu.acknowledgeKicks();
        }
    }

    /** The next exit that is not a time-slice interruption; fails if there is none within 10 s. */
    private static KvmExit next(VcpuFd vcpu) {
        KvmExit e = runGuarded(vcpu, 1000);
        if (e == null) {
            fail("no exit within 1000 time slices; RIP " + Long.toHexString(vcpu.getRegs().rip()));
        }
        return e;
    }

    private static KvmExit.Io runToIo(VcpuFd vcpu) {
        KvmExit e = next(vcpu);
        return assertInstanceOf(KvmExit.Io.class, e, e.toString());
    }

    /**
     * Enters a VMCALL at CPL 0 and runs it; skips where this KVM cannot execute VMCALL from guest
     * ring 0 (kvm_pvm emulates ring-0 code and stays on the VMCALL for good; from ring 3 the VMCALL
     * raises #UD, as on hardware).
     */
    private static KvmExit vmcall(LongModeGuest g, long nr, long a0, long a1, long a2) {
        g.ram.put(LongModeGuest.CODE_BASE + 0x100, VMCALL);
        g.enter(0x100, false, 0); // hypercalls need CPL 0
        Regs r = g.vcpu.getRegs();
        long[] gpr = r.gpr();
        gpr[0] = nr; // RAX: number
        gpr[3] = a0; // RBX
        gpr[1] = a1; // RCX
        gpr[2] = a2; // RDX
        g.vcpu.setRegs(new Regs(gpr, r.rip(), r.rflags()));
        KvmExit e = runGuarded(g.vcpu, 50);
        assumeTrue(e != null, "this KVM does not complete a VMCALL from guest ring 0 (still at RIP 0x"
                + Long.toHexString(g.vcpu.getRegs().rip()) + " after 0.5 s:"
                + " kvm_pvm's emulation of guest ring 0 does not get past it)");
        return e;
    }

    @Test
    void inKernelPicDeliversAnInterruptRaisedWithIrqLine() {
        try (RealModeGuest g = guest(true, 0)) {
            assertTrue(g.kvm.checkExtension(Kvm.CAP_IRQCHIP) > 0);
            g.enter(PIC_INIT);
            // The PIC's ports are KVM's now: the first exit is the program's "ready".
            KvmExit.Io ready = runToIo(g.vcpu);
            assertEquals(0x81, ready.port());
            // An edge on IRQ 4 (GSI 4 goes to the master PIC and the IOAPIC): KVM delivers vector
            // 0x24, whose handler reports on port 0x80 while the guest waits in HLT.
            g.vm.irqLine(4, true);
            g.vm.irqLine(4, false);
            KvmExit.Io handler = runToIo(g.vcpu);
            assertEquals(0x80, handler.port());
            assertEquals(0x42, g.vcpu.ioData(handler, 0));
            // The handler's EOI goes to the in-kernel PIC too; the next interrupt comes the same way.
            g.vm.irqLine(4, true);
            g.vm.irqLine(4, false);
            KvmExit.Io again = runToIo(g.vcpu);
            assertEquals(0x80, again.port());
        }
    }

    @Test
    void inKernelLocalApicRegistersRoundTrip() {
        try (RealModeGuest g = guest(true, 0)) {
            byte[] lapic = g.vcpu.getLapic();
            assertEquals(1024, lapic.length);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(lapic).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            assertEquals(0, b.getInt(0x20) >>> 24, "APIC ID register of vCPU 0");
            b.putInt(0x80, 0x30); // task priority
            b.putInt(0xF0, 0x1FF); // spurious vector register: APIC software-enabled, vector 0xFF
            g.vcpu.setLapic(lapic);
            java.nio.ByteBuffer back = java.nio.ByteBuffer.wrap(g.vcpu.getLapic()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x30, back.getInt(0x80));
            assertEquals(0x1FF, back.getInt(0xF0));
        }
    }

    @Test
    void interruptWindowExitComesWhenTheGuestEnablesInterrupts() {
        try (RealModeGuest g = guest(false, 0)) {
            g.enter(WINDOW);
            KvmExit.Io io = assertInstanceOf(KvmExit.Io.class, next(g.vcpu));
            assertEquals(0x81, io.port());
            assertFalse(g.vcpu.interruptFlag(), "the guest runs with CLI");
            assertFalse(g.vcpu.readyForInterruptInjection());
            g.vcpu.requestInterruptWindow(true);
            KvmExit w = next(g.vcpu);
            assertInstanceOf(KvmExit.IrqWindowOpen.class, w, w.toString());
            assertTrue(g.vcpu.readyForInterruptInjection());
            assertTrue(g.vcpu.interruptFlag());
            // The loop ran to its end before the STI opened the window.
            assertEquals(0, g.vcpu.getRegs().gpr(RealModeGuest.CpuRegs.RCX) & 0xFFFF);
            g.vcpu.requestInterruptWindow(false);
            g.vcpu.interrupt(VECTOR);
            KvmExit.Io handler = assertInstanceOf(KvmExit.Io.class, next(g.vcpu));
            assertEquals(0x80, handler.port());
        }
    }

    @Test
    void dirtyLogNamesThePagesTheGuestWrote() {
        try (RealModeGuest g = guest(false, VmFd.MEM_LOG_DIRTY_PAGES)) {
            g.vm.getDirtyLog(0); // every page counts as dirty at first on some hosts: start clean
            g.enter(DIRTY);
            assertEquals(0x81, assertInstanceOf(KvmExit.Io.class, next(g.vcpu)).port());
            assertEquals(BitSet.valueOf(new long[] {1L << 5 | 1L << 7}), dirtyPages(g, 0));
            assertEquals(0x2222, g.ram.getShort(0x7000), "the guest wrote the VM's own buffer");
            assertEquals(0x81, assertInstanceOf(KvmExit.Io.class, next(g.vcpu)).port());
            assertEquals(BitSet.valueOf(new long[] {1L << 9}), dirtyPages(g, 0), "the log restarts at each read");
            assertEquals(new BitSet(), dirtyPages(g, 0));
            assertEquals(128, g.vm.getDirtyLog(0).length * 64, "one bit per page of the 512 KiB slot");
        }
    }

    private static BitSet dirtyPages(RealModeGuest g, int slot) {
        return BitSet.valueOf(g.vm.getDirtyLog(slot));
    }

    @Test
    void enabledHypercallExitsToUserspaceAndTakesItsResult() {
        try (LongModeGuest g = new LongModeGuest()) {
            int mask = g.vm.checkExtension(Kvm.CAP_EXIT_HYPERCALL);
            assumeTrue((mask & (1 << HC_MAP_GPA_RANGE)) != 0,
                    "this KVM cannot send KVM_HC_MAP_GPA_RANGE to userspace (KVM_CAP_EXIT_HYPERCALL " + mask + ")");
            g.vm.enableCap(Kvm.CAP_EXIT_HYPERCALL, 1L << HC_MAP_GPA_RANGE);
            KvmExit e = vmcall(g, HC_MAP_GPA_RANGE, 0x40000, 4, 0); // 4 pages at 0x40000, no attributes
            KvmExit.Hypercall h = assertInstanceOf(KvmExit.Hypercall.class, e, e.toString());
            assertEquals(HC_MAP_GPA_RANGE, h.nr());
            assertArrayEquals(new long[] {0x40000, 4, 0}, java.util.Arrays.copyOf(h.args(), 3));
            g.vcpu.setHypercallResult(0x1234);
            KvmExit.Io io = assertInstanceOf(KvmExit.Io.class, next(g.vcpu));
            assertEquals(0xF1, io.port());
            assertEquals(0x1234, g.vcpu.getRegs().gpr(0), "the guest got the VMM's answer in RAX");
        }
    }

    @Test
    void otherHypercallsAreAnsweredByKvmItself() {
        // Without KVM_CAP_EXIT_HYPERCALL, KVM answers a VMCALL in the kernel: an unknown number
        // gets -KVM_ENOSYS (-1000) in RAX and the guest goes on (Documentation/virt/kvm/x86/hypercalls.rst).
        try (LongModeGuest g = new LongModeGuest()) {
            KvmExit e = vmcall(g, 0x7777, 0, 0, 0);
            KvmExit.Io io = assertInstanceOf(KvmExit.Io.class, e, e.toString());
            assertEquals(0xF1, io.port());
            assertEquals(-1000L, g.vcpu.getRegs().gpr(0));
        }
    }
}
