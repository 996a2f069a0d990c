package org.polyvisor.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.polyvisor.kvm.internal.KvmAbi;

/**
 * Decoding of {@code struct kvm_run} exits that this machine's KVM cannot be made to produce (a failed
 * entry, a hypercall exit under kvm_pvm), from areas laid out as {@code <linux/kvm.h>} says.
 */
class KvmExitDecodeTest {

    private static final int D = KvmAbi.RUN_EXIT_DATA;

    private static ByteBuffer run(int reason) {
        ByteBuffer b = ByteBuffer.allocate(KvmAbi.RUN_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(KvmAbi.RUN_EXIT_REASON, reason);
        return b;
    }

    @Test
    void hypercallCarriesItsNumberAndArguments() {
        ByteBuffer b = run(KvmExit.HYPERCALL);
        b.putLong(D, 12); // nr
        for (int i = 0; i < 6; i++) {
            b.putLong(D + 8 + 8 * i, 0x100 + i); // args[i]
        }
        b.putLong(D + 56, 0xBAD); // ret, written by userspace: not an argument
        KvmExit.Hypercall h = assertInstanceOf(KvmExit.Hypercall.class, VcpuFd.decode(b));
        assertEquals(12, h.nr());
        assertArrayEquals(new long[] {0x100, 0x101, 0x102, 0x103, 0x104, 0x105}, h.args());
        assertEquals("KVM_EXIT_HYPERCALL", h.name());
        assertEquals(KvmAbi.RUN_HYPERCALL_RET, D + 56);
    }

    @Test
    void failedEntryCarriesTheHardwareReasonAndCpu() {
        ByteBuffer b = run(KvmExit.FAIL_ENTRY);
        b.putLong(D, 0x8000_0021L); // VMX: entry failure, invalid guest state
        b.putInt(D + 8, 3);
        KvmExit.FailEntry f = assertInstanceOf(KvmExit.FailEntry.class, VcpuFd.decode(b));
        assertEquals(0x8000_0021L, f.hardwareEntryFailureReason());
        assertEquals(3, f.cpu());
    }

    @Test
    void internalErrorCarriesItsSuberrorAndData() {
        ByteBuffer b = run(KvmExit.INTERNAL_ERROR);
        b.putInt(D, 1); // KVM_INTERNAL_ERROR_EMULATION
        b.putInt(D + 4, 2); // ndata
        b.putLong(D + 8, 0xAB);
        b.putLong(D + 16, 0xCD);
        KvmExit.InternalError e = assertInstanceOf(KvmExit.InternalError.class, VcpuFd.decode(b));
        assertEquals("emulation failure [ab cd]", e.describe());
    }

    @Test
    void unknownReasonsKeepTheirNumber() {
        KvmExit e = VcpuFd.decode(run(29));
        assertInstanceOf(KvmExit.Other.class, e);
        assertEquals("KVM_EXIT_X86_RDMSR", e.name());
    }
}
