package org.polyvisor.cpu.bt.internal;

import org.polyvisor.x86.decode.Instruction;
import org.polyvisor.x86.decode.Mnemonic;

/**
 * Classes of sensitive and privileged instructions that translated code never executes itself: the
 * VMM's emulation (the interpreter core, which behaves as ring 0 on bare metal) runs them. Most end
 * a translation before them; the software-interrupt class is translated into a call into the core's
 * event delivery ({@code InterpreterCore#event}) that ends the translation. Sites and executions are
 * counted by class.
 */
enum Sensitive {
    /** PUSHF/POPF: read and write IF and IOPL. */
    PUSHF_POPF("pushf-popf"),
    /** CLI/STI. */
    CLI_STI("cli-sti"),
    /** Reads and loads of segment registers (MOV/PUSH/POP Sreg, LDS..LGS): expose CS/SS RPL. */
    SEGMENT("segment-access"),
    /** SGDT/SIDT/SLDT/STR/SMSW, LAR/LSL/VERR/VERW: reveal descriptor state. */
    DESCRIPTOR_READ("descriptor-read"),
    /** Far JMP/CALL/RET, INT1, SYSENTER/SYSEXIT. */
    FAR_TRANSFER("far-transfer"),
    /** INT n, INT3, INTO, IRET: through the IDT or IVT, or back (translated as calls into the core). */
    SOFTWARE_INTERRUPT("int-iret"),
    /** IN/OUT/INS/OUTS. */
    IO("port-io"),
    /** MOV to/from CRn/DRn, CLTS, LMSW. */
    CONTROL_REGISTER("mov-cr-dr"),
    /** LGDT/LIDT/LLDT/LTR. */
    DESCRIPTOR_LOAD("descriptor-load"),
    /** INVLPG, INVD, WBINVD. */
    CACHE("invlpg"),
    /** RDMSR/WRMSR. */
    MSR("rdmsr-wrmsr"),
    /** CPUID. */
    CPUID("cpuid"),
    /** RDTSC/RDPMC. */
    TIME("rdtsc"),
    /** HLT. */
    HLT("hlt");

    final String label;

    Sensitive(String label) {
        this.label = label;
    }

    /**
     * @param in a decoded instruction
     * @return its sensitive class, or null for an ordinary instruction
     */
    static Sensitive of(Instruction in) {
        Mnemonic m = in.mnemonic();
        switch (m) {
            case PUSHF: case POPF: return PUSHF_POPF;
            case CLI: case STI: return CLI_STI;
            case MOV_SREG: case LDS: case LES: case LSS: case LFS: case LGS: return SEGMENT;
            case PUSH: case POP:
                return in.operandCount() > 0 && in.kind(0) == Instruction.KIND_SREG ? SEGMENT : null;
            case SGDT: case SIDT: case SLDT: case STR: case SMSW:
            case LAR: case LSL: case VERR: case VERW: return DESCRIPTOR_READ;
            case JMP_FAR: case CALL_FAR: case RET_FAR: case INT1: case SYSENTER: case SYSEXIT: return FAR_TRANSFER;
            case INT: case INT3: case INTO: case IRET: return SOFTWARE_INTERRUPT;
            case IN: case OUT: case INS: case OUTS: return IO;
            case MOV_CR: case MOV_DR: case CLTS: case LMSW: return CONTROL_REGISTER;
            case LGDT: case LIDT: case LLDT: case LTR: return DESCRIPTOR_LOAD;
            case INVLPG: case INVD: case WBINVD: return CACHE;
            case RDMSR: case WRMSR: return MSR;
            case CPUID: return CPUID;
            case RDTSC: case RDPMC: return TIME;
            case HLT: return HLT;
            default: return null;
        }
    }
}
