import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.polyvisor.kvm.Dtable;
import org.polyvisor.kvm.Kvm;
import org.polyvisor.kvm.KvmExit;
import org.polyvisor.kvm.Regs;
import org.polyvisor.kvm.Segment;
import org.polyvisor.kvm.VcpuFd;
import org.polyvisor.kvm.VmFd;

/**
 * The Java side of bench/kvm/run: the same guest and ioctls as exitcost.c, through Polyvisor's
 * KVM binding (JNA direct mapping). Prints "java io-exit-ns", "java guest-loop-ms" and the result.
 *
 *   java -cp kvm.jar:jna.jar:. KvmBench IO_EXITS LOOP_ITERATIONS
 */
public final class KvmBench {

    static final byte[] CODE = {
        (byte) 0xe6, (byte) 0xf0, 0x48, (byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xf9, (byte) 0xe6, (byte) 0xf1,
        (byte) 0xeb, (byte) 0xf5, 0x48, 0x01, (byte) 0xc8, 0x48, (byte) 0xc1, (byte) 0xc0, 0x07, 0x48, 0x31,
        (byte) 0xc8, 0x48, (byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xf1, (byte) 0xe6, (byte) 0xf1, (byte) 0xeb,
        (byte) 0xed, (byte) 0xcc, (byte) 0xeb, (byte) 0xfe
    };

    private static VcpuFd vcpu;

    public static void main(String[] args) {
        long exits = args.length > 0 ? Long.parseLong(args[0]) : 200_000;
        long iters = args.length > 1 ? Long.decode(args[1]) : 1_000_000_000L;
        ByteBuffer ram = ByteBuffer.allocateDirect((2 << 20) + 4096).alignedSlice(4096).slice(0, 2 << 20)
                .order(ByteOrder.LITTLE_ENDIAN);
        ram.put(0x1000, CODE);
        ram.putLong(0x10000, 0x11000 | 7).putLong(0x11000, 0x12000 | 7).putLong(0x12000, 0x87);
        long[] gdt = {0, 0x00AF_9B00_0000_FFFFL, 0x00CF_9300_0000_FFFFL, 0x00AF_FB00_0000_FFFFL,
            0x00CF_F300_0000_FFFFL, 0x0000_8B01_5000_0067L, 0};
        for (int i = 0; i < gdt.length; i++) {
            ram.putLong(0x13000 + 8 * i, gdt[i]);
        }
        ram.putLong(0x15004, 0x70000);
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm()) {
            vm.setUserMemoryRegion(0, 0, 0, ram);
            vcpu = vm.createVcpu(0);
            vcpu.setCpuid(kvm.supportedCpuid());

            // I/O exit round trips; warm up first (JIT, page faults), as the C side does
            long n = 0;
            for (int round = 0; round < 5; round++) {
                enter(0x00, 20_000);
                while (runToIo() == 0xF0) {
                    n++;
                }
            }
            enter(0x00, exits);
            long t0 = System.nanoTime();
            long seen = 0;
            while (runToIo() == 0xF0) {
                seen++;
            }
            long t1 = System.nanoTime();
            System.out.println("java io-exits " + seen);
            System.out.printf("java io-exit-ns %.0f%n", (t1 - t0) / (double) seen);

            enter(0x0b, iters);
            t0 = System.nanoTime();
            if (runToIo() != 0xF1) {
                throw new IllegalStateException("compute did not end on port 0xf1");
            }
            t1 = System.nanoTime();
            System.out.printf("java guest-loop-ms %.1f%n", (t1 - t0) / 1e6);
            System.out.printf("java guest-loop-result %016x%n", vcpu.getRegs().gpr(0));
        }
    }

    private static int runToIo() {
        KvmExit e = vcpu.run();
        if (e instanceof KvmExit.Io io) {
            return io.port();
        }
        throw new IllegalStateException("unexpected exit " + e);
    }

    private static void enter(int entry, long rcx) {
        vcpu.setSregs(vcpu.getSregs().flat(Segment.fromAccessRights(0x1B, 0, 0xFFFF_FFFF, 0xA0FB),
                Segment.fromAccessRights(0x23, 0, 0xFFFF_FFFF, 0xC0F3), Segment.fromAccessRights(0x28, 0x15000, 0x67, 0x8B),
                new Dtable(0x13000, 0x37), new Dtable(0x14000, 0), 0x8000_0033L, 0x10000, 0x20, 0x500));
        long[] g = new long[16];
        g[4] = 0x7F000;
        g[1] = rcx;
        vcpu.setRegs(new Regs(g, 0x1000 + entry, 0x3002));
    }
}
