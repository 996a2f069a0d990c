package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.interpreter.internal.InterpreterStrategy;
import org.polyvisor.part.Availability;
import org.polyvisor.x86.CpuModel;

/**
 * The configured CPU model as the guest sees it (CPUID, feature-gated instructions, CR4 bits, the
 * MSR set), RDTSC following the VM clock, and the strategy refusing models the engine cannot
 * present.
 */
class CpuModelEngineTest {

    private static final int CODE = 0x10000;
    /** Exception stubs: vector v at STUBS + 16 v is {@code mov al, v; hlt}. */
    private static final int STUBS = 0x20000;

    private static TestMachine machine(String model, int... code) {
        TestMachine m = new TestMachine(model);
        m.flat32(CODE);
        m.memory.load(CODE, code);
        for (int v = 0; v < 32; v++) {
            m.gate(v, TestMachine.CODE32, STUBS + 16 * v, 0xE, 0);
            m.memory.load(STUBS + 16 * v, 0xB0, v, 0xF4);
        }
        return m;
    }

    /** Runs to a HLT in the main code and returns the state. */
    private static CpuState runToHalt(TestMachine m) {
        assertInstanceOf(Exit.Halted.class, m.run(1000));
        CpuState s = m.state();
        assertTrue(s.rip() < STUBS, () -> "unexpected exception " + (s.gpr(CpuState.RAX) & 0xFF));
        return s;
    }

    /** Runs to the exception stub of {@code vector}; asserts the saved EIP and returns the machine. */
    private static TestMachine expectFault(TestMachine m, int vector, int faultingEip) {
        assertInstanceOf(Exit.Halted.class, m.run(1000));
        assertEquals(STUBS + 16 * vector + 3, m.eip(), "halted in the stub of vector " + vector + ", not "
                + (m.reg(CpuState.RAX) & 0xFF));
        boolean err = vector == 8 || vector >= 10 && vector <= 14 || vector == 17;
        long esp = m.reg(CpuState.RSP);
        assertEquals(faultingEip, m.memory.readDword(esp + (err ? 4 : 0)), "saved EIP");
        if (err) {
            assertEquals(0, m.memory.readDword(esp), "error code");
        }
        return m;
    }

    private static int[] cpuid(String model, int leaf) {
        TestMachine m = machine(model, 0xB8, leaf & 0xFF, leaf >> 8 & 0xFF, leaf >> 16 & 0xFF, leaf >>> 24, // mov eax
                0x0F, 0xA2, 0xF4); // cpuid; hlt
        CpuState s = runToHalt(m);
        return new int[] {(int) s.gpr(CpuState.RAX), (int) s.gpr(CpuState.RBX), (int) s.gpr(CpuState.RCX),
            (int) s.gpr(CpuState.RDX)};
    }

    @Test
    void cpuidAnswersFromTheConfiguredModel() {
        String model = "pentium-pro,vendor=AuthenticAMD,brand=Polyvisor Test CPU";
        int[] l0 = cpuid(model, 0);
        assertEquals(0x6874_7541, l0[1]); // "Auth"
        assertEquals(0x6974_6E65, l0[3]); // "enti"
        assertEquals(0x444D_4163, l0[2]); // "cAMD"
        int[] l1 = cpuid(model, 1);
        assertEquals(0x619, l1[0]);
        assertEquals(CpuModel.named("pentium-pro").featuresEdx(), l1[3]);
        assertEquals(0, l1[3] & (CpuModel.EDX_VME | CpuModel.EDX_SEP | CpuModel.EDX_APIC));
        assertEquals(0x8000_0004, cpuid(model, 0x8000_0000)[0]);
        StringBuilder brand = new StringBuilder();
        for (int leaf = 0x8000_0002; leaf <= 0x8000_0004; leaf++) {
            for (int r : cpuid(model, leaf)) {
                for (int i = 0; i < 4; i++) {
                    brand.append((char) (r >>> 8 * i & 0xFF));
                }
            }
        }
        assertEquals("Polyvisor Test CPU", brand.toString().replace("\0", ""));
        assertEquals(0x633, cpuid("", 1)[0], "the default model without configuration");
        assertEquals(0, cpuid("", 0x8000_0000)[0], "no brand string, no extended leaves");
    }

    @Test
    void strategyAcceptsOnlyModelsTheEngineCanPresent() {
        InterpreterStrategy s = new InterpreterStrategy();
        for (String ok : new String[] {"", "default", "pentium-pro", "pentium2", "pentium3",
            "pentium3,family=6,model=11,stepping=1,brand=x,features=-sep,-fxsr"}) {
            assertTrue(s.acceptsCpuModel(ok).available(), ok);
        }
        Availability sse = s.acceptsCpuModel("pentium3,features=+sse,+mmx");
        assertFalse(sse.available());
        assertEquals("the interpreter does not implement CPU feature(s) mmx, sse that the CPU model reports",
                sse.reason());
        assertTrue(s.acceptsCpuModel("pentium4").reason().contains("unknown model 'pentium4'"));
        assertTrue(s.acceptsCpuModel("default,features=+vme").reason().contains("vme"));
        assertTrue(s.acceptsCpuModel("default,features=-cmov").reason().contains("cmov"));
        assertTrue(s.acceptsCpuModel("features=+apic").reason().contains("interrupt controller"));
        assertThrows(IllegalArgumentException.class, () -> new TestMachine("default,features=+pat"));
    }

    @Test
    void featuresTheModelDoesNotReportAreUndefined() {
        expectFault(machine("pentium-pro", 0x0F, 0x34), 6, CODE); // sysenter: no SEP
        expectFault(machine("pentium-pro", 0x0F, 0xAE, 0x05, 0x00, 0x01, 0x00, 0x00), 6, CODE); // fxsave [0x100]
        expectFault(machine("default,features=-cx8", 0x0F, 0xC7, 0x0D, 0x00, 0x01, 0x00, 0x00), 6, CODE); // cmpxchg8b
        expectFault(machine("default,features=-tsc", 0x0F, 0x31), 6, CODE); // rdtsc
        expectFault(machine("default,features=-msr", 0x31, 0xC9, 0x0F, 0x32), 6, CODE + 2); // rdmsr
        CpuState s = runToHalt(machine("pentium2", 0x0F, 0xAE, 0x05, 0x00, 0x01, 0x00, 0x00, 0xF4));
        assertEquals(CODE + 8, s.rip(), "FXSAVE works where FXSR is reported");
    }

    /** mov eax, value; mov cr4, eax; hlt. */
    private static TestMachine writeCr4(String model, int value) {
        return machine(model, 0xB8, value & 0xFF, value >> 8 & 0xFF, 0, 0, 0x0F, 0x22, 0xE0, 0xF4);
    }

    @Test
    void cr4BitsExistOnlyWithTheirFeature() {
        assertEquals(0x80 | 0x10, runToHalt(writeCr4("", 0x90)).cr4(), "PGE and PSE with the default model");
        expectFault(writeCr4("default,features=-pge", 0x80), 13, CODE + 5);
        expectFault(writeCr4("pentium3,features=-pse", 0x10), 13, CODE + 5);
        // Not implemented, never reported: the virtual-8086 mode extensions, debugging extensions, MCE.
        expectFault(writeCr4("", 0x01), 13, CODE + 5); // VME
        expectFault(writeCr4("", 0x02), 13, CODE + 5); // PVI
        expectFault(writeCr4("", 0x08), 13, CODE + 5); // DE
        expectFault(writeCr4("", 0x40), 13, CODE + 5); // MCE
        assertEquals(0, cpuid("", 1)[3] & (CpuModel.EDX_VME | CpuModel.EDX_DE | CpuModel.EDX_MCE));
    }

    /** mov ecx, msr; rdmsr; hlt. */
    private static TestMachine rdmsr(String model, int msr) {
        return machine(model, 0xB9, msr & 0xFF, msr >> 8 & 0xFF, msr >> 16 & 0xFF, msr >>> 24, 0x0F, 0x32, 0xF4);
    }

    /** mov ecx, msr; xor eax, eax; xor edx, edx; wrmsr; hlt. */
    private static TestMachine wrmsr(String model, int msr) {
        return machine(model, 0xB9, msr & 0xFF, msr >> 8 & 0xFF, msr >> 16 & 0xFF, msr >>> 24,
                0x31, 0xC0, 0x31, 0xD2, 0x0F, 0x30, 0xF4);
    }

    @Test
    void msrSetFollowsTheModel() {
        CpuState id = runToHalt(rdmsr("", CpuModel.MSR_PLATFORM_ID));
        assertEquals(0, id.gpr(CpuState.RDX));
        expectFault(wrmsr("", CpuModel.MSR_PLATFORM_ID), 13, CODE + 9); // read-only
        // Linux's intel_get_microcode_revision: WRMSR 0 to IA32_BIOS_SIGN_ID, CPUID, RDMSR.
        TestMachine ucode = machine("", 0xB9, 0x8B, 0, 0, 0, 0x31, 0xC0, 0x31, 0xD2, 0x0F, 0x30,
                0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0xB9, 0x8B, 0, 0, 0, 0x0F, 0x32, 0xF4);
        ucode.set(CpuState.RDX, 0x1234);
        assertEquals(0, runToHalt(ucode).gpr(CpuState.RDX), "microcode revision 0");
        runToHalt(wrmsr("", CpuModel.MSR_BIOS_UPDT_TRIG));
        expectFault(rdmsr("", CpuModel.MSR_BIOS_UPDT_TRIG), 13, CODE + 5); // write-only
        runToHalt(wrmsr("", CpuModel.MSR_SYSENTER_CS));
        expectFault(wrmsr("pentium-pro", CpuModel.MSR_SYSENTER_CS), 13, CODE + 9); // no SEP, no SYSENTER MSRs
        String p5 = "family=5,model=2,stepping=5,features=-sep,-fxsr,-pge";
        expectFault(rdmsr(p5, CpuModel.MSR_BIOS_SIGN_ID), 13, CODE + 5); // P6 family and later only
        expectFault(rdmsr("", CpuModel.MSR_APIC_BASE), 13, CODE + 5); // no local APIC in this VM
        expectFault(rdmsr("", 0xC000_0080), 13, CODE + 5); // EFER: no NX, no long mode reported
        expectFault(rdmsr("", 0x1234_5678), 13, CODE + 5);
        expectFault(wrmsr("", 0x1234_5678), 13, CODE + 9);
        expectFault(rdmsr("default,features=-tsc", CpuModel.MSR_TSC), 13, CODE + 5);
    }

    @Test
    void timeStampCounterFollowsTheVmClock() {
        // wrmsr(TSC, 1_000_000); hlt; rdtsc; hlt
        TestMachine m = machine("", 0xB9, 0x10, 0, 0, 0, 0xB8, 0x40, 0x42, 0x0F, 0x00, 0x31, 0xD2, 0x0F, 0x30, 0xF4,
                0x0F, 0x31, 0xF4);
        m.nanos.set(5_000);
        runToHalt(m);
        assertEquals(1_000_000, m.state().tsc());
        m.nanos.set(7_000);
        assertEquals(1_002_000, m.state().tsc(), "one tick per nanosecond of VM time");
        m.engine.importState(m.state().toBuilder().activity(ActivityState.ACTIVE).build());
        m.nanos.set(9_500);
        CpuState s = runToHalt(m);
        assertEquals(1_004_500, s.gpr(CpuState.RAX));
        assertEquals(0, s.gpr(CpuState.RDX));
    }

    @Test
    void rdpmcReadsCountersZeroAndChecksTheIndex() {
        TestMachine ok = machine("", 0x31, 0xC9, 0xB8, 1, 0, 0, 0, 0x0F, 0x33, 0xF4); // xor ecx,ecx; mov eax,1; rdpmc
        assertEquals(0, runToHalt(ok).gpr(CpuState.RAX));
        expectFault(machine("", 0xB9, 2, 0, 0, 0, 0x0F, 0x33), 13, CODE + 5); // P6 has counters 0 and 1
    }
}
