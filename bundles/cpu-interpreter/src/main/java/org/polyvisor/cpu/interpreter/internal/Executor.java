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

    static void execute(Cpu c, Instruction in) {
        // The commonest forms first, in a method small enough for the JIT to inline into the
        // instruction loop (with its callees); everything else in executeOther.
        Mnemonic m = in.mnemonic();
        switch (m) {
            case JCC -> Control.jcc(c, in);
            case DEC -> Arith.incDec(c, in, false);
            case INC -> Arith.incDec(c, in, true);
            case MOV -> DataOps.mov(c, in);
            case ADD, OR, ADC, SBB, AND, SUB, XOR, CMP -> Arith.alu(c, in, m);
            default -> executeOther(c, in, m);
        }
    }

    private static void executeOther(Cpu c, Instruction in, Mnemonic m) {
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
    }
}
