package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;
import org.polyvisor.x86.decode.Mnemonic;

/**
 * Dispatches a decoded instruction to its family. One switch over {@link Mnemonic} (a table jump),
 * each case a single static call, so the method stays small enough for the JIT to compile and the
 * families stay readable.
 */
final class Executor {

    private Executor() {
    }

    // Forms: the tag (Instruction#tag) the fetch attaches to each decode, so the instruction loop
    // tells the commonest forms apart by one int switch, without looking at the operands again.
    /** Anything without a form of its own: dispatched by mnemonic. */
    static final int FORM_OTHER = 1;
    static final int FORM_JCC = 2;
    static final int FORM_INC_R32 = 3;
    static final int FORM_DEC_R32 = 4;
    static final int FORM_INC_M32 = 5;
    static final int FORM_DEC_M32 = 6;
    static final int FORM_MOV_R32_R32 = 7;
    static final int FORM_MOV_R32_IMM = 8;
    static final int FORM_MOV_R32_M32 = 9;
    static final int FORM_MOV_M32_R32 = 10;
    static final int FORM_JMP_REL = 11;
    /** A locked read-modify-write (LOCK prefix, XCHG with memory): {@link #executeLocked}. */
    static final int FORM_LOCKED = 12;
    /** 32-bit ALU operation with two register operands: FORM_ALU_RR + the operation (ADD 0 .. CMP 7). */
    static final int FORM_ALU_RR = 16;
    /** 32-bit ALU operation of a register and an immediate: FORM_ALU_RI + the operation. */
    static final int FORM_ALU_RI = 24;

    /** The form of a decoded instruction (its tag), chosen once when it is decoded. */
    static int form(Instruction in) {
        Mnemonic m = in.mnemonic();
        boolean r32 = in.operandCount() > 0 && in.size(0) == 4 && in.kind(0) == Instruction.KIND_REG;
        boolean m32 = in.operandCount() > 0 && in.size(0) == 4 && in.kind(0) == Instruction.KIND_MEM;
        if (in.lock() || m == Mnemonic.XCHG && in.operandCount() == 2
                && (in.kind(0) == Instruction.KIND_MEM || in.kind(1) == Instruction.KIND_MEM)) {
            return FORM_LOCKED; // XCHG with memory locks without the prefix (SDM XCHG)
        }
        switch (m) {
            case JCC:
                return FORM_JCC;
            case JMP:
                return in.kind(0) == Instruction.KIND_IMM ? FORM_JMP_REL : FORM_OTHER;
            case INC:
                return r32 ? FORM_INC_R32 : m32 ? FORM_INC_M32 : FORM_OTHER;
            case DEC:
                return r32 ? FORM_DEC_R32 : m32 ? FORM_DEC_M32 : FORM_OTHER;
            case MOV:
                if (r32 && in.kind(1) == Instruction.KIND_REG) {
                    return FORM_MOV_R32_R32;
                }
                if (r32 && in.kind(1) == Instruction.KIND_IMM && in.reg(1) == 0) {
                    return FORM_MOV_R32_IMM;
                }
                if (r32 && in.kind(1) == Instruction.KIND_MEM && in.size(1) == 4) {
                    return FORM_MOV_R32_M32;
                }
                if (m32 && in.kind(1) == Instruction.KIND_REG && in.size(1) == 4) {
                    return FORM_MOV_M32_R32;
                }
                return FORM_OTHER;
            case ADD, OR, AND, SUB, XOR, CMP:
                if (r32 && in.kind(1) == Instruction.KIND_REG && in.size(1) == 4) {
                    return FORM_ALU_RR + aluIndex(m);
                }
                if (r32 && in.kind(1) == Instruction.KIND_IMM && in.reg(1) == 0) {
                    return FORM_ALU_RI + aluIndex(m);
                }
                return FORM_OTHER;
            default:
                return FORM_OTHER;
        }
    }

    private static int aluIndex(Mnemonic m) {
        return switch (m) {
            case ADD -> 0;
            case OR -> 1;
            case AND -> 4;
            case SUB -> 5;
            case XOR -> 6;
            default -> 7; // CMP
        };
    }

    /**
     * Executes an instruction whose successor starts at {@code next}, by mnemonic, and returns the
     * EIP after it. The instruction loop runs the forms above itself (inlined: this switch is too
     * big for the JIT to inline there) and comes here for everything else.
     */
    static int execute(Cpu c, Instruction in, int next) {
        c.faulted = false;
        if (in.tag() == FORM_LOCKED) {
            return executeLocked(c, in, next);
        }
        c.eip = next;
        executeOther(c, in, in.mnemonic());
        return c.eip;
    }

    /**
     * Runs a locked read-modify-write atomically with respect to the other vCPUs (see
     * {@link LockedAccess}): the locked instructions of all vCPUs of a VM take turns on the monitor
     * of the guest memory they share (standing for the bus lock), and the destination is written by
     * compare-and-swap, so a plain store of another vCPU is never lost in between. When the
     * destination changed since it was read, the registers and flags go back and the instruction
     * runs again.
     */
    static int executeLocked(Cpu c, Instruction in, int next) {
        LockedAccess a = c.lockedAccess;
        synchronized (c.memory) {
            a.save();
            c.locking = true;
            try {
                while (true) {
                    a.begin();
                    try {
                        c.eip = next;
                        executeOther(c, in, in.mnemonic());
                        return c.eip;
                    } catch (LockedAccess.Retry retry) {
                        a.restore();
                    }
                }
            } finally {
                c.locking = false;
            }
        }
    }

    /**
     * Executes by mnemonic and delivers the instruction's fault here ({@link Cpu#faulted}): a guest
     * exception thrown by code the JIT inlined into this method (#DE of DIV, #UD ...) is then a jump
     * to the handler below, where one thrown to the instruction loop would unwind through the
     * runtime at every fault.
     */
    private static void executeOther(Cpu c, Instruction in, Mnemonic m) {
        try {
            switch (m) {
                case ADD, OR, ADC, SBB, AND, SUB, XOR, CMP -> Arith.alu(c, in, m);
                case TEST -> Arith.test(c, in);
                case INC -> Arith.incDec(c, in, true);
                case DEC -> Arith.incDec(c, in, false);
                case NOT -> Arith.not(c, in);
                case NEG -> Arith.neg(c, in);
                case ROL, ROR, RCL, RCR, SHL, SHR, SAL, SAR -> Arith.shift(c, in, m);
                case SHLD -> Arith.doubleShift(c, in, true);
                case SHRD -> Arith.doubleShift(c, in, false);
                case MUL -> Arith.mul(c, in, false);
                case IMUL -> Arith.mul(c, in, true);
                case IMUL_RM -> Arith.imulRm(c, in);
                case DIV -> Arith.div(c, in, false);
                case IDIV -> Arith.div(c, in, true);
                case BT, BTS, BTR, BTC -> Arith.bitTest(c, in, m);
                case BSF -> Arith.bitScan(c, in, true);
                case BSR -> Arith.bitScan(c, in, false);
                case DAA -> Arith.daa(c, false);
                case DAS -> Arith.daa(c, true);
                case AAA -> Arith.aaa(c, false);
                case AAS -> Arith.aaa(c, true);
                case AAM -> Arith.aam(c, in.imm() & 0xFF);
                case AAD -> Arith.aad(c, in.imm() & 0xFF);

                case MOV -> DataOps.mov(c, in);
                case MOV_SREG -> DataOps.movSreg(c, in);
                case MOVZX -> DataOps.movzx(c, in);
                case MOVSX -> DataOps.movsx(c, in);
                case LEA -> DataOps.lea(c, in);
                case XCHG -> DataOps.xchg(c, in);
                case XADD -> DataOps.xadd(c, in);
                case CMPXCHG -> DataOps.cmpxchg(c, in);
                case CMPXCHG8B -> DataOps.cmpxchg8b(c, in);
                case BSWAP -> DataOps.bswap(c, in);
                case CBW -> DataOps.cbw(c, in);
                case CWD -> DataOps.cwd(c, in);
                case LAHF -> DataOps.lahf(c);
                case SAHF -> DataOps.sahf(c);
                case XLAT -> DataOps.xlat(c, in);
                case SALC -> DataOps.salc(c);
                case CMOVCC -> DataOps.cmov(c, in);
                case SETCC -> DataOps.setcc(c, in);
                case BOUND -> DataOps.bound(c, in);
                case ARPL -> DataOps.arpl(c, in);
                case LES -> DataOps.loadFarPointer(c, in, Cpu.ES);
                case LDS -> DataOps.loadFarPointer(c, in, Cpu.DS);
                case LSS -> DataOps.loadFarPointer(c, in, Cpu.SS);
                case LFS -> DataOps.loadFarPointer(c, in, Cpu.FS);
                case LGS -> DataOps.loadFarPointer(c, in, Cpu.GS);
                case PUSH -> DataOps.push(c, in);
                case POP -> DataOps.pop(c, in);
                case PUSHA -> DataOps.pusha(c, in);
                case POPA -> DataOps.popa(c, in);
                case PUSHF -> DataOps.pushf(c, in);
                case POPF -> DataOps.popf(c, in);
                case ENTER -> DataOps.enter(c, in);
                case LEAVE -> DataOps.leave(c, in);

                case JMP -> Control.jmp(c, in);
                case JCC -> Control.jcc(c, in);
                case CALL -> Control.call(c, in);
                case RET -> Control.ret(c, in);
                case JMP_FAR -> Control.jmpFar(c, in);
                case CALL_FAR -> Control.callFar(c, in);
                case RET_FAR -> Control.retFar(c, in);
                case LOOP -> Control.loop(c, in, 0);
                case LOOPE -> Control.loop(c, in, 1);
                case LOOPNE -> Control.loop(c, in, 2);
                case JCXZ -> Control.loop(c, in, 3);
                case INT -> Control.interrupt(c, in.imm() & 0xFF);
                case INT3 -> Interrupts.raise(c, ExceptionVectors.BP, 0, false, Interrupts.SOFTWARE, 0);
                case INTO -> Control.into(c);
                case INT1 -> Interrupts.raise(c, ExceptionVectors.DB, 0, false, Interrupts.EXCEPTION, 0);
                case IRET -> Control.iret(c, in);

                case MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS -> Strings.string(c, in, m);
                case IN -> Strings.in(c, in);
                case OUT -> Strings.out(c, in);

                case CLC -> c.setCf(false);
                case STC -> c.setCf(true);
                case CMC -> c.setCf(!c.cf());
                case CLD -> c.flags &= ~Eflags.DF;
                case STD -> c.flags |= Eflags.DF;
                case CLI -> SystemOps.cli(c);
                case STI -> SystemOps.sti(c);
                case HLT -> SystemOps.hlt(c);
                case NOP, PAUSE -> { }
                case WAIT -> SystemOps.fwait(c);
                case X87 -> SystemOps.x87(c, in);
                case CPUID -> Cpuid.execute(c);
                case RDTSC -> SystemOps.rdtsc(c);
                case RDMSR -> SystemOps.rdmsr(c);
                case WRMSR -> SystemOps.wrmsr(c);
                case RDPMC -> SystemOps.rdpmc(c);
                case SYSENTER -> SystemOps.sysenter(c);
                case SYSEXIT -> SystemOps.sysexit(c);
                case MOV_CR -> SystemOps.movCr(c, in);
                case MOV_DR -> SystemOps.movDr(c, in);
                case CLTS -> SystemOps.clts(c);
                case LMSW -> SystemOps.lmsw(c, in);
                case SMSW -> SystemOps.smsw(c, in);
                case LGDT -> SystemOps.loadTableRegister(c, in, false);
                case LIDT -> SystemOps.loadTableRegister(c, in, true);
                case SGDT -> SystemOps.storeTableRegister(c, in, false);
                case SIDT -> SystemOps.storeTableRegister(c, in, true);
                case LLDT -> SystemOps.lldt(c, in);
                case SLDT -> SystemOps.storeSelector(c, in, c.ldtr.selector());
                case LTR -> SystemOps.ltr(c, in);
                case STR -> SystemOps.storeSelector(c, in, c.tr.selector());
                case LAR, LSL, VERR, VERW -> SystemOps.inspect(c, in, m);
                case INVD, WBINVD -> SystemOps.requireCpl0(c);
                case INVLPG -> SystemOps.invlpg(c, in);
                case FXSAVE -> c.x87.fxsave(c, in);
                case FXRSTOR -> c.x87.fxrstor(c, in);
                case RSM, UD2, INVALID -> throw X86Exception.invalidOpcode();
                default -> throw X86Exception.invalidOpcode();
            }
        } catch (X86Exception e) {
            // A locked instruction's fault is delivered with plain accesses: the delivery's stack
            // and table accesses are not the locked destination (executeLocked's finally would
            // clear this only after the delivery).
            c.locking = false;
            Interrupts.fault(c, e, true);
            c.faulted = true;
        }
    }
}
