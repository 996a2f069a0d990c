package org.polyvisor.cpu.kvm.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.polyvisor.kvm.Dtable;
import org.polyvisor.kvm.Kvm;
import org.polyvisor.kvm.KvmException;
import org.polyvisor.kvm.KvmExit;
import org.polyvisor.kvm.Regs;
import org.polyvisor.kvm.Segment;
import org.polyvisor.kvm.VcpuFd;
import org.polyvisor.kvm.VmFd;

/**
 * Finds out, once per process and only when a 32-bit paged guest meets KVM, whether this host's
 * KVM can run 32-bit code with paging on: some backends cannot (kvm_pvm ends such a guest in
 * {@code KVM_EXIT_SHUTDOWN}, with 2-level and PAE paging alike). It runs a test guest of one
 * instruction ({@code out %al,$0xf1} at CPL 0, 2-level paging, the code page mapped by a page
 * table) on a throwaway VM, so the engine can refuse such a state with the reason, and name the
 * reason when a guest enables paging itself, instead of reporting a triple fault.
 */
final class Paging32Probe {

    private static final Object LOCK = new Object();
    /** null: not probed yet; "": works; else why not. */
    private static String verdict;

    private Paging32Probe() {
    }

    /**
     * Returns why this host's KVM cannot run 32-bit paged code, probing on the first call.
     *
     * @return null if it can (or the probe could not tell), else the reason
     */
    static String problem() {
        synchronized (LOCK) {
            if (verdict == null) {
                verdict = probe();
            }
            return verdict.isEmpty() ? null : verdict;
        }
    }

    /** Whether a state runs 32-bit code with paging on (CR0.PG set, EFER.LMA clear). */
    static boolean paged32(long cr0, long efer) {
        return (cr0 & 0x8000_0000L) != 0 && (efer & (1L << 10)) == 0;
    }

    private static String probe() {
        ByteBuffer ram = ByteBuffer.allocateDirect((64 << 10) + 4096).alignedSlice(4096).slice(0, 64 << 10)
                .order(ByteOrder.LITTLE_ENDIAN);
        ram.put(0x1000, new byte[] {(byte) 0xe6, (byte) 0xf1, (byte) 0xeb, (byte) 0xfe}); // out %al,$0xf1; jmp .
        ram.putInt(0x2000, 0x3000 | 0x7); // PDE 0 -> page table at 0x3000
        ram.putInt(0x3000 + 4, 0x1000 | 0x7); // PTE 1 -> the code page
        KvmExit[] result = new KvmExit[1];
        RuntimeException[] failure = new RuntimeException[1];
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm()) {
            vm.setUserMemoryRegion(0, 0, 0, ram);
            VcpuFd vcpu = vm.createVcpu(0);
            vcpu.setCpuid(kvm.supportedCpuid());
            vcpu.setSregs(vcpu.getSregs().flat(Segment.fromAccessRights(0x08, 0, 0xFFFF_FFFF, 0xC09B),
                    Segment.fromAccessRights(0x10, 0, 0xFFFF_FFFF, 0xC093), Segment.fromAccessRights(0x18, 0x4000, 0x67, 0x8B),
                    new Dtable(0, 0), new Dtable(0, 0), 0x8000_0011L, 0x2000, 0, 0)); // PE, ET, PG
            vcpu.setRegs(new Regs(new long[16], 0x1000, 0x2));
            // On a thread of its own: binding a vCPU changes the calling thread's signal mask.
            Thread t = new Thread(() -> {
                try {
                    vcpu.bindToCurrentThread();
                    vcpu.setKickable(true);
                    vcpu.timeSlice(20_000_000);
                    for (int i = 0; i < 50 && result[0] == null; i++) {
                        KvmExit e = vcpu.run();
                        if (e instanceof KvmExit.Intr) {
                            vcpu.acknowledgeKicks();
                        } else {
                            result[0] = e;
                        }
                    }
                    vcpu.timeSlice(0);
                    vcpu.setKickable(false);
                } catch (RuntimeException e) {
                    failure[0] = e;
                }
            }, "kvm-paging32-probe");
            t.start();
            t.join();
        } catch (KvmException e) {
            return ""; // cannot tell: let the guest try
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
        if (result[0] instanceof KvmExit.Shutdown) {
            return "this host's KVM cannot run 32-bit code with paging on (a test guest with 2-level paging ended"
                    + " in KVM_EXIT_SHUTDOWN at its first instruction)";
        }
        return "";
    }
}
