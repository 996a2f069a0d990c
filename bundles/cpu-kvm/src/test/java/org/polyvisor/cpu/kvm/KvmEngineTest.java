package org.polyvisor.cpu.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.kvm.internal.Engines;
import org.polyvisor.cpu.kvm.internal.KvmStrategy;
import org.polyvisor.kvm.HostProbe;
import org.polyvisor.kvm.Kvm;
import org.polyvisor.time.ClockMode;

/** The kvm engine on the real /dev/kvm with small real-mode and long-mode guests. */
class KvmEngineTest {

    private final KvmStrategy strategy = new KvmStrategy();

    @BeforeEach
    void needKvm() {
        assumeTrue(Files.exists(Path.of(Kvm.DEVICE)), "/dev/kvm not present");
        String problem = HostProbe.openCheck(Path.of(Kvm.DEVICE));
        assumeTrue(problem == null, problem);
    }

    private CpuEngine engine(TestVcpu ctx, CpuState start) {
        CpuEngine e = strategy.createEngine(ctx);
        e.importState(start);
        return e;
    }

    @Test
    void portAndMmioExitsGoThroughTheBusesAndHltHalts() {
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadReal(ctx.ram());
        ctx.portReadValue = 0x5A;
        ctx.mmioReadValue = 0xCAFE_BABEL;
        try (CpuEngine e = engine(ctx, Guests.real(Guests.REAL_START))) {
            Exit x = runToEvent(e);
            assertInstanceOf(Exit.Halted.class, x, x.toString());
            assertEquals("[Access[write=true, address=1016, size=1, value=65], Access[write=false, address=96, size=1, value=0]]",
                    ctx.ports.toString());
            assertEquals("[Access[write=true, address=851968, size=4, value=305419896], Access[write=false, address=851972, size=4, value=0]]",
                    ctx.mmio.toString());
            CpuState s = e.exportState();
            assertEquals(0x5A, s.gpr(CpuState.RBX) & 0xFF);
            assertEquals(0xCAFE_BABEL, s.gpr(CpuState.RCX) & 0xFFFF_FFFFL);
            assertEquals(ActivityState.HALTED, s.activity());
            assertEquals(Guests.REAL_SPIN, s.rip());
            assertEquals(0L, e.instructionsRetired(), "KVM does not count instructions");
            assertTrue(e.stats().get("kvm-exit-io") == 2 && e.stats().get("kvm-exit-mmio") == 2, e.stats().toString());
        }
    }

    @Test
    void interruptFromTheControllerIsInjectedWhenTheGuestCanTakeIt() {
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadReal(ctx.ram());
        try (CpuEngine e = engine(ctx, Guests.real(Guests.REAL_IRQLOOP))) {
            assertInstanceOf(Exit.Halted.class, runToEvent(e));
            assertInstanceOf(Exit.Halted.class, runToEvent(e), "stays halted without an interrupt");
            assertTrue(ctx.ports.isEmpty());
            for (int i = 1; i <= 3; i++) {
                ctx.pendingVector = 0x20;
                Exit x = runToEvent(e);
                assertInstanceOf(Exit.Halted.class, x, x.toString());
                assertEquals(i, ctx.ports.size(), "handler ran: " + ctx.ports);
                assertEquals(0x80, ctx.ports.peek().address());
                assertEquals(0x42, ctx.ports.peek().value());
            }
            assertEquals(3L, e.stats().get("interrupts-injected"));
        }
    }

    @Test
    void interruptWaitsWhileTheGuestHasInterruptsDisabled() {
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadReal(ctx.ram());
        // halted at the spin loop with IF = 0: an interrupt must not wake it
        CpuState halted = Guests.real(Guests.REAL_SPIN).toBuilder().activity(ActivityState.HALTED).rflags(0x2).build();
        try (CpuEngine e = engine(ctx, halted)) {
            ctx.pendingVector = 0x20;
            assertInstanceOf(Exit.Halted.class, runToEvent(e));
            assertEquals(0x20, ctx.pendingVector, "not acknowledged");
        }
    }

    @Test
    void interruptWaitingForTheGuestToEnableInterruptsGoesInAtTheWindowExit() {
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadReal(ctx.ram());
        // CLI, a loop, STI: the interrupt is pending from the start, and KVM_INTERRUPT may only
        // come once KVM_EXIT_IRQ_WINDOW_OPEN says the guest can take it.
        try (CpuEngine e = engine(ctx, Guests.real(Guests.REAL_WINDOW).toBuilder().rflags(0x2).build())) {
            ctx.pendingVector = 0x20;
            for (int i = 0; i < 5000 && ctx.ports.isEmpty(); i++) {
                Exit x = e.run(1000);
                assertInstanceOf(Exit.BudgetSpent.class, x, x.toString());
            }
            assertEquals(1, ctx.ports.size(), "the handler ran once: " + ctx.ports);
            assertEquals(0x80, ctx.ports.peek().address());
            assertEquals(-1, ctx.pendingVector, "acknowledged");
            assertEquals(1L, e.stats().get("kvm-exit-irq-window"), e.stats().toString());
            assertEquals(1L, e.stats().get("interrupts-injected"));
            CpuState s = e.exportState();
            assertEquals(0, s.gpr(CpuState.RCX) & 0xFFFF, "the loop under CLI had finished");
        }
    }

    @Test
    void tripleFaultShutsDownWithKvmsReason() {
        TestVcpu ctx = new TestVcpu(2 << 20);
        Guests.loadLong(ctx.ram());
        try (CpuEngine e = engine(ctx, Guests.longMode(Guests.LONG_TRIPLE, true, 0))) {
            Exit x = runToEvent(e);
            Exit.Shutdown s = assertInstanceOf(Exit.Shutdown.class, x, x.toString());
            // RIP is the int3's (0x101e) or, for this trap-like exception, the next instruction's
            assertTrue(s.message().matches("triple fault at 001b:0000101[ef] \\(KVM_EXIT_SHUTDOWN\\)"), s.message());
            assertEquals(ActivityState.SHUTDOWN, e.exportState().activity());
            assertInstanceOf(Exit.Shutdown.class, runToEvent(e), "stays shut down");
        }
    }

    @Test
    void internalErrorOrShutdownEndsTheRunWithKvmsReason() {
        // Ring-0 int3 through an empty IDT: real hardware shuts down; kvm_pvm's emulator reports an
        // internal error. Either way the engine says what KVM said, and nothing else breaks.
        TestVcpu ctx = new TestVcpu(2 << 20);
        Guests.loadLong(ctx.ram());
        try (CpuEngine e = engine(ctx, Guests.longMode(Guests.LONG_TRIPLE, false, 0))) {
            Exit x = runToEvent(e);
            if (x instanceof Exit.EngineFault f) {
                assertTrue(f.message().startsWith("kvm: KVM_EXIT_INTERNAL_ERROR: "), f.message());
                assertTrue(f.message().endsWith(" at 0008:0000101e"), f.message());
            } else {
                assertInstanceOf(Exit.Shutdown.class, x, x.toString());
            }
        }
    }

    @Test
    void stateRoundTripsThroughKvm() {
        TestVcpu ctx = new TestVcpu(2 << 20);
        Guests.loadLong(ctx.ram());
        CpuState s = Guests.longMode(Guests.LONG_COMPUTE, true, 77).toBuilder()
                .msr(0x174, 0x10).msr(0x175, 0x7000).msr(0x176, 0x1234)
                .dr(0, 0x1000).dr(7, 0x401).cr2(0xABC000).interruptShadow(CpuState.SHADOW_STI).tsc(1_000_000)
                .build();
        try (CpuEngine e = engine(ctx, s)) {
            CpuState back = e.exportState();
            // The TSC never goes backwards. Real KVM takes the imported value (the guest sees it
            // continue); kvm_pvm ignores writes to IA32_TIME_STAMP_COUNTER, so the guest sees the host's.
            assertTrue(back.tsc() >= s.tsc(), "tsc went back from " + s.tsc() + " to " + back.tsc());
            if (back.tsc() - s.tsc() > 10_000_000_000L) {
                System.out.println("note: this KVM did not take the imported TSC (" + s.tsc() + " -> " + back.tsc() + ")");
            }
            assertEquals(s.toString(), back.toBuilder().tsc(s.tsc()).build().toString());
            assertEquals(s, back.toBuilder().tsc(s.tsc()).msrs(s.msrs()).build());
            assertEquals(s.msrs(), back.msrs());
        }
        // real mode, as the demo guest starts
        TestVcpu ctx2 = new TestVcpu(512 << 10);
        CpuState r = CpuState.powerOn(0x600);
        try (CpuEngine e = engine(ctx2, r)) {
            CpuState back = e.exportState();
            // SYSENTER_CS/ESP/EIP are always exported (as the interpreter does), zero here
            assertEquals(java.util.Map.of(0x174, 0L, 0x175, 0L, 0x176, 0L), back.msrs());
            assertEquals(r, back.toBuilder().tsc(r.tsc()).msrs(r.msrs()).build());
        }
    }

    /**
     * Every part of the state through the kernel and back: segment caches (FS/GS bases, an unusable
     * LDT), control registers with CR8, EFER, the long-mode MSRs and PAT, x87/SSE registers through
     * KVM_GET/SET_XSAVE, a pending exception with its error code or an injected interrupt with a
     * pending, blocked NMI, both kinds of interrupt shadow, debug registers, and the TSC.
     */
    @Test
    void everyPartOfTheStateRoundTripsThroughKvm() {
        byte[] st = new byte[80];
        for (int i = 0; i < 8; i++) {
            st[10 * i] = (byte) (0x11 * (i + 1));
            st[10 * i + 7] = (byte) 0x80; // integer bit: a valid number
            st[10 * i + 8] = (byte) (0x30 + i);
            st[10 * i + 9] = 0x40;
        }
        long[] xmm = new long[32];
        for (int i = 0; i < 32; i++) {
            xmm[i] = 0x0F1E_2D3C_4B5A_6978L * (i + 3);
        }
        // TOP = 3, every register valid; long mode: 64-bit FPU instruction and data pointers
        org.polyvisor.cpu.FpuState fpu = new org.polyvisor.cpu.FpuState(0x037A, 3 << 11 | 0x20, 0, 0x1D9,
                0x0000_7FFF_0010_2030L, 0, 0x0000_7FFF_0040_5060L, 0, st, xmm, 0x1FA0);
        CpuState base = Guests.longMode(Guests.LONG_COMPUTE, false, 77);
        CpuState.Builder b = base.toBuilder()
                .segment(CpuState.FS, new org.polyvisor.cpu.SegmentRegister(0x10, 0x7000_1000L, 0xFFFF_FFFF, 0xC093))
                .segment(CpuState.GS, new org.polyvisor.cpu.SegmentRegister(0x10, 0xFFFF_8000_0000_2000L, 0xFFFF_FFFF, 0xC093))
                .cr2(0xFFFF_8000_DEAD_B000L).cr8(5)
                .msr(0x174, 0x10).msr(0x175, 0x7000).msr(0x176, 0x1234)
                .msr(0xC000_0081, 0x0023_0010_0000_0000L).msr(0xC000_0082, 0xFFFF_FFFF_8100_0000L)
                .msr(0xC000_0083, 0xFFFF_FFFF_8100_1000L).msr(0xC000_0084, 0x4_7700)
                .msr(0xC000_0102, 0xFFFF_8880_0000_0000L).msr(0x277, 0x0007_0106_0007_0106L)
                .dr(0, 0x1000).dr(1, 0x2000).dr(2, 0x3000).dr(3, 0x4000).dr(6, 0xFFFF_0FF1L).dr(7, 0x0000_0402L)
                .fpu(fpu).tsc(5_000_000);
        CpuState pendingFault = b.events(new org.polyvisor.cpu.PendingEvents(14, 0x6, true, -1, false, false))
                .interruptShadow(CpuState.SHADOW_MOV_SS).build();
        CpuState injected = b.events(new org.polyvisor.cpu.PendingEvents(-1, 0, false, 0x30, true, true))
                .interruptShadow(CpuState.SHADOW_STI).rflags(0x202).build();
        for (CpuState s : new CpuState[] {pendingFault, injected}) {
            TestVcpu ctx = new TestVcpu(2 << 20);
            Guests.loadLong(ctx.ram());
            try (CpuEngine e = engine(ctx, s)) {
                CpuState back = e.exportState();
                assertTrue(back.tsc() >= s.tsc(), "tsc went back from " + s.tsc() + " to " + back.tsc());
                assertEquals(s.fpu(), back.fpu());
                assertEquals(s.events(), back.events());
                assertEquals(s.interruptShadow(), back.interruptShadow());
                assertEquals(s.msrs(), back.msrs());
                assertEquals(s.toString(), back.toBuilder().tsc(s.tsc()).build().toString());
                assertEquals(s, back.toBuilder().tsc(s.tsc()).build());
                // and once more: what came out goes in and comes out the same
                e.importState(back);
                assertEquals(back, e.exportState().toBuilder().tsc(back.tsc()).build());
            }
        }
    }

    /**
     * 32-bit paging: where this KVM runs it (VT-x, AMD-V), a paged guest's OUT arrives; where it
     * cannot (kvm_pvm ends it in KVM_EXIT_SHUTDOWN), importing such a state is refused with the
     * reason, so a swap to kvm keeps the old engine, and a guest that turns paging on itself stops
     * with that reason instead of a triple fault.
     */
    @Test
    void thirtyTwoBitPagingRunsOrIsRefusedWithTheHostsReason() {
        boolean pvm = "kvm_pvm".equals(strategy.hostFeatures().get("kvm-module"));
        String limit = "this host's KVM cannot run 32-bit code with paging on (a test guest with 2-level paging"
                + " ended in KVM_EXIT_SHUTDOWN at its first instruction)";
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadProt32(ctx.ram());
        ctx.stopPort = 0xF1;
        try (CpuEngine e = strategy.createEngine(ctx)) {
            ctx.onPortWrite = e::requestExit;
            CpuState paged = Guests.prot32(Guests.PROT32_PAGED, true);
            if (pvm) {
                IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.importState(paged));
                assertEquals("kvm: " + limit + "; the state has paging on (CR0 80000011) without long mode (EFER 0)",
                        x.getMessage());
            } else {
                e.importState(paged);
                assertInstanceOf(Exit.Requested.class, runToEvent(e));
                assertEquals(0xF1, ctx.ports.poll().address());
            }
            // Unpaged 32-bit code runs everywhere; then it turns paging on.
            e.importState(Guests.prot32(Guests.PROT32_ENABLE_PAGING, false));
            Exit x = runToEvent(e);
            if (pvm) {
                Exit.EngineFault f = assertInstanceOf(Exit.EngineFault.class, x, x.toString());
                assertTrue(f.message().startsWith("kvm: KVM_EXIT_SHUTDOWN with 32-bit paging on: " + limit + " at 0008:0000180"),
                        f.message());
            } else {
                assertInstanceOf(Exit.Requested.class, x, x.toString());
                assertEquals(0xF1, ctx.ports.poll().address());
            }
        }
    }

    @Test
    void requestExitFromAnotherThreadEndsAGuestThatNeverExits() throws Exception {
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadReal(ctx.ram());
        try (CpuEngine e = engine(ctx, Guests.real(Guests.REAL_SPIN))) {
            AtomicReference<Exit> got = new AtomicReference<>();
            long[] slices = new long[1];
            Thread t = new Thread(() -> {
                Exit x;
                while ((x = e.run(1000)) instanceof Exit.BudgetSpent) {
                    slices[0]++;
                }
                got.set(x);
            });
            t.start();
            Thread.sleep(300);
            long t0 = System.nanoTime();
            e.requestExit();
            t.join(10_000);
            long micros = (System.nanoTime() - t0) / 1000;
            assertInstanceOf(Exit.Requested.class, got.get());
            assertTrue(micros < 1_000_000, "returned after " + micros + " us");
            assertTrue(slices[0] > 10, "time slices while spinning: " + slices[0]);
            // not running: the next run returns at once
            e.requestExit();
            assertInstanceOf(Exit.Requested.class, runToEvent(e));
        }
    }

    @Test
    void ring3ComputeLoopRunsThroughTimeSlicesToTheRightResult() {
        TestVcpu ctx = new TestVcpu(2 << 20);
        Guests.loadLong(ctx.ram());
        long n = 50_000_000L; // its speed against native code is bench/kvm's business, not a test's
        try (CpuEngine e = engine(ctx, Guests.longMode(Guests.LONG_COMPUTE, true, n))) {
            ctx.stopPort = 0xF1;
            ctx.onPortWrite = e::requestExit; // the loop's end: OUT 0xF1
            long t0 = System.nanoTime();
            Exit x;
            int slices = 0;
            while ((x = e.run(1000)) instanceof Exit.BudgetSpent) {
                slices++;
            }
            long guestNanos = System.nanoTime() - t0;
            assertInstanceOf(Exit.Requested.class, x);
            CpuState s = e.exportState();
            assertEquals(Guests.compute(n), s.gpr(CpuState.RAX), "the guest computed what Java computes");
            long t1 = System.nanoTime();
            long java = Guests.compute(n);
            long javaNanos = System.nanoTime() - t1;
            System.out.printf("ring-3 compute loop, %d iterations: guest %.1f ms (%d slices), same loop in Java %.1f ms (%d)%n",
                    n, guestNanos / 1e6, slices, javaNanos / 1e6, java & 1);
        }
    }

    @Test
    void deterministicClockIsRefusedWithTheReason() {
        TestVcpu ctx = new TestVcpu(512 << 10);
        ctx.clockMode = ClockMode.DETERMINISTIC;
        IllegalStateException x = assertThrows(IllegalStateException.class, () -> strategy.createEngine(ctx));
        assertEquals("kvm: KVM runs guest code on the CPU and cannot count instructions, so it cannot drive the"
                + " deterministic clock; use clock=realtime", x.getMessage());
    }

    @Test
    void manyEnginesComeAndGoWithoutLeakingDescriptors() throws IOException {
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadReal(ctx.ram());
        try (CpuEngine e = engine(ctx, Guests.real(Guests.REAL_START))) {
            runToEvent(e);
        }
        long fds = openFds();
        long maps = lines("/proc/self/maps", "kvm-vcpu");
        long timers = lines("/proc/self/timers", "ID:");
        for (int i = 0; i < 100; i++) {
            TestVcpu c = new TestVcpu(512 << 10);
            Guests.loadReal(c.ram());
            try (CpuEngine e = engine(c, Guests.real(Guests.REAL_START))) {
                assertInstanceOf(Exit.Halted.class, runToEvent(e));
            }
        }
        assertTrue(openFds() - fds < 5, "descriptors went from " + fds + " to " + openFds() + " over 100 engines");
        assertEquals(maps, lines("/proc/self/maps", "kvm-vcpu"), "vCPU run areas still mapped");
        // each engine's time-slice timer (timer_create on the vCPU thread) is deleted with it
        assertEquals(timers, lines("/proc/self/timers", "ID:"), "POSIX timers left behind");
        assertEquals(0, Engines.openVms());
    }

    @Test
    void twoEnginesForTheSameVcpuCoexistDuringASwap() {
        TestVcpu ctx = new TestVcpu(512 << 10);
        Guests.loadReal(ctx.ram());
        CpuEngine a = engine(ctx, Guests.real(Guests.REAL_START));
        CpuEngine b = strategy.createEngine(ctx); // as Machine.swapCpu does: new before old closes
        b.importState(a.exportState());
        a.close();
        assertInstanceOf(Exit.Halted.class, runToEvent(b));
        b.close();
        assertEquals(0, Engines.openVms());
        assertFalse(ctx.ports.isEmpty());
    }

    /** Runs past time slices. */
    static Exit runToEvent(CpuEngine e) {
        Exit x;
        do {
            x = e.run(1000);
        } while (x instanceof Exit.BudgetSpent);
        return x;
    }

    /** Counts the lines of a /proc file that contain a word (0 if the file is missing). */
    static long lines(String file, String word) throws IOException {
        Path p = Path.of(file);
        if (!Files.exists(p)) {
            return 0;
        }
        try (Stream<String> s = Files.lines(p)) {
            return s.filter(l -> l.contains(word)).count();
        }
    }

    static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
