package org.polyvisor.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The binding against the real /dev/kvm, with a small real-mode guest. */
class KvmBindingTest {

    @BeforeEach
    void needKvm() {
        KvmAssume.kvmUsable();
    }

    @Test
    void systemHandleAnswersVersionExtensionsCpuidAndMsrs() {
        try (Kvm kvm = Kvm.open()) {
            assertEquals(12, kvm.apiVersion());
            assertTrue(kvm.vcpuMmapSize() >= 4096);
            assertTrue(kvm.checkExtension(Kvm.CAP_USER_MEMORY) > 0);
            assertTrue(kvm.supportedCpuid().stream().anyMatch(e -> e.function() == 0));
            assertTrue(kvm.msrIndexList().length > 0);
        }
    }

    @Test
    void portAndMmioExitsCarryTheirDataAndHltEndsTheProgram() {
        try (RealModeGuest g = new RealModeGuest()) {
            g.enter(RealModeGuest.START);
            KvmExit e = g.vcpu.run();
            KvmExit.Io out = assertInstanceOf(KvmExit.Io.class, e, e.name());
            assertTrue(out.out());
            assertEquals(0x3F8, out.port());
            assertEquals(1, out.size());
            assertEquals(0x41, g.vcpu.ioData(out, 0));
            e = g.vcpu.run();
            KvmExit.Io in = assertInstanceOf(KvmExit.Io.class, e, e.name());
            assertEquals(0x60, in.port());
            assertTrue(!in.out());
            g.vcpu.setIoData(in, 0, 0x5A);
            e = g.vcpu.run();
            KvmExit.Mmio w = assertInstanceOf(KvmExit.Mmio.class, e, e.name());
            assertEquals(0xD0000, w.address());
            assertTrue(w.write());
            assertEquals(4, w.length());
            assertEquals(0x12345678L, w.data());
            e = g.vcpu.run();
            KvmExit.Mmio r = assertInstanceOf(KvmExit.Mmio.class, e, e.name());
            assertEquals(0xD0004, r.address());
            assertTrue(!r.write());
            g.vcpu.setMmioData(0xCAFEBABEL);
            e = g.vcpu.run();
            assertInstanceOf(KvmExit.Hlt.class, e, e.name());
            Regs regs = g.vcpu.getRegs();
            assertEquals(0x5A, regs.gpr(RealModeGuest.CpuRegs.RBX) & 0xFF);
            assertEquals(0xCAFEBABEL, regs.gpr(RealModeGuest.CpuRegs.RCX) & 0xFFFF_FFFFL);
            assertEquals(0x20, regs.rip());
        }
    }

    @Test
    void tripleFaultIsShutdown() {
        // In long mode from ring 3. Under kvm_pvm, an exception raised by emulated ring-0 code (or
        // by 32-bit protected-mode code) through an empty IDT ends in KVM_EXIT_INTERNAL_ERROR
        // (emulation failure) instead; from ring 3 the CPU raises it and KVM shuts the guest down.
        try (LongModeGuest g = new LongModeGuest()) {
            g.enter(LongModeGuest.TRIPLE, true, 0);
            KvmExit e = g.vcpu.run();
            assertInstanceOf(KvmExit.Shutdown.class, e, e.toString());
        }
    }

    @Test
    void longModeRing3LoopRunsAndExitsOnOut() {
        try (LongModeGuest g = new LongModeGuest()) {
            g.enter(LongModeGuest.IO_LOOP, true, 3);
            for (int i = 0; i < 3; i++) {
                KvmExit.Io io = assertInstanceOf(KvmExit.Io.class, g.vcpu.run());
                assertEquals(0xF0, io.port());
            }
            KvmExit.Io io = assertInstanceOf(KvmExit.Io.class, g.vcpu.run());
            assertEquals(0xF1, io.port());
            g.enter(LongModeGuest.COMPUTE, true, 1000);
            io = assertInstanceOf(KvmExit.Io.class, g.vcpu.run());
            assertEquals(0xF1, io.port());
            assertEquals(expectedCompute(1000), g.vcpu.getRegs().gpr(0));
        }
    }

    /** The compute loop in Java: what RAX holds afterwards. */
    static long expectedCompute(long n) {
        long rax = 0;
        for (long rcx = n; rcx != 0; rcx--) {
            rax += rcx;
            rax = Long.rotateLeft(rax, 7);
            rax ^= rcx;
        }
        return rax;
    }

    @Test
    void kickFromAnotherThreadEndsARunThatNeverExits() throws Exception {
        try (RealModeGuest g = new RealModeGuest()) {
            g.enter(RealModeGuest.SPIN);
            AtomicReference<KvmExit> result = new AtomicReference<>();
            Thread t = new Thread(() -> {
                g.vcpu.bindToCurrentThread();
                g.vcpu.setKickable(true);
                result.set(g.vcpu.run());
                g.vcpu.setKickable(false);
            });
            t.start();
            Thread.sleep(200);
            long t0 = System.nanoTime();
            g.vcpu.kick();
            t.join(5000);
            long micros = (System.nanoTime() - t0) / 1000;
            assertInstanceOf(KvmExit.Intr.class, result.get(), "run ended by the kick");
            assertTrue(micros < 2_000_000, "kick took " + micros + " us");
        }
    }

    @Test
    void timeSliceEndsARunThatNeverExits() throws Exception {
        try (RealModeGuest g = new RealModeGuest()) {
            g.enter(RealModeGuest.SPIN);
            g.vcpu.bindToCurrentThread();
            g.vcpu.setKickable(true);
            g.vcpu.timeSlice(5_000_000);
            KvmExit e = g.vcpu.run();
            g.vcpu.timeSlice(0);
            g.vcpu.setKickable(false);
            g.vcpu.acknowledgeKicks();
            assertInstanceOf(KvmExit.Intr.class, e);
            // A kick between runs makes the next run return at once.
            g.vcpu.kick();
            assertInstanceOf(KvmExit.Intr.class, g.vcpu.run());
            g.vcpu.acknowledgeKicks();
        }
    }

    @Test
    void registersRoundTripThroughTheKernel() {
        try (RealModeGuest g = new RealModeGuest()) {
            long[] gpr = new long[16];
            for (int i = 0; i < 16; i++) {
                gpr[i] = 0x1111_0000_0000_0000L * (i + 1) + i;
            }
            Regs regs = new Regs(gpr, 0x1234, 0x2 | 0x200 | 0x1);
            g.vcpu.setRegs(regs);
            assertEquals(regs, g.vcpu.getRegs());
            Sregs s = g.vcpu.getSregs();
            Segment cs = Segment.fromAccessRights(0x08, 0, 0xFFFF_FFFF, 0xC09B);
            Segment ds = Segment.fromAccessRights(0x10, 0, 0xFFFF_FFFF, 0xC093);
            Sregs want = new Sregs(cs, ds, ds, ds, ds, ds, s.tr(), s.ldt(), new Dtable(0x5000, 0x17),
                    new Dtable(0x6000, 0x7FF), 0x11 | 0x6000_0000L & 0, 0xABC000, 0, 0, 0, 0, s.apicBase(), new long[4]);
            g.vcpu.setSregs(want);
            Sregs got = g.vcpu.getSregs();
            assertEquals(want.cs(), got.cs());
            assertEquals(want.ss(), got.ss());
            assertEquals(want.gdt(), got.gdt());
            assertEquals(want.idt(), got.idt());
            assertEquals(want.cr2(), got.cr2());
            byte[] fpr = new byte[128];
            for (int i = 0; i < 8; i++) {
                fpr[i * 16] = (byte) (i + 1);
                fpr[i * 16 + 7] = (byte) 0x80; // integer bit
                fpr[i * 16 + 8] = (byte) 0xFF;
                fpr[i * 16 + 9] = 0x3F;
            }
            byte[] xmm = new byte[256];
            for (int i = 0; i < 256; i++) {
                xmm[i] = (byte) (i * 7);
            }
            Fpu fpu = new Fpu(fpr, 0x37F, 0x3800, 0xFF, 0x1DE, 0x1234, 0x5678, xmm, 0x1F80);
            g.vcpu.setFpu(fpu);
            Fpu f = g.vcpu.getFpu();
            assertEquals(fpu.fcw(), f.fcw());
            assertEquals(fpu.ftwx(), f.ftwx());
            // (kvm_pvm answers KVM_GET_FPU with MXCSR 0; the engine uses KVM_GET/SET_XSAVE, checked below)
            assertTrue(java.util.Arrays.equals(fpu.xmm(), f.xmm()));
            assertTrue(java.util.Arrays.equals(fpu.fpr(), f.fpr()));
            byte[] xsave = g.vcpu.getXsave();
            java.nio.ByteBuffer xb = java.nio.ByteBuffer.wrap(xsave).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            xb.putInt(24, 0x1FA0); // MXCSR in the legacy area
            xb.putLong(512, xb.getLong(512) | 3); // XSTATE_BV: x87 and SSE present
            g.vcpu.setXsave(xsave);
            assertEquals(0x1FA0, java.nio.ByteBuffer.wrap(g.vcpu.getXsave()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(24));
            DebugRegs dr = new DebugRegs(new long[] {0x1000, 0x2000, 0x3000, 0x4000}, 0xFFFF0FF0L, 0x400, 0);
            g.vcpu.setDebugRegs(dr);
            DebugRegs d = g.vcpu.getDebugRegs();
            assertTrue(java.util.Arrays.equals(dr.db(), d.db()));
            assertEquals(dr.dr7(), d.dr7());
            int[] msrs = {0x174, 0x175, 0x176};
            long[] vals = {0x8, 0x9000, 0xC0DE};
            assertEquals(3, g.vcpu.setMsrs(msrs, vals));
            long[] back = new long[3];
            assertEquals(3, g.vcpu.getMsrs(msrs, back));
            assertTrue(java.util.Arrays.equals(vals, back), java.util.Arrays.toString(back));
            VcpuEvents ev = g.vcpu.getVcpuEvents();
            VcpuEvents shadow = new VcpuEvents(false, 0, false, false, 0, true, 0x30, false, VcpuEvents.SHADOW_STI,
                    false, true, true, 0, VcpuEvents.VALID_SHADOW | VcpuEvents.VALID_NMI_PENDING, 0, false, false, 0);
            g.vcpu.setVcpuEvents(shadow);
            VcpuEvents e2 = g.vcpu.getVcpuEvents();
            assertTrue(e2.interruptInjected());
            assertEquals(0x30, e2.interruptNr());
            assertEquals(VcpuEvents.SHADOW_STI, e2.interruptShadow());
            assertTrue(e2.nmiPending());
            assertTrue(e2.nmiMasked());
            assertTrue(ev != null);
        }
    }

    @Test
    void manyVmsComeAndGoWithoutLeakingDescriptorsOrMappings() throws IOException {
        // Warm up (JNA, the class loader) before counting.
        try (RealModeGuest g = new RealModeGuest()) {
            g.enter(RealModeGuest.START);
            g.vcpu.run();
        }
        long fds = openFds();
        long maps = mappings();
        for (int i = 0; i < 200; i++) {
            try (RealModeGuest g = new RealModeGuest()) {
                g.enter(RealModeGuest.START);
                assertInstanceOf(KvmExit.Io.class, g.vcpu.run());
            }
        }
        // A leak would show as 200 or more; allow the JVM and the test runner a few of their own.
        assertTrue(openFds() - fds < 5, "open descriptors went from " + fds + " to " + openFds() + " after 200 VMs");
        assertTrue(mappings() <= maps + 4, "mappings grew from " + maps + " to " + mappings());
    }

    static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    static long mappings() throws IOException {
        try (Stream<String> s = Files.lines(Path.of("/proc/self/maps"))) {
            return s.filter(l -> l.contains("kvm-vcpu")).count();
        }
    }
}
