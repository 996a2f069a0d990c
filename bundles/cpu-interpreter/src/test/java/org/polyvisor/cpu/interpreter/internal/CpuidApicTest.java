package org.polyvisor.cpu.interpreter.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.x86.CpuModel;

/** CPUID.1:EDX.APIC follows whether the interrupt source owns IA32_APIC_BASE. */
class CpuidApicTest {

    @Test
    void apicBitWhenTheSourceOwnsApicBase() {
        InterruptSource apic = new InterruptSource() {
            @Override
            public boolean hasInterrupt() {
                return false;
            }

            @Override
            public int acknowledge() {
                return -1;
            }

            @Override
            public boolean ownsMsr(int msr) {
                return msr == 0x1B;
            }
        };
        assertEquals(CpuModel.EDX_APIC, Cpuid.modelFor(apic, CpuModel.DEFAULT).cpuid(1, 0)[3] & CpuModel.EDX_APIC);
        assertEquals(0, Cpuid.modelFor(InterruptSource.NONE, CpuModel.DEFAULT).cpuid(1, 0)[3] & CpuModel.EDX_APIC);
    }
}
