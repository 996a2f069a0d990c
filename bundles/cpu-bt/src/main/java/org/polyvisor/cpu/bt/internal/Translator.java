package org.polyvisor.cpu.bt.internal;

import static org.objectweb.asm.Opcodes.*;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.LazyFlags;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Decoder;
import org.polyvisor.x86.decode.Instruction;
import org.polyvisor.x86.decode.Mnemonic;

/**
 * Translates one guest basic block into a JVM method (a {@link CompiledBlock} subclass in a hidden
 * class).
 *
 * <p>Inside a translation the eight general registers live in JVM locals, loaded at entry and
 * written back at every exit. The arithmetic flags are lazy in the strong sense: the translator
 * knows statically which operation last wrote them, keeps only its operands and result in locals,
 * evaluates a condition inline from them (a CMP/Jcc pair becomes one JVM compare) and stores them
 * into the interpreter's {@link LazyFlags} only where the block is left (an exit or a fault), so
 * flag work nobody reads is never done. Memory goes through {@link Rt#read}/{@link Rt#write}, whose
 * TLB fast path the JIT inlines. Every instruction that can fault has an exception handler that
 * writes back the state as of that instruction's start (registers, flags, EIP, ESP, retired count)
 * before the fault reaches the interpreter, so guest exceptions are precise; instructions order
 * their work so no register or flag local changes before their last faulting step. A block whose
 * branch returns to its own start becomes a JVM loop, bounded by the budget.
 *
 * <p>A block ends after an unconditional near control transfer (a conditional branch leaves
 * when taken and goes on in the same translation otherwise), before an instruction it does not translate
 * (sensitive instructions and everything outside the subset below run on the interpreter), at the
 * end of the code page, or at {@link #MAX_INSTRUCTIONS}.
 */
final class Translator {

    /** Default longest block (instructions); {@code polyvisor.bt.maxBlock} overrides it. */
    static final int MAX_INSTRUCTIONS = 40;
    /** HotSpot compiles no method above 8000 bytes of bytecode; stay well below. */
    static final int MAX_CODE = 7000;

    private static final String VCPU = "org/polyvisor/cpu/bt/internal/Vcpu";
    private static final String RT = "org/polyvisor/cpu/bt/internal/Rt";
    private static final String LAZY = "org/polyvisor/x86/LazyFlags";
    private static final String CORE = "org/polyvisor/cpu/interpreter/core/InterpreterCore";
    private static final String SUPER = "org/polyvisor/cpu/bt/internal/CompiledBlock";
    private static final String SELF = "org/polyvisor/cpu/bt/internal/Translator";

    // locals
    private static final int X = 1;
    private static final int BUDGET = 2;
    private static final int N = 3;
    private static final int EXIT_EIP = 4;
    private static final int EXIT_K = 5;
    private static final int REG0 = 6;
    private static final int FS1 = 14;
    private static final int FS2 = 15;
    private static final int FRES = 16;
    private static final int FCIN = 17;
    private static final int EA = 18;
    private static final int T1 = 19;
    private static final int T2 = 20;
    private static final int T3 = 21;
    private static final int T4 = 22;
    private static final int WV = 23;
    private static final int LAST_LOCAL = 23;
    /** A long (two slots), after the int locals. */
    private static final int PRODUCT = 24;
    // The instruction a fault was raised at: its EIP, its index in its block, and the lazy flags
    // operation then (op | size << 8, or -1 when the flags are already stored). Set by the
    // instruction's handler stub, read by the method's one shared exception handler.
    private static final int FAULT_EIP = 26;
    private static final int FAULT_IDX = 27;
    private static final int FAULT_FLAGS = 28;

    /** What a translation attempt produced. */
    record Result(CompiledBlock code, int instructions, int guestBytes, int bytecodeBytes, Instruction stoppedAt,
                  Sensitive stoppedAtClass, int end) {

        Result(CompiledBlock code, int instructions, int guestBytes, int bytecodeBytes, Instruction stoppedAt,
               Sensitive stoppedAtClass) {
            this(code, instructions, guestBytes, bytecodeBytes, stoppedAt, stoppedAtClass, END_OTHER);
        }
    }

    // How a translation ends ({@link Result#end}): its last instruction.
    /** Anything but the three below. */
    static final int END_OTHER = 0;
    /** A near CALL: it leaves at the target with the return address (the next EIP) pushed. */
    static final int END_CALL = 1;
    /** A near RET. */
    static final int END_RET = 2;
    /** An indirect near JMP. */
    static final int END_JMP_INDIRECT = 3;

    private static final MethodHandles.Lookup LOOKUP = MethodHandles.lookup();

    // ---- per translation ----
    private final boolean code32;
    private final boolean stack32;
    private final boolean flat;
    private final int user;
    private final int startEip;
    private MethodVisitor mv;
    private final boolean[] written = new boolean[8];
    private int fop = -1;
    private int fsize = 4;
    private final Label exit = new Label();
    private final Label loopHead = new Label();
    /** The exception handler the stubs of all faulting instructions go on in, once one is made. */
    private Label faultHandler;
    /** Per faulting instruction: the stub that records it and jumps to {@link #faultHandler}. */
    private final List<Runnable> faultSites = new ArrayList<>();
    private int index;
    private int blockSize;
    private int instrEip;
    private boolean loops;

    private Translator(int mode, int startEip) {
        this.code32 = (mode & 1) != 0;
        this.stack32 = (mode & 2) != 0;
        this.user = (mode >>> 2 & 3) == 3 ? 2 : 0;
        this.flat = (mode & FLAT) != 0;
        this.startEip = startEip;
    }

    /** Mode bit: DS, ES and SS are flat (base 0, every offset readable and writable). */
    static final int FLAT = 1 << 4;

    /** Mode bits a translation depends on: default size, stack size, CPL (and {@link #FLAT}). */
    static int mode(boolean code32, boolean stack32, int cpl) {
        return (code32 ? 1 : 0) | (stack32 ? 2 : 0) | cpl << 2;
    }

    /** Thrown by the fetcher when an instruction would leave the code page. */
    private static final class PageEnd extends RuntimeException {
        private static final long serialVersionUID = 1L;

        PageEnd() {
            super(null, null, false, false);
        }
    }

    /**
     * Decodes and translates the block at a guest-physical address.
     *
     * @param memory guest memory
     * @param pa     guest-physical address of the first instruction
     * @param eip    its EIP
     * @param mode   {@link #mode} bits
     * @param limit  at most this many instructions
     * @return the translation (code null when not even the first instruction is translatable)
     */
    static Result translate(GuestMemory memory, long pa, int eip, int mode, int limit) {
        List<Instruction> block = new ArrayList<>();
        List<Integer> eips = new ArrayList<>();
        boolean code32 = (mode & 1) != 0;
        int pageLeft = 4096 - (int) (pa & 0xFFF);
        int offset = 0;
        int ip = eip;
        Instruction stop = null;
        while (block.size() < limit) {
            Instruction in = new Instruction();
            final int base = offset;
            try {
                Decoder.decode(o -> {
                    if (base + o >= pageLeft) {
                        throw new PageEnd();
                    }
                    return memory.readByte(pa + base + o);
                }, code32, in);
            } catch (PageEnd | X86Exception e) {
                break; // the interpreter fetches it (and raises its fault)
            }
            if (!code32 && (ip & 0xFFFF) + in.length() > 0x10000) {
                break; // IP wraps inside the instruction: leave it to the interpreter
            }
            if (!translatable(in)) {
                stop = in;
                break;
            }
            block.add(in);
            eips.add(ip);
            offset += in.length();
            ip = code32 ? ip + in.length() : (ip + in.length()) & 0xFFFF;
            if (endsBlock(in.mnemonic()) && in.mnemonic() != Mnemonic.JCC) {
                break; // a conditional branch's fall-through path goes on in the same translation
            }
        }
        Sensitive cls = stop == null ? null : Sensitive.of(stop);
        if (block.isEmpty()) {
            return new Result(null, 0, 0, 0, stop, cls);
        }
        byte[] bytes = new Translator(mode, eip).generate(block, eips);
        if (bytes.length > MAX_CODE && block.size() > 1) {
            return translate(memory, pa, eip, mode, block.size() / 2);
        }
        try {
            MethodHandles.Lookup hidden = LOOKUP.defineHiddenClass(bytes, true);
            CompiledBlock code = (CompiledBlock) hidden.findConstructor(hidden.lookupClass(),
                    MethodType.methodType(void.class)).invoke();
            Instruction last = block.get(block.size() - 1);
            int end = switch (last.mnemonic()) {
                case CALL -> END_CALL;
                case RET -> END_RET;
                case JMP -> last.kind(0) == Instruction.KIND_IMM ? END_OTHER : END_JMP_INDIRECT;
                default -> END_OTHER;
            };
            return new Result(code, block.size(), offset, bytes.length, stop, cls, end);
        } catch (Throwable t) {
            throw new IllegalStateException("translation of " + block.size() + " instructions at "
                    + Integer.toHexString(eip) + " failed: " + t, t);
        }
    }

    private static boolean endsBlock(Mnemonic m) {
        return m == Mnemonic.JMP || m == Mnemonic.JCC || m == Mnemonic.CALL || m == Mnemonic.RET;
    }

    private static boolean isRegOrMem(Instruction in, int i) {
        int k = in.kind(i);
        return k == Instruction.KIND_REG || k == Instruction.KIND_MEM;
    }

    private static boolean isSource(Instruction in, int i) {
        return isRegOrMem(in, i) || in.kind(i) == Instruction.KIND_IMM;
    }

    /** The subset translated; everything else ends the block and runs on the interpreter. */
    static boolean translatable(Instruction in) {
        if (in.lock()) {
            return false;
        }
        int n = in.operandCount();
        switch (in.mnemonic()) {
            case ADD: case OR: case ADC: case SBB: case AND: case SUB: case XOR: case CMP: case TEST:
            case MOV:
                return n == 2 && isRegOrMem(in, 0) && isSource(in, 1) && in.size(0) <= 4;
            case INC: case DEC: case NOT: case NEG:
                return n == 1 && isRegOrMem(in, 0);
            case SHL: case SAL: case SHR: case SAR: case ROL: case ROR:
                return n == 2 && isRegOrMem(in, 0) && (in.kind(1) == Instruction.KIND_IMM && (in.imm() & 0x1F) != 0
                        || in.kind(1) == Instruction.KIND_REG && in.size(1) == 1 && in.reg(1) == 1);
            case IMUL_RM:
                return (n == 2 || n == 3) && in.kind(0) == Instruction.KIND_REG && isRegOrMem(in, 1)
                        && (n == 2 || in.kind(2) == Instruction.KIND_IMM);
            case MOVZX: case MOVSX:
                return n == 2 && in.kind(0) == Instruction.KIND_REG && isRegOrMem(in, 1);
            case LEA:
                return n == 2 && in.kind(0) == Instruction.KIND_REG && in.kind(1) == Instruction.KIND_MEM;
            case XCHG:
                return n == 2 && in.kind(0) == Instruction.KIND_REG && in.kind(1) == Instruction.KIND_REG;
            case CMOVCC:
                return n == 2 && in.kind(0) == Instruction.KIND_REG && isRegOrMem(in, 1);
            case SETCC:
                return n == 1 && isRegOrMem(in, 0);
            case PUSH:
                return n == 1 && isSource(in, 0);
            case POP:
                return n == 1 && in.kind(0) == Instruction.KIND_REG;
            case JCC:
                return n == 1 && in.kind(0) == Instruction.KIND_IMM;
            case JMP: case CALL:
                return n == 1 && isSource(in, 0);
            case RET:
                return n == 0 || (n == 1 && in.kind(0) == Instruction.KIND_IMM);
            case NOP: case PAUSE: case CBW: case CWD: case LEAVE:
                return true;
            case MOVS: case STOS: case LODS:
                // 32-bit addressing only; REPNE on these is REP (SDM Vol. 2B, REP/REPE/REPZ)
                return in.addrSize() == 4;
            default:
                return false;
        }
    }

    private static boolean mayFault(Instruction in) {
        switch (in.mnemonic()) {
            case PUSH: case POP: case JCC: case JMP: case CALL: case RET: case LEAVE:
            case MOVS: case STOS: case LODS:
                return true;
            case LEA: case NOP: case PAUSE: case CBW: case CWD:
                return false;
            default:
                return in.hasMemoryOperand();
        }
    }

    // =====================================================================================
    // Generation
    // =====================================================================================

    private byte[] generate(List<Instruction> block, List<Integer> eips) {
        ClassWriter cw = new ClassWriter(ClassWriter.COMPUTE_FRAMES | ClassWriter.COMPUTE_MAXS) {
            @Override
            protected String getCommonSuperClass(String a, String b) {
                return "java/lang/Object";
            }
        };
        cw.visit(V17, ACC_FINAL | ACC_SUPER, "org/polyvisor/cpu/bt/internal/Block", null, SUPER, null);
        MethodVisitor init = cw.visitMethod(ACC_PUBLIC, "<init>", "()V", null, null);
        init.visitCode();
        init.visitVarInsn(ALOAD, 0);
        init.visitMethodInsn(INVOKESPECIAL, SUPER, "<init>", "()V", false);
        init.visitInsn(RETURN);
        init.visitMaxs(0, 0);
        init.visitEnd();

        mv = cw.visitMethod(0, "run", "(L" + VCPU + ";I)I", null, null);
        mv.visitCode();
        for (int l = N; l <= LAST_LOCAL; l++) {
            if (l < REG0 || l >= FS1) {
                mv.visitInsn(ICONST_0);
                mv.visitVarInsn(ISTORE, l);
            }
        }
        mv.visitInsn(LCONST_0);
        mv.visitVarInsn(LSTORE, PRODUCT);
        for (int l = FAULT_EIP; l <= FAULT_FLAGS; l++) {
            mv.visitInsn(ICONST_0);
            mv.visitVarInsn(ISTORE, l);
        }
        for (int i = 0; i < 8; i++) {
            mv.visitVarInsn(ALOAD, X);
            mv.visitFieldInsn(GETFIELD, VCPU, "r", "[I");
            iconst(i);
            mv.visitInsn(IALOAD);
            mv.visitVarInsn(ISTORE, REG0 + i);
        }
        loops = loopsToStart(block, eips);
        boolean materializeOnBackEdge = loops && flagsLiveAcrossBackEdge(block);
        mv.visitLabel(loopHead);
        fop = -1;
        int count = block.size();
        blockSize = count;
        for (index = 0; index < count; index++) {
            Instruction in = block.get(index);
            instrEip = eips.get(index);
            int next = code32 ? instrEip + in.length() : (instrEip + in.length()) & 0xFFFF;
            Label start = new Label();
            Label end = new Label();
            if (mayFault(in)) {
                mv.visitTryCatchBlock(start, end, faultSite(), "org/polyvisor/x86/X86Exception");
            }
            mv.visitLabel(start);
            boolean stored = instruction(in, next, materializeOnBackEdge);
            mv.visitLabel(end);
            if (stored && index + 1 < count) {
                // A store may have hit translated code (possibly this block): leave if anything went.
                Label ok = new Label();
                mv.visitVarInsn(ALOAD, X);
                mv.visitFieldInsn(GETFIELD, VCPU, "invalidated", "Z");
                mv.visitJumpInsn(IFEQ, ok);
                exitTo(next, index + 1);
                mv.visitLabel(ok);
            }
            if (index == count - 1 && !endsBlock(in.mnemonic())) {
                exitTo(next, count);
            }
        }
        // Common exit: registers back, EIP, retired count.
        mv.visitLabel(exit);
        writeBack();
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "core", "L" + CORE + ";");
        mv.visitVarInsn(ILOAD, EXIT_EIP);
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "setEip", "(I)V", true);
        mv.visitVarInsn(ILOAD, N);
        mv.visitVarInsn(ILOAD, EXIT_K);
        mv.visitInsn(IADD);
        mv.visitInsn(IRETURN);
        for (Runnable site : faultSites) {
            site.run();
        }
        if (faultHandler != null) {
            emitFaultHandler();
        }
        mv.visitMaxs(0, 0);
        mv.visitEnd();
        cw.visitEnd();
        return cw.toByteArray();
    }

    /** Whether a direct branch of the block (its last, or a conditional one inside) targets its start. */
    private boolean loopsToStart(List<Instruction> block, List<Integer> eips) {
        for (int i = 0; i < block.size(); i++) {
            Instruction in = block.get(i);
            if ((in.mnemonic() == Mnemonic.JCC || in.mnemonic() == Mnemonic.JMP)
                    && in.kind(0) == Instruction.KIND_IMM) {
                int e = eips.get(i);
                int next = code32 ? e + in.length() : (e + in.length()) & 0xFFFF;
                if (relTarget(in, next) == startEip) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Whether the loop head may observe the flags as the back edge leaves them (then they must be
     * stored on the back edge): false only when nothing can fault and nothing reads flags before
     * they are all rewritten, or when INC/DEC are the only flag writers (CF, the only flag they
     * read, then never changes inside the loop, so the stored copy stays right).
     */
    private static boolean flagsLiveAcrossBackEdge(List<Instruction> block) {
        boolean onlyIncDec = true;
        boolean anyWriter = false;
        for (Instruction in : block) {
            Mnemonic m = in.mnemonic();
            if (writesFlags(m)) {
                anyWriter = true;
                if (m != Mnemonic.INC && m != Mnemonic.DEC) {
                    onlyIncDec = false;
                }
            }
        }
        for (Instruction in : block) {
            Mnemonic m = in.mnemonic();
            if (mayFault(in) && m != Mnemonic.JCC) {
                return true;
            }
            if (m == Mnemonic.INC || m == Mnemonic.DEC) {
                return !onlyIncDec;
            }
            if (in.operandCount() == 2 && in.kind(1) == Instruction.KIND_REG && writesFlags(m) && m != Mnemonic.IMUL_RM
                    && (m == Mnemonic.SHL || m == Mnemonic.SAL || m == Mnemonic.SHR || m == Mnemonic.SAR)) {
                return true; // by CL: a zero count keeps the flags, so they are read
            }
            if (writesFlags(m)) {
                return m == Mnemonic.ADC || m == Mnemonic.SBB;
            }
            if (readsFlags(m)) {
                return true;
            }
        }
        return anyWriter;
    }

    private static boolean writesFlags(Mnemonic m) {
        switch (m) {
            case ADD: case OR: case ADC: case SBB: case AND: case SUB: case XOR: case CMP: case TEST:
            case INC: case DEC: case NEG: case SHL: case SAL: case SHR: case SAR: case IMUL_RM:
                return true;
            default:
                return false;
        }
    }

    private static boolean readsFlags(Mnemonic m) {
        return m == Mnemonic.JCC || m == Mnemonic.CMOVCC || m == Mnemonic.SETCC || m == Mnemonic.ADC
                || m == Mnemonic.SBB || m == Mnemonic.ROL || m == Mnemonic.ROR; // rotates keep SF, ZF, AF, PF
    }

    /** Emits one instruction; returns whether it stored to memory. */
    private boolean instruction(Instruction in, int next, boolean materializeOnBackEdge) {
        Mnemonic m = in.mnemonic();
        switch (m) {
            case ADD: case OR: case ADC: case SBB: case AND: case SUB: case XOR: case CMP: case TEST:
                return alu(in, m);
            case INC: case DEC:
                return incDec(in, m == Mnemonic.INC);
            case NOT: case NEG:
                return unary(in, m == Mnemonic.NEG);
            case SHL: case SAL: case SHR: case SAR:
                return in.kind(1) == Instruction.KIND_IMM ? shift(in, m) : shiftByCl(in, m);
            case ROL: case ROR:
                return rotate(in, m == Mnemonic.ROL);
            case IMUL_RM: {
                int s = in.size(0);
                int first = in.operandCount() == 3 ? 1 : 0;
                readOperand(in, first, false);
                readOperand(in, first + 1, false);
                iconst(s);
                mv.visitMethodInsn(INVOKESTATIC, RT, "imul", "(III)J", false);
                mv.visitVarInsn(LSTORE, PRODUCT);
                mv.visitVarInsn(LLOAD, PRODUCT);
                mv.visitInsn(L2I);
                storeReg(s, in.reg(0));
                mv.visitVarInsn(ALOAD, X);
                mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
                iconst(s);
                mv.visitVarInsn(LLOAD, PRODUCT);
                mv.visitMethodInsn(INVOKESTATIC, RT, "imulFlags", "(L" + LAZY + ";IJ)V", false);
                fop = -1; // the flags are in the LazyFlags object now
                return false;
            }
            case MOV: {
                readOperand(in, 1, false);
                return writeOperand(in, 0, in.size(0), false);
            }
            case MOVZX: case MOVSX: {
                int s = in.size(1);
                readOperand(in, 1, false);
                if (m == Mnemonic.MOVZX) {
                    mask(s);
                } else if (s < 4) {
                    iconst(32 - s * 8);
                    mv.visitInsn(ISHL);
                    iconst(32 - s * 8);
                    mv.visitInsn(ISHR);
                }
                storeReg(in.size(0), in.reg(0));
                return false;
            }
            case LEA:
                ea(in);
                storeReg(in.size(0), in.reg(0));
                return false;
            case XCHG: {
                int s = in.size(0);
                loadReg(s, in.reg(0));
                mv.visitVarInsn(ISTORE, T1);
                loadReg(s, in.reg(1));
                storeReg(s, in.reg(0));
                mv.visitVarInsn(ILOAD, T1);
                storeReg(s, in.reg(1));
                return false;
            }
            case CMOVCC: {
                int s = in.size(0);
                readOperand(in, 1, false);
                mv.visitVarInsn(ISTORE, T1);
                Label skip = new Label();
                condition(in.condition());
                mv.visitJumpInsn(IFEQ, skip);
                mv.visitVarInsn(ILOAD, T1);
                storeReg(s, in.reg(0));
                mv.visitLabel(skip);
                return false;
            }
            case SETCC:
                condition(in.condition());
                return writeOperand(in, 0, 1, false);
            case PUSH: {
                int s = in.kind(0) == Instruction.KIND_IMM ? in.opSize() : in.size(0);
                readOperand(in, 0, false);
                mv.visitVarInsn(ISTORE, T1);
                push(s, T1);
                return true;
            }
            case POP: {
                int s = in.size(0);
                pop(s);
                storeReg(s, in.reg(0));
                return false;
            }
            case LEAVE: {
                int s = in.opSize();
                loadReg(4, 5);
                if (!stack32) {
                    mask(2);
                }
                mv.visitVarInsn(ISTORE, EA);
                popAt(s); // ESP = EBP + size, EBP = the saved one
                storeReg(s, 5);
                return false;
            }
            case CBW:
                if (in.opSize() == 4) {
                    loadReg(4, 0);
                    mv.visitInsn(I2S);
                    storeReg(4, 0);
                } else {
                    loadReg(4, 0);
                    mv.visitInsn(I2B);
                    storeReg(2, 0);
                }
                return false;
            case CWD:
                loadReg(4, 0);
                if (in.opSize() == 4) {
                    iconst(31);
                    mv.visitInsn(ISHR);
                    storeReg(4, 2);
                } else {
                    mv.visitInsn(I2S);
                    iconst(15);
                    mv.visitInsn(ISHR);
                    storeReg(2, 2);
                }
                return false;
            case NOP: case PAUSE:
                return false;
            case MOVS: case STOS: case LODS:
                return string(in, m, next);
            case JCC: {
                int target = relTarget(in, next);
                Label notTaken = new Label();
                condition(in.condition());
                mv.visitJumpInsn(IFEQ, notTaken);
                jumpTo(target, materializeOnBackEdge);
                mv.visitLabel(notTaken);
                if (index == blockSize - 1) {
                    exitTo(next, index + 1);
                } // else the fall-through path goes on with the next instruction
                return false;
            }
            case JMP:
                if (in.kind(0) == Instruction.KIND_IMM) {
                    jumpTo(relTarget(in, next), materializeOnBackEdge);
                } else {
                    readOperand(in, 0, false);
                    ipMask(in);
                    mv.visitVarInsn(ISTORE, T1);
                    checkTarget(T1);
                    exitToLocal(T1);
                }
                return false;
            case CALL: {
                if (in.kind(0) == Instruction.KIND_IMM) {
                    iconst(relTarget(in, next));
                } else {
                    readOperand(in, 0, false);
                    ipMask(in);
                }
                mv.visitVarInsn(ISTORE, T3);
                checkTarget(T3);
                iconst(next);
                mv.visitVarInsn(ISTORE, T1);
                push(in.opSize(), T1);
                exitToLocal(T3);
                return true;
            }
            case RET: {
                int s = in.opSize();
                sp();
                mv.visitVarInsn(ISTORE, T2);
                read(2, T2, s);
                ipMask(in);
                mv.visitVarInsn(ISTORE, T3);
                checkTarget(T3);
                mv.visitVarInsn(ILOAD, T2);
                iconst(s + (in.operandCount() > 0 ? in.imm() & 0xFFFF : 0));
                mv.visitInsn(IADD);
                setSp();
                exitToLocal(T3);
                return false;
            }
            default:
                throw new IllegalStateException("not translatable: " + in);
        }
    }

    private int relTarget(Instruction in, int next) {
        return (next + in.imm()) & (in.opSize() == 2 ? 0xFFFF : -1);
    }

    private void ipMask(Instruction in) {
        if (in.opSize() == 2) {
            mask(2);
        }
    }

    private void checkTarget(int local) {
        mv.visitVarInsn(ALOAD, X);
        mv.visitVarInsn(ILOAD, local);
        mv.visitMethodInsn(INVOKESTATIC, RT, "checkTarget", "(L" + VCPU + ";I)V", false);
    }

    /** A direct near jump: back edge when it targets the block start, else an exit. */
    private void jumpTo(int target, boolean materializeOnBackEdge) {
        iconst(target);
        mv.visitVarInsn(ISTORE, T1);
        checkTarget(T1);
        if (loops && target == startEip) {
            // Another iteration only if all of it fits in the budget (never retire more than asked).
            mv.visitIincInsn(N, index + 1);
            Label more = new Label();
            mv.visitVarInsn(ILOAD, N);
            iconst(index + 1);
            mv.visitInsn(IADD);
            mv.visitVarInsn(ILOAD, BUDGET);
            mv.visitJumpInsn(IF_ICMPLE, more);
            materializeFlags();
            iconst(target);
            mv.visitVarInsn(ISTORE, EXIT_EIP);
            iconst(0);
            mv.visitVarInsn(ISTORE, EXIT_K);
            mv.visitJumpInsn(GOTO, exit);
            mv.visitLabel(more);
            if (materializeOnBackEdge) {
                materializeFlags();
            }
            mv.visitJumpInsn(GOTO, loopHead);
        } else {
            exitTo(target, index + 1);
        }
    }

    private void exitTo(int eip, int k) {
        materializeFlags();
        iconst(eip);
        mv.visitVarInsn(ISTORE, EXIT_EIP);
        iconst(k);
        mv.visitVarInsn(ISTORE, EXIT_K);
        mv.visitJumpInsn(GOTO, exit);
    }

    private void exitToLocal(int local) {
        materializeFlags();
        mv.visitVarInsn(ILOAD, local);
        mv.visitVarInsn(ISTORE, EXIT_EIP);
        iconst(index + 1);
        mv.visitVarInsn(ISTORE, EXIT_K);
        mv.visitJumpInsn(GOTO, exit);
    }

    /**
     * The handler of the next instruction, emitted after the code: it records where the
     * instruction faulted (its EIP, index and the flags state) and goes on in the shared one.
     * (It replaces a full write-back handler per instruction: mix 270 -> 243 B of bytecode per guest
     * instruction, call 470 -> 450.)
     */
    private Label faultSite() {
        if (faultHandler == null) {
            faultHandler = new Label();
        }
        Label site = new Label();
        int eip = instrEip;
        int idx = index;
        int flags = fop < 0 ? -1 : fop | fsize << 8;
        faultSites.add(() -> {
            mv.visitLabel(site);
            iconst(eip);
            mv.visitVarInsn(ISTORE, FAULT_EIP);
            iconst(idx);
            mv.visitVarInsn(ISTORE, FAULT_IDX);
            iconst(flags);
            mv.visitVarInsn(ISTORE, FAULT_FLAGS);
            mv.visitJumpInsn(GOTO, faultHandler);
        });
        return site;
    }

    /**
     * The handler every faulting instruction's stub goes on in: writes back the state as of the
     * instruction's start (registers, flags, EIP, ESP, retired count) from the locals the stub
     * set and rethrows. Registers not yet changed are written back unchanged.
     */
    private void emitFaultHandler() {
        mv.visitLabel(faultHandler);
        // stack: the X86Exception
        writeBack();
        Label stored = new Label();
        mv.visitVarInsn(ILOAD, FAULT_FLAGS);
        mv.visitJumpInsn(IFLT, stored);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
        mv.visitVarInsn(ILOAD, FAULT_FLAGS);
        iconst(0xFF);
        mv.visitInsn(IAND);
        mv.visitVarInsn(ILOAD, FAULT_FLAGS);
        iconst(8);
        mv.visitInsn(IUSHR);
        loadFlagOperands();
        mv.visitMethodInsn(INVOKEVIRTUAL, LAZY, "setWithCarry", "(IIIIII)V", false);
        mv.visitLabel(stored);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "core", "L" + CORE + ";");
        mv.visitVarInsn(ILOAD, FAULT_EIP);
        mv.visitVarInsn(ILOAD, REG0 + 4);
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "beginInstruction", "(II)V", true);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "core", "L" + CORE + ";");
        mv.visitVarInsn(ILOAD, N);
        mv.visitVarInsn(ILOAD, FAULT_IDX);
        mv.visitInsn(IADD);
        mv.visitInsn(I2L);
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "addRetired", "(J)V", true);
        mv.visitInsn(ATHROW);
    }

    private void writeBack() {
        for (int i = 0; i < 8; i++) {
            if (written[i]) {
                mv.visitVarInsn(ALOAD, X);
                mv.visitFieldInsn(GETFIELD, VCPU, "r", "[I");
                iconst(i);
                mv.visitVarInsn(ILOAD, REG0 + i);
                mv.visitInsn(IASTORE);
            }
        }
    }

    private void materializeFlags() {
        if (fop >= 0) {
            storeFlags(fop, fsize);
        }
    }

    private void storeFlags(int op, int size) {
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
        iconst(op);
        iconst(size);
        loadFlagOperands();
        mv.visitMethodInsn(INVOKEVIRTUAL, LAZY, "setWithCarry", "(IIIIII)V", false);
    }

    /** Pushes the recorded flag operation's src1, src2, result and carry-in. */
    private void loadFlagOperands() {
        mv.visitVarInsn(ILOAD, FS1);
        mv.visitVarInsn(ILOAD, FS2);
        mv.visitVarInsn(ILOAD, FRES);
        mv.visitVarInsn(ILOAD, FCIN);
    }

    /** Records a flag-writing operation: src1, src2, result from locals (masked to size), carry-in. */
    private void recordFlags(int op, int size, int a, int b, int res, int cin) {
        for (int[] p : new int[][] {{a, FS1}, {b, FS2}, {res, FRES}}) {
            if (p[0] < 0) {
                iconst(-p[0] - 1);
            } else {
                mv.visitVarInsn(ILOAD, p[0]);
            }
            mask(size);
            mv.visitVarInsn(ISTORE, p[1]);
        }
        if (cin >= 0) {
            mv.visitVarInsn(ILOAD, cin);
        } else {
            iconst(0);
        }
        mv.visitVarInsn(ISTORE, FCIN);
        fop = op;
        fsize = size;
    }

    /** Pushes the condition {@code cc} as 0/1. */
    private void condition(int cc) {
        if (fop < 0) {
            mv.visitVarInsn(ALOAD, X);
            mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
            iconst(cc);
            mv.visitMethodInsn(INVOKEVIRTUAL, LAZY, "condition", "(I)Z", false);
        } else if (fop == LazyFlags.OP_SUB) {
            iconst(cc);
            iconst(fsize);
            mv.visitVarInsn(ILOAD, FS1);
            mv.visitVarInsn(ILOAD, FS2);
            mv.visitVarInsn(ILOAD, FRES);
            mv.visitMethodInsn(INVOKESTATIC, RT, "condSub", "(IIIII)Z", false);
        } else if (fop == LazyFlags.OP_LOGIC) {
            iconst(cc);
            iconst(fsize);
            mv.visitVarInsn(ILOAD, FRES);
            mv.visitMethodInsn(INVOKESTATIC, RT, "condLogic", "(III)Z", false);
        } else {
            iconst(cc);
            iconst(fop);
            iconst(fsize);
            loadFlagOperands();
            mv.visitMethodInsn(INVOKESTATIC, RT, "condAny", "(IIIIIII)Z", false);
        }
    }

    /** Pushes the current carry flag as 0/1. */
    private void carry() {
        if (fop < 0) {
            mv.visitVarInsn(ALOAD, X);
            mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
            mv.visitMethodInsn(INVOKESTATIC, RT, "carry", "(L" + LAZY + ";)I", false);
        } else {
            iconst(fop);
            iconst(fsize);
            loadFlagOperands();
            mv.visitMethodInsn(INVOKESTATIC, RT, "carry", "(IIIIII)I", false);
        }
    }

    // ---- instruction families ----

    private boolean alu(Instruction in, Mnemonic m) {
        int size = in.size(0);
        readOperand(in, 0, true);
        mv.visitVarInsn(ISTORE, T1);
        readOperand(in, 1, false);
        mv.visitVarInsn(ISTORE, T2);
        int cin = -1;
        if (m == Mnemonic.ADC || m == Mnemonic.SBB) {
            carry();
            mv.visitVarInsn(ISTORE, T3);
            cin = T3;
        }
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        int op;
        switch (m) {
            case ADD -> { mv.visitInsn(IADD); op = LazyFlags.OP_ADD; }
            case ADC -> { mv.visitInsn(IADD); mv.visitVarInsn(ILOAD, T3); mv.visitInsn(IADD); op = LazyFlags.OP_ADC; }
            case SUB, CMP -> { mv.visitInsn(ISUB); op = LazyFlags.OP_SUB; }
            case SBB -> { mv.visitInsn(ISUB); mv.visitVarInsn(ILOAD, T3); mv.visitInsn(ISUB); op = LazyFlags.OP_SBB; }
            case AND, TEST -> { mv.visitInsn(IAND); op = LazyFlags.OP_LOGIC; }
            case OR -> { mv.visitInsn(IOR); op = LazyFlags.OP_LOGIC; }
            default -> { mv.visitInsn(IXOR); op = LazyFlags.OP_LOGIC; }
        }
        mv.visitVarInsn(ISTORE, T4);
        boolean stored = false;
        if (m != Mnemonic.CMP && m != Mnemonic.TEST) {
            mv.visitVarInsn(ILOAD, T4);
            stored = writeOperand(in, 0, size, true);
        }
        recordFlags(op, size, T1, T2, T4, cin);
        return stored;
    }

    private boolean incDec(Instruction in, boolean inc) {
        int size = in.size(0);
        carry();
        mv.visitVarInsn(ISTORE, T3);
        readOperand(in, 0, true);
        mv.visitVarInsn(ISTORE, T1);
        mv.visitVarInsn(ILOAD, T1);
        iconst(1);
        mv.visitInsn(inc ? IADD : ISUB);
        mv.visitVarInsn(ISTORE, T4);
        mv.visitVarInsn(ILOAD, T4);
        boolean stored = writeOperand(in, 0, size, true);
        recordFlags(inc ? LazyFlags.OP_INC : LazyFlags.OP_DEC, size, T1, -2, T4, T3);
        return stored;
    }

    private boolean unary(Instruction in, boolean neg) {
        int size = in.size(0);
        readOperand(in, 0, true);
        mv.visitVarInsn(ISTORE, T1);
        mv.visitVarInsn(ILOAD, T1);
        if (neg) {
            mv.visitInsn(INEG);
        } else {
            iconst(-1);
            mv.visitInsn(IXOR);
        }
        mv.visitVarInsn(ISTORE, T4);
        mv.visitVarInsn(ILOAD, T4);
        boolean stored = writeOperand(in, 0, size, true);
        if (neg) {
            recordFlags(LazyFlags.OP_SUB, size, -1, T1, T4, -1);
        }
        return stored;
    }

    private boolean shift(Instruction in, Mnemonic m) {
        int size = in.size(0);
        int count = in.imm() & 0x1F;
        readOperand(in, 0, true);
        mask(size);
        mv.visitVarInsn(ISTORE, T1);
        iconst(count);
        mv.visitVarInsn(ISTORE, T2);
        mv.visitVarInsn(ILOAD, T1);
        int op;
        if (m == Mnemonic.SHR) {
            iconst(count);
            mv.visitInsn(IUSHR);
            op = LazyFlags.OP_SHR;
        } else if (m == Mnemonic.SAR) {
            if (size < 4) {
                iconst(32 - size * 8);
                mv.visitInsn(ISHL);
                iconst(32 - size * 8);
                mv.visitInsn(ISHR);
            }
            iconst(count);
            mv.visitInsn(ISHR);
            op = LazyFlags.OP_SAR;
        } else {
            iconst(count);
            mv.visitInsn(ISHL);
            op = LazyFlags.OP_SHL;
        }
        mv.visitVarInsn(ISTORE, T4);
        mv.visitVarInsn(ILOAD, T4);
        boolean stored = writeOperand(in, 0, size, true);
        recordFlags(op, size, T1, T2, T4, -1);
        return stored;
    }

    /**
     * SHL/SHR/SAR by CL: a count of 0 (after masking) changes nothing, not even the flags, and does
     * not write the destination, so the flags go to the LazyFlags object first and both paths end
     * with them there.
     */
    private boolean shiftByCl(Instruction in, Mnemonic m) {
        int size = in.size(0);
        destinationWithFlagsStored(in, size);
        loadReg(1, 1);
        iconst(0x1F);
        mv.visitInsn(IAND);
        mv.visitVarInsn(ISTORE, T2);
        Label none = new Label();
        mv.visitVarInsn(ILOAD, T2);
        mv.visitJumpInsn(IFEQ, none);
        mv.visitVarInsn(ILOAD, T1);
        int op;
        if (m == Mnemonic.SHR) {
            op = LazyFlags.OP_SHR;
        } else if (m == Mnemonic.SAR) {
            op = LazyFlags.OP_SAR;
            if (size < 4) {
                iconst(32 - size * 8);
                mv.visitInsn(ISHL);
                iconst(32 - size * 8);
                mv.visitInsn(ISHR);
            }
        } else {
            op = LazyFlags.OP_SHL;
        }
        mv.visitVarInsn(ILOAD, T2);
        mv.visitInsn(op == LazyFlags.OP_SHR ? IUSHR : op == LazyFlags.OP_SAR ? ISHR : ISHL);
        mv.visitVarInsn(ISTORE, T4);
        mv.visitVarInsn(ILOAD, T4);
        writeOperand(in, 0, size, true);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
        iconst(op);
        iconst(size);
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitVarInsn(ILOAD, T4);
        iconst(0);
        mv.visitMethodInsn(INVOKEVIRTUAL, LAZY, "setWithCarry", "(IIIIII)V", false);
        mv.visitLabel(none);
        return in.kind(0) == Instruction.KIND_MEM;
    }

    /**
     * Iterations of a REP string instruction done per execution, as the interpreter slices them:
     * if more remain, the block leaves with EIP on the instruction (that slice counted as one
     * retired instruction, as the interpreter counts it), so exits and interrupts are seen.
     */
    private static final int REP_SLICE = 1024;

    /**
     * MOVS, STOS, LODS (32-bit addressing) with or without REP, as a JVM loop. ESI/EDI/ECX change
     * in their locals after each iteration's last faulting step, so a fault leaves exactly the
     * iterations done so far (SDM Vol. 2B, REP: the registers are updated per iteration) with EIP
     * on the instruction. DF is read from EFLAGS once per execution; no flag is written.
     */
    private boolean string(Instruction in, Mnemonic m, int next) {
        int size = in.size(0);
        boolean rep = in.repPrefix() != 0;
        // T2 = the step (+size, or -size when DF is set)
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "core", "L" + CORE + ";");
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "systemFlags", "()I", true);
        iconst(Eflags.DF);
        mv.visitInsn(IAND);
        Label up = new Label();
        Label stepped = new Label();
        mv.visitJumpInsn(IFEQ, up);
        iconst(-size);
        mv.visitJumpInsn(GOTO, stepped);
        mv.visitLabel(up);
        iconst(size);
        mv.visitLabel(stepped);
        mv.visitVarInsn(ISTORE, T2);
        Label done = new Label();
        Label head = new Label();
        if (rep) {
            iconst(REP_SLICE);
            mv.visitVarInsn(ISTORE, T3);
            mv.visitLabel(head);
            mv.visitVarInsn(ILOAD, REG0 + 1);
            mv.visitJumpInsn(IFEQ, done);
            mv.visitIincInsn(T3, -1);
            mv.visitVarInsn(ILOAD, T3);
            Label more = new Label();
            mv.visitJumpInsn(IFGE, more);
            exitTo(instrEip, index + 1); // slice done, ECX not yet 0: run the instruction again
            mv.visitLabel(more);
        }
        int seg = in.segment();
        switch (m) {
            case MOVS -> {
                read(seg, REG0 + 6, size);
                mv.visitVarInsn(ISTORE, WV);
                write(0, REG0 + 7, size, WV);
                step(6);
                step(7);
            }
            case STOS -> {
                loadReg(size, 0);
                mv.visitVarInsn(ISTORE, WV);
                write(0, REG0 + 7, size, WV);
                step(7);
            }
            default -> { // LODS
                read(seg, REG0 + 6, size);
                storeReg(size, 0);
                step(6);
            }
        }
        if (rep) {
            mv.visitIincInsn(REG0 + 1, -1);
            written[1] = true;
            mv.visitJumpInsn(GOTO, head);
            mv.visitLabel(done);
        }
        return m != Mnemonic.LODS;
    }

    /** Adds the string step (T2) to register {@code n}. */
    private void step(int n) {
        mv.visitVarInsn(ILOAD, REG0 + n);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitInsn(IADD);
        mv.visitVarInsn(ISTORE, REG0 + n);
        written[n] = true;
    }

    /** Stores the flags into the LazyFlags object, then reads the destination into T1 (masked). */
    private void destinationWithFlagsStored(Instruction in, int size) {
        materializeFlags();
        fop = -1;
        readOperand(in, 0, true);
        mask(size);
        mv.visitVarInsn(ISTORE, T1);
    }

    /**
     * ROL/ROR by an immediate or by CL. A count of 0 (after masking) changes nothing; otherwise
     * CF and OF are set from the result and the other flags kept (SDM Vol. 2B, RCL/RCR/ROL/ROR),
     * so the flags go to the LazyFlags object first and are updated there after the store.
     */
    private boolean rotate(Instruction in, boolean left) {
        int size = in.size(0);
        destinationWithFlagsStored(in, size);
        Label none = new Label();
        if (in.kind(1) == Instruction.KIND_IMM) {
            iconst(in.imm() & 0x1F);
            mv.visitVarInsn(ISTORE, T2);
        } else {
            loadReg(1, 1);
            iconst(0x1F);
            mv.visitInsn(IAND);
            mv.visitVarInsn(ISTORE, T2);
            mv.visitVarInsn(ILOAD, T2);
            mv.visitJumpInsn(IFEQ, none);
        }
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        iconst(left ? 1 : 0);
        iconst(size);
        mv.visitMethodInsn(INVOKESTATIC, SELF, "rotated", "(IIZI)I", false);
        mv.visitVarInsn(ISTORE, T4);
        mv.visitVarInsn(ILOAD, T4);
        writeOperand(in, 0, size, true);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
        iconst(left ? 1 : 0);
        iconst(size);
        mv.visitVarInsn(ILOAD, T4);
        mv.visitMethodInsn(INVOKESTATIC, SELF, "rotateFlags", "(L" + LAZY + ";ZII)V", false);
        mv.visitLabel(none);
        return in.kind(0) == Instruction.KIND_MEM;
    }

    /** {@code a} (zero-extended from {@code size} bytes) rotated by {@code count} (1..31). */
    static int rotated(int a, int count, boolean left, int size) {
        int bits = size * 8;
        int n = count % bits;
        if (n == 0) {
            return a;
        }
        int r = left ? a << n | a >>> (bits - n) : a >>> n | a << (bits - n);
        return r & LazyFlags.mask(size);
    }

    /** CF and OF after a rotate that gave {@code r}; the other flags stay. */
    static void rotateFlags(LazyFlags f, boolean left, int size, int r) {
        int sign = LazyFlags.signBit(size);
        boolean msb = (r & sign) != 0;
        int flags = f.get() & ~(Eflags.CF | Eflags.OF);
        if (left) {
            flags |= r & 1;
            if (msb != ((r & 1) != 0)) {
                flags |= Eflags.OF;
            }
        } else {
            if (msb) {
                flags |= Eflags.CF;
            }
            if (msb != ((r & (sign >>> 1)) != 0)) {
                flags |= Eflags.OF;
            }
        }
        f.setAll(flags);
    }

    // ---- operands ----

    /**
     * Pushes operand {@code i}. With {@code keepEa} a memory operand's address stays in EA for a
     * following {@link #writeOperand} with {@code reuseEa}.
     */
    private void readOperand(Instruction in, int i, boolean keepEa) {
        switch (in.kind(i)) {
            case Instruction.KIND_REG -> loadReg(in.size(i), in.reg(i));
            case Instruction.KIND_IMM -> iconst(in.reg(i) == 0 ? in.imm() : in.imm2());
            case Instruction.KIND_MEM -> {
                ea(in);
                mv.visitVarInsn(ISTORE, EA);
                read(in.segment(), EA, in.size(i));
            }
            default -> throw new IllegalStateException("operand " + i + " of " + in);
        }
    }

    /** Pops a value into operand {@code i}; returns whether that was a memory store. */
    private boolean writeOperand(Instruction in, int i, int size, boolean reuseEa) {
        if (in.kind(i) == Instruction.KIND_REG) {
            storeReg(size, in.reg(i));
            return false;
        }
        mv.visitVarInsn(ISTORE, WV);
        // compute the address unless the read of a read-modify-write left it in EA
        if (!reuseEa) {
            ea(in);
            mv.visitVarInsn(ISTORE, EA);
        }
        write(in.segment(), EA, size, WV);
        return true;
    }

    private void ea(Instruction in) {
        iconst(in.disp());
        if (in.memBase() >= 0) {
            mv.visitVarInsn(ILOAD, REG0 + in.memBase());
            mv.visitInsn(IADD);
        }
        if (in.memIndex() >= 0) {
            mv.visitVarInsn(ILOAD, REG0 + in.memIndex());
            if (in.memScale() != 0) {
                iconst(in.memScale());
                mv.visitInsn(ISHL);
            }
            mv.visitInsn(IADD);
        }
        if (in.addrSize() == 2) {
            mask(2);
        }
    }

    private boolean flat(int seg) {
        return flat && (seg == 0 || seg == 2 || seg == 3);
    }

    private void read(int seg, int offLocal, int size) {
        mv.visitVarInsn(ALOAD, X);
        iconst(seg);
        mv.visitVarInsn(ILOAD, offLocal);
        iconst(size);
        iconst(user);
        mv.visitMethodInsn(INVOKESTATIC, RT, flat(seg) ? "readFlat" : "read", "(L" + VCPU + ";IIII)I", false);
    }

    private void write(int seg, int offLocal, int size, int valueLocal) {
        mv.visitVarInsn(ALOAD, X);
        iconst(seg);
        mv.visitVarInsn(ILOAD, offLocal);
        iconst(size);
        mv.visitVarInsn(ILOAD, valueLocal);
        iconst(user);
        mv.visitMethodInsn(INVOKESTATIC, RT, flat(seg) ? "writeFlat" : "write", "(L" + VCPU + ";IIIII)V", false);
    }

    // ---- stack ----

    /** Pushes SP or ESP (by the stack size). */
    private void sp() {
        loadReg(4, 4);
        if (!stack32) {
            mask(2);
        }
    }

    /** Pops a new stack pointer value into ESP (only SP with a 16-bit stack). */
    private void setSp() {
        storeReg(stack32 ? 4 : 2, 4);
    }

    private void push(int size, int valueLocal) {
        loadReg(4, 4);
        iconst(size);
        mv.visitInsn(ISUB);
        if (!stack32) {
            mask(2);
        }
        mv.visitVarInsn(ISTORE, EA);
        write(2, EA, size, valueLocal);
        mv.visitVarInsn(ILOAD, EA);
        setSp();
    }

    /** Pops into the operand stack (value), updating ESP. */
    private void pop(int size) {
        sp();
        mv.visitVarInsn(ISTORE, EA);
        popAt(size);
    }

    /** Reads the stack at SS:EA onto the operand stack, then sets the stack pointer to EA + size. */
    private void popAt(int size) {
        read(2, EA, size);
        mv.visitVarInsn(ISTORE, T1);
        mv.visitVarInsn(ILOAD, EA);
        iconst(size);
        mv.visitInsn(IADD);
        setSp();
        mv.visitVarInsn(ILOAD, T1);
    }

    // ---- registers ----

    private void loadReg(int size, int n) {
        if (size == 4) {
            mv.visitVarInsn(ILOAD, REG0 + n);
        } else if (size == 2) {
            mv.visitVarInsn(ILOAD, REG0 + n);
            mask(2);
        } else if (n < 4) {
            mv.visitVarInsn(ILOAD, REG0 + n);
            mask(1);
        } else {
            mv.visitVarInsn(ILOAD, REG0 + n - 4);
            iconst(8);
            mv.visitInsn(IUSHR);
            mask(1);
        }
    }

    /** Pops a value into a register of the given size (partial registers merge). */
    private void storeReg(int size, int n) {
        if (size == 4) {
            mv.visitVarInsn(ISTORE, REG0 + n);
            written[n] = true;
            return;
        }
        int reg = size == 1 && n >= 4 ? n - 4 : n;
        written[reg] = true;
        if (size == 2) {
            mask(2);
            mv.visitVarInsn(ILOAD, REG0 + reg);
            iconst(0xFFFF_0000);
        } else if (n < 4) {
            mask(1);
            mv.visitVarInsn(ILOAD, REG0 + reg);
            iconst(0xFFFF_FF00);
        } else {
            mask(1);
            iconst(8);
            mv.visitInsn(ISHL);
            mv.visitVarInsn(ILOAD, REG0 + reg);
            iconst(0xFFFF_00FF);
        }
        mv.visitInsn(IAND);
        mv.visitInsn(IOR);
        mv.visitVarInsn(ISTORE, REG0 + reg);
    }

    private void mask(int size) {
        if (size == 1) {
            iconst(0xFF);
            mv.visitInsn(IAND);
        } else if (size == 2) {
            iconst(0xFFFF);
            mv.visitInsn(IAND);
        }
    }

    private void iconst(int v) {
        if (v >= -1 && v <= 5) {
            mv.visitInsn(ICONST_0 + v);
        } else if (v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE) {
            mv.visitIntInsn(BIPUSH, v);
        } else if (v >= Short.MIN_VALUE && v <= Short.MAX_VALUE) {
            mv.visitIntInsn(SIPUSH, v);
        } else {
            mv.visitLdcInsn(v);
        }
    }
}
