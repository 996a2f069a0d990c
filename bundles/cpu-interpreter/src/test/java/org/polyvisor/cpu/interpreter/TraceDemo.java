package org.polyvisor.cpu.interpreter;

import java.nio.file.Files;
import java.nio.file.Path;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.x86.decode.Decoder;
import org.polyvisor.x86.decode.Instruction;

/** Debug helper: traces the demo ROM instruction by instruction. */
public final class TraceDemo {
    public static void main(String[] args) throws Exception {
        byte[] image = Files.readAllBytes(Path.of(args[0]));
        TestMemory memory = new TestMemory(2 << 20);
        memory.addRom(image, 0xFFFF_0000L, 0x000F_0000L);
        TestMachine m = new TestMachine(memory);
        int n = Integer.parseInt(args[1]);
        for (int i = 0; i < n && m.exitPortValue == null; i++) {
            CpuState s = m.state();
            long lin = s.segment(CpuState.CS).base() + s.rip();
            Instruction in = new Instruction();
            boolean d32 = s.protectedMode() && (s.segment(CpuState.CS).attributes() & (1 << 14)) != 0;
            Decoder.decode(off -> memory.readByte(lin + off), d32, in);
            System.out.printf("%04x:%08x %-40s eax=%08x ecx=%08x edx=%08x ebx=%08x esp=%08x esi=%08x fl=%08x%n",
                    s.segment(CpuState.CS).selector(), s.rip(), in, s.gpr(0), s.gpr(1), s.gpr(2), s.gpr(3), s.gpr(4), s.gpr(6), s.rflags());
            System.out.println("  -> " + m.step());
        }
        System.out.println(m.uart);
    }
}
