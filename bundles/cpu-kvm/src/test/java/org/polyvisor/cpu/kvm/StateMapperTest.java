package org.polyvisor.cpu.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.FpuState;
import org.polyvisor.cpu.PendingEvents;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.cpu.kvm.internal.StateMapper;
import org.polyvisor.kvm.Segment;
import org.polyvisor.kvm.VcpuEvents;

/** The state conversion alone, without the kernel: everything both sides have survives. */
class StateMapperTest {

    private static CpuState roundTrip(CpuState s) {
        StateMapper.KvmState k = StateMapper.toKvm(s, 0xFEE0_0900L, null);
        long[] dr = s.dr();
        return StateMapper.fromKvm(k, s.activity(), dr[4], dr[5]);
    }

    @Test
    void powerOnStateRoundTrips() {
        CpuState s = CpuState.powerOn(0x600);
        assertEquals(s, roundTrip(s));
    }

    @Test
    void everyFieldOfAProtectedModeStateRoundTrips() {
        byte[] st = new byte[80];
        for (int i = 0; i < 8; i++) {
            st[10 * i] = (byte) (i + 1);
            st[10 * i + 7] = (byte) 0x80; // integer bit: a valid number
            st[10 * i + 8] = (byte) 0xFF;
            st[10 * i + 9] = 0x3F;
        }
        st[10 * 5 + 7] = 0; // ST(5) is zero
        st[10 * 5 + 8] = 0;
        st[10 * 5 + 9] = 0;
        st[10 * 5] = 0;
        long[] xmm = new long[32];
        for (int i = 0; i < 32; i++) {
            xmm[i] = 0x0123_4567_89AB_CDEFL * (i + 1);
        }
        // TOP = 2; physical registers 2..7 hold ST(0)..ST(5) -> tags valid except ST(5) (phys 7) zero;
        // physical 0 and 1 (ST(6), ST(7)) empty.
        int ftw = 0b01_00_00_00_00_00_11_11;
        FpuState fpu = new FpuState(0x027F, 2 << 11, ftw, 0x1D9, 0x0010_2030, 0x0008, 0x0040_5060, 0x0010, st, xmm, 0x1F80);
        CpuState.Builder b = CpuState.powerOn(0x600).toBuilder();
        for (int i = 0; i < 16; i++) {
            b.gpr(i, 0x1000L * i + 7);
        }
        b.rip(0x0010_1234).rflags(0x0000_0246 | 0x200);
        b.segment(CpuState.CS, new SegmentRegister(0x08, 0, 0xFFFF_FFFF, 0xC09B));
        b.segment(CpuState.SS, new SegmentRegister(0x10, 0, 0xFFFF_FFFF, 0xC093));
        b.segment(CpuState.DS, new SegmentRegister(0x10, 0x1000, 0xFFFFF, 0x4093 | SegmentRegister.AVL));
        b.segment(CpuState.FS, new SegmentRegister(0, 0, 0, SegmentRegister.UNUSABLE));
        b.cr0(0x6000_0011L).cr2(0xDEAD_B000L).cr3(0x9000).cr4(0x10).cr8(3);
        b.dr(0, 0x100).dr(3, 0x400).dr(6, 0xFFFF_0FF1L).dr(7, 0x401).dr(4, 0x55);
        b.msr(0x174, 8).msr(0x175, 0x9000).msr(0x176, 0x1234);
        b.fpu(fpu);
        b.events(new PendingEvents(14, 0x6, true, -1, true, true));
        b.interruptShadow(CpuState.SHADOW_STI);
        b.activity(ActivityState.HALTED);
        b.tsc(123_456_789L);
        CpuState s = b.build();
        assertEquals(s, roundTrip(s));
        assertEquals(fpu, roundTrip(s).fpu());
    }

    @Test
    void longModeStateRoundTripsWith64BitFpuPointers() {
        CpuState s = Guests.longMode(Guests.LONG_COMPUTE, true, 1000).toBuilder()
                .fpu(new FpuState(0x37F, 0, 0xFFFF, 0, 0x7FFF_1234_5678L, 0, 0x7FFF_8765_4321L, 0, new byte[80],
                        new long[32], 0x1F80))
                .events(new PendingEvents(-1, 0, false, 0x30, false, false)).interruptShadow(CpuState.SHADOW_MOV_SS)
                .build();
        assertEquals(s, roundTrip(s));
    }

    @Test
    void shadowBitsAreRenumberedForKvm() {
        CpuState s = CpuState.powerOn(0x600).toBuilder().interruptShadow(CpuState.SHADOW_STI).build();
        assertEquals(VcpuEvents.SHADOW_STI, StateMapper.toKvm(s, 0, null).events().interruptShadow());
        s = s.toBuilder().interruptShadow(CpuState.SHADOW_MOV_SS).build();
        assertEquals(VcpuEvents.SHADOW_MOV_SS, StateMapper.toKvm(s, 0, null).events().interruptShadow());
    }

    @Test
    void accessRightsSplitIntoKvmSegmentFields() {
        Segment k = StateMapper.segment(new SegmentRegister(0x1B, 0, 0xFFFF_FFFF, 0xA0FB));
        assertEquals(0xB, k.type());
        assertEquals(3, k.dpl());
        assertEquals(true, k.l());
        assertEquals(true, k.g());
        assertEquals(false, k.db());
        assertEquals(true, k.s());
        assertEquals(true, k.present());
        assertEquals(0xA0FB, StateMapper.segment(k).attributes());
    }

    @Test
    void softwareInterruptInDeliveryIsLeftToBeExecutedAgain() {
        CpuState s = CpuState.powerOn(0x600);
        StateMapper.KvmState k = StateMapper.toKvm(s, 0, null);
        VcpuEvents e = k.events();
        VcpuEvents soft = new VcpuEvents(false, 0, false, false, 0, true, 0x80, true, 0, false, false, false, 0,
                e.flags(), 0, false, false, 0);
        StateMapper.KvmState k2 = new StateMapper.KvmState(k.regs(), k.sregs(), k.fxsave(), k.debug(), soft, k.msrs(), 0);
        assertEquals(-1, StateMapper.fromKvm(k2, ActivityState.ACTIVE, 0, 0).events().interruptVector());
    }
}
