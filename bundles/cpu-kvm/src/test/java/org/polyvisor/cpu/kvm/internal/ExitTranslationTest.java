package org.polyvisor.cpu.kvm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.Exit;
import org.polyvisor.kvm.KvmExit;

/**
 * What the VMM sees of the KVM exits that end a run, including those this machine's KVM cannot be
 * made to produce (a failed entry; a hypercall exit under kvm_pvm): the VM stops with KVM's reason.
 */
class ExitTranslationTest {

    private static Exit translate(KvmExit e) {
        return KvmEngine.translate(e, () -> "0008:00001000");
    }

    @Test
    void hypercallGoesToTheVmmWithItsNumber() {
        assertEquals(new Exit.Hypercall(12), translate(new KvmExit.Hypercall(12, new long[6])));
    }

    @Test
    void failedEntryStopsTheVmWithTheHardwareReason() {
        assertEquals(new Exit.EngineFault("kvm: KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x80000021 on host"
                + " cpu 3 at 0008:00001000"), translate(new KvmExit.FailEntry(0x8000_0021L, 3)));
    }

    @Test
    void internalErrorStopsTheVmWithKvmsSuberror() {
        assertEquals(new Exit.EngineFault("kvm: KVM_EXIT_INTERNAL_ERROR: error during event delivery [80000b0d 31]"
                + " at 0008:00001000"), translate(new KvmExit.InternalError(3, new long[] {0x8000_0B0DL, 0x31})));
    }

    @Test
    void otherUnexpectedExitsStopTheVmNamingThem() {
        assertEquals(new Exit.EngineFault("kvm: KVM_EXIT_SYSTEM_EVENT type 2 at 0008:00001000"),
                translate(new KvmExit.SystemEvent(2, new long[0])));
        assertEquals(new Exit.EngineFault("kvm: KVM_EXIT_UNKNOWN: hardware exit reason 0x30 at 0008:00001000"),
                translate(new KvmExit.Unknown(0x30)));
        assertEquals(new Exit.EngineFault("kvm: KVM_EXIT_X86_RDMSR at 0008:00001000"), translate(new KvmExit.Other(29)));
    }
}
