package org.polyvisor.cpu.bt.internal;

import static org.objectweb.asm.Opcodes.*;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.polyvisor.cpu.interpreter.core.InterpreterCore;
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
 * flag work nobody reads is never done. Loads and stores through flat segments have the software
 * TLB's hit path emitted inline (tag compare, host buffer access), other segments go through
 * {@link Rt#read}/{@link Rt#write}, and misses through the interpreter core. Every instruction that can fault has an exception handler that
 * writes back the state as of that instruction's start (registers, flags, EIP, ESP, retired count)
 * before the fault reaches the interpreter, so guest exceptions are precise; instructions order
 * their work so no register or flag local changes before their last faulting step. A block whose
 * branch returns to its own start becomes a JVM loop, bounded by the budget.
 *
 * <p>A block ends after an unconditional near control transfer (a conditional branch leaves
 * when taken and goes on in the same translation otherwise), after INT n, INT3, INTO, UD2 and IRET (calls
 * into the core's event delivery, {@code InterpreterCore#event}), before an instruction it does not translate
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
    private static final String BUFFER = "java/nio/ByteBuffer";

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
    /** TLB slot and host buffer of the inline memory access under way. */
    private static final int SLOT = 26;
    private static final int BUF = 27;
    // The instruction a fault was raised at: its EIP, its index in its block, and the lazy flags
    // operation then (op | size << 8, or -1 when the flags are already stored). Set by the
    // instruction's handler stub, read by the method's one shared exception handler.
    private static final int FAULT_EIP = 28;
    private static final int FAULT_IDX = 29;
    private static final int FAULT_FLAGS = 30;

    /**
     * What a translation attempt produced: {@code endsWith} is the class of the sensitive instruction
     * the translation itself ends with (a call into the core, see {@link #event}), or null.
     */
    record Result(CompiledBlock code, int instructions, int guestBytes, int bytecodeBytes, Instruction stoppedAt,
                  Sensitive stoppedAtClass, Sensitive endsWith, int end) {
        Result(CompiledBlock code, int instructions, int guestBytes, int bytecodeBytes, Instruction stoppedAt,
               Sensitive stoppedAtClass) {
            this(code, instructions, guestBytes, bytecodeBytes, stoppedAt, stoppedAtClass, null, END_OTHER);
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
            return new Result(code, block.size(), offset, bytes.length, stop, cls, Sensitive.of(last), end);
        } catch (Throwable t) {
            throw new IllegalStateException("translation of " + block.size() + " instructions at "
                    + Integer.toHexString(eip) + " failed: " + t, t);
        }
    }

    private static boolean endsBlock(Mnemonic m) {
        return m == Mnemonic.JMP || m == Mnemonic.JCC || m == Mnemonic.CALL || m == Mnemonic.RET || isEvent(m);
    }

    /** Instructions translated as a call into the core's event delivery ({@link #event}). */
    private static boolean isEvent(Mnemonic m) {
        return m == Mnemonic.INT || m == Mnemonic.INT3 || m == Mnemonic.INTO || m == Mnemonic.UD2 || m == Mnemonic.IRET;
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
                // With a memory operand XCHG is locked without the prefix (SDM Vol. 2B, XCHG): the
                // interpreter runs it atomically with respect to the other vCPUs, as it does LOCK.
                return n == 2 && in.kind(0) == Instruction.KIND_REG && in.kind(1) == Instruction.KIND_REG;
            case XADD: case CMPXCHG:
                return n == 2 && isRegOrMem(in, 0) && in.kind(1) == Instruction.KIND_REG;
            case MUL: case IMUL: case DIV: case IDIV:
                return n == 1 && isRegOrMem(in, 0);
            case SHLD: case SHRD:
                return n == 3 && isRegOrMem(in, 0) && in.kind(1) == Instruction.KIND_REG
                        && (in.kind(2) == Instruction.KIND_IMM || in.kind(2) == Instruction.KIND_REG);
            case BT: case BTS: case BTR: case BTC:
                return n == 2 && isRegOrMem(in, 0) && (in.kind(1) == Instruction.KIND_REG || in.kind(1) == Instruction.KIND_IMM);
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
            case INT:
                return n == 1 && in.kind(0) == Instruction.KIND_IMM;
            case INT3: case INTO: case UD2: case IRET:
                return true;
            case MOVS: case STOS: case LODS: case CMPS: case SCAS:
                return true; // REPNE on MOVS/STOS/LODS is REP (SDM Vol. 2B, REP/REPE/REPZ)
            default:
                return false;
        }
    }

    private static boolean mayFault(Instruction in) {
        switch (in.mnemonic()) {
            case PUSH: case POP: case JCC: case JMP: case CALL: case RET: case LEAVE:
            case MOVS: case STOS: case LODS: case CMPS: case SCAS:
                return true;
            case LEA: case NOP: case PAUSE: case CBW: case CWD:
                return false;
            case DIV: case IDIV: // #DE
                return true;
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
        mv.visitInsn(ICONST_0);
        mv.visitVarInsn(ISTORE, SLOT);
        mv.visitInsn(ACONST_NULL);
        mv.visitVarInsn(ASTORE, BUF);
        for (int l = FAULT_EIP; l <= FAULT_FLAGS; l++) {
            mv.visitInsn(ICONST_0);
            mv.visitVarInsn(ISTORE, l);
        }
        loadRegisters();
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
            if ((in.mnemonic() == Mnemonic.CMPS || in.mnemonic() == Mnemonic.SCAS) && in.repPrefix() != 0) {
                // its iterations keep their flags in the LazyFlags object, which its fault handler must leave
                materializeFlags();
                fop = -1;
            }
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
            case XADD: case CMPXCHG: case CMPS: case SCAS:
                return true;
            default:
                return false;
        }
    }

    private static boolean readsFlags(Mnemonic m) {
        return m == Mnemonic.JCC || m == Mnemonic.CMOVCC || m == Mnemonic.SETCC || m == Mnemonic.ADC
                || m == Mnemonic.SBB || m == Mnemonic.ROL || m == Mnemonic.ROR // rotates keep SF, ZF, AF, PF
                // these leave (DIV) or update (BT*: CF only, MUL) the flags in the LazyFlags object
                || m == Mnemonic.MUL || m == Mnemonic.IMUL || m == Mnemonic.DIV || m == Mnemonic.IDIV
                || m == Mnemonic.BT || m == Mnemonic.BTS || m == Mnemonic.BTR || m == Mnemonic.BTC
                || m == Mnemonic.SHLD || m == Mnemonic.SHRD; // a zero count keeps them
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
            case INT: case INT3: case INTO: case UD2: case IRET:
                event(in, next);
                return false;
            case XCHG: {
                // the memory operand (operand 0 when there is one) first: a faulting store leaves the register
                int s = in.size(0);
                readOperand(in, 0, true);
                mv.visitVarInsn(ISTORE, T1);
                loadReg(s, in.reg(1));
                boolean stored = writeOperand(in, 0, s, true);
                mv.visitVarInsn(ILOAD, T1);
                storeReg(s, in.reg(1));
                return stored;
            }
            case XADD:
                return xadd(in);
            case CMPXCHG:
                return cmpxchg(in);
            case MUL: case IMUL: case DIV: case IDIV:
                mulDiv(in, m);
                return false;
            case BT: case BTS: case BTR: case BTC:
                return bitTest(in, m);
            case SHLD: case SHRD:
                return doubleShift(in, m == Mnemonic.SHLD);
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
            case MOVS: case STOS: case LODS: case CMPS: case SCAS:
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
            // Another iteration only if all of it fits in the budget (never retire more than asked):
            // the whole block, since the next pass may not take this branch (when it is not the last
            // instruction) and run on to the end.
            mv.visitIincInsn(N, index + 1);
            Label more = new Label();
            mv.visitVarInsn(ILOAD, N);
            iconst(blockSize);
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
     * INT n, INT3, INTO, UD2, IRET: the block's state goes back to the core, whose event delivery
     * executes the instruction exactly as the interpreter does (its faults, and faults while
     * delivering, are delivered there, not thrown), and the block ends where the guest goes on. The
     * registers are reloaded, since delivery and IRET move ESP.
     */
    private void event(Instruction in, int next) {
        int kind = switch (in.mnemonic()) {
            case INT -> InterpreterCore.EVENT_INT;
            case INT3 -> InterpreterCore.EVENT_INT3;
            case INTO -> InterpreterCore.EVENT_INTO;
            case UD2 -> InterpreterCore.EVENT_UD2;
            default -> in.opSize() == 2 ? InterpreterCore.EVENT_IRET16 : InterpreterCore.EVENT_IRET32;
        };
        materializeFlags();
        fop = -1; // the flags are in the core now
        writeBack();
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "core", "L" + CORE + ";");
        iconst(kind);
        iconst(in.mnemonic() == Mnemonic.INT ? in.imm() & 0xFF : 0);
        iconst(instrEip);
        iconst(next);
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "event", "(IIII)V", true);
        mv.visitVarInsn(ALOAD, X);
        mv.visitInsn(ICONST_1);
        mv.visitFieldInsn(PUTFIELD, VCPU, "event", "Z");
        loadRegisters();
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "core", "L" + CORE + ";");
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "eip", "()I", true);
        mv.visitVarInsn(ISTORE, T1);
        exitToLocal(T1);
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

    /** The eight general registers from the vCPU into their locals. */
    private void loadRegisters() {
        for (int i = 0; i < 8; i++) {
            mv.visitVarInsn(ALOAD, X);
            mv.visitFieldInsn(GETFIELD, VCPU, "r", "[I");
            iconst(i);
            mv.visitInsn(IALOAD);
            mv.visitVarInsn(ISTORE, REG0 + i);
        }
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

    /**
     * Pushes the condition {@code cc} as 0/1. The common conditions of the statically known last
     * flag writer are compares of its kept operands or result emitted inline (a call the JIT may
     * decline to inline would cost more than the compare); the rest go through {@link Rt}.
     */
    private void condition(int cc) {
        if (fop < 0) {
            mv.visitVarInsn(ALOAD, X);
            mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
            iconst(cc);
            mv.visitMethodInsn(INVOKEVIRTUAL, LAZY, "condition", "(I)Z", false);
            return;
        }
        boolean negate = (cc & 1) != 0; // odd condition codes are the negation of the even one below
        int base = cc & ~1;
        if (base == 4 || base == 8) { // ZF, SF: from the result alone, for every operation
            mv.visitVarInsn(ILOAD, FRES);
            if (base == 8) {
                iconst(LazyFlags.signBit(fsize));
                mv.visitInsn(IAND);
                toBit(negate ? IFEQ : IFNE); // S: the sign bit set
            } else {
                toBit(negate ? IFNE : IFEQ); // E: a zero result
            }
            return;
        }
        if (fop == LazyFlags.OP_SUB && (base == 2 || base == 6 || base == 0xC || base == 0xE)) {
            // B/BE unsigned, L/LE signed on the compared operands (SDM Vol. 1, Jcc conditions)
            boolean signed = base >= 0xC;
            boolean orEqual = base == 6 || base == 0xE;
            operand(FS1, signed);
            operand(FS2, signed);
            if (signed || fsize < 4) {
                toBit(negate ? (orEqual ? IF_ICMPGT : IF_ICMPGE) : (orEqual ? IF_ICMPLE : IF_ICMPLT));
            } else {
                mv.visitMethodInsn(INVOKESTATIC, "java/lang/Integer", "compareUnsigned", "(II)I", false);
                toBit(negate ? (orEqual ? IFGT : IFGE) : (orEqual ? IFLE : IFLT));
            }
            return;
        }
        if (fop == LazyFlags.OP_LOGIC && base != 0xA) { // CF = OF = 0
            switch (base) {
                case 0, 2 -> iconst(negate ? 1 : 0);
                case 6 -> { // BE: ZF
                    mv.visitVarInsn(ILOAD, FRES);
                    toBit(negate ? IFNE : IFEQ);
                }
                case 0xC -> { // L: SF
                    mv.visitVarInsn(ILOAD, FRES);
                    iconst(LazyFlags.signBit(fsize));
                    mv.visitInsn(IAND);
                    toBit(negate ? IFEQ : IFNE);
                }
                default -> { // LE: ZF or SF, i.e. the result read as signed is <= 0
                    operand(FRES, true);
                    toBit(negate ? IFGT : IFLE);
                }
            }
            return;
        }
        if (base == 2 && (fop == LazyFlags.OP_ADD || fop == LazyFlags.OP_SUB || fop == LazyFlags.OP_INC
                || fop == LazyFlags.OP_DEC)) {
            carry();
            if (negate) {
                iconst(1);
                mv.visitInsn(IXOR);
            }
            return;
        }
        if (fop == LazyFlags.OP_SUB) {
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

    /** Pushes a kept flag operand (zero-extended from the size), sign-extended when asked. */
    private void operand(int local, boolean signed) {
        mv.visitVarInsn(ILOAD, local);
        if (signed && fsize == 2) {
            mv.visitInsn(I2S);
        } else if (signed && fsize == 1) {
            mv.visitInsn(I2B);
        }
    }

    /** Replaces the operand(s) of a conditional jump opcode on the stack with 1 if it jumps, else 0. */
    private void toBit(int jumpOpcode) {
        Label yes = new Label();
        Label end = new Label();
        mv.visitJumpInsn(jumpOpcode, yes);
        iconst(0);
        mv.visitJumpInsn(GOTO, end);
        mv.visitLabel(yes);
        iconst(1);
        mv.visitLabel(end);
    }

    /** Pushes the current carry flag as 0/1 (inline for the operations the translator keeps). */
    private void carry() {
        if (fop < 0) {
            mv.visitVarInsn(ALOAD, X);
            mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
            mv.visitMethodInsn(INVOKESTATIC, RT, "carry", "(L" + LAZY + ";)I", false);
        } else if (fop == LazyFlags.OP_ADD || fop == LazyFlags.OP_SUB) {
            // ADD: the (size-masked) result is below an operand; SUB: the minuend is below the subtrahend
            mv.visitVarInsn(ILOAD, fop == LazyFlags.OP_ADD ? FRES : FS1);
            mv.visitVarInsn(ILOAD, fop == LazyFlags.OP_ADD ? FS1 : FS2);
            if (fsize < 4) {
                toBit(IF_ICMPLT);
            } else {
                mv.visitMethodInsn(INVOKESTATIC, "java/lang/Integer", "compareUnsigned", "(II)I", false);
                toBit(IFLT);
            }
        } else if (fop == LazyFlags.OP_LOGIC) {
            iconst(0);
        } else if (fop == LazyFlags.OP_INC || fop == LazyFlags.OP_DEC) {
            mv.visitVarInsn(ILOAD, FCIN);
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

    /** XADD: the sum to the destination, its old value to the source register; flags as ADD. */
    private boolean xadd(Instruction in) {
        int size = in.size(0);
        readOperand(in, 0, true);
        mask(size);
        mv.visitVarInsn(ISTORE, T1);
        loadReg(size, in.reg(1));
        mv.visitVarInsn(ISTORE, T2);
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitInsn(IADD);
        mv.visitVarInsn(ISTORE, T4);
        boolean mem = in.kind(0) == Instruction.KIND_MEM;
        if (!mem) {
            // SDM order SRC <- DEST, then DEST <- sum: XADD r, r (one register) keeps the sum
            mv.visitVarInsn(ILOAD, T1);
            storeReg(size, in.reg(1));
        }
        mv.visitVarInsn(ILOAD, T4);
        writeOperand(in, 0, size, true); // memory first: a faulting store leaves the register
        if (mem) {
            mv.visitVarInsn(ILOAD, T1);
            storeReg(size, in.reg(1));
        }
        recordFlags(LazyFlags.OP_ADD, size, T1, T2, T4, -1);
        return mem;
    }

    /**
     * CMPXCHG: flags as CMP accumulator, destination; equal: the source to the destination; else
     * the destination written back unchanged (the processor always writes it) and loaded into the
     * accumulator.
     */
    private boolean cmpxchg(Instruction in) {
        int size = in.size(0);
        readOperand(in, 0, true);
        mask(size);
        mv.visitVarInsn(ISTORE, T2);
        loadReg(size, 0);
        mv.visitVarInsn(ISTORE, T1);
        Label differ = new Label();
        Label done = new Label();
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitJumpInsn(IF_ICMPNE, differ);
        loadReg(size, in.reg(1));
        writeOperand(in, 0, size, true);
        mv.visitJumpInsn(GOTO, done);
        mv.visitLabel(differ);
        mv.visitVarInsn(ILOAD, T2);
        writeOperand(in, 0, size, true);
        mv.visitVarInsn(ILOAD, T2);
        storeReg(size, 0);
        mv.visitLabel(done);
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitInsn(ISUB);
        mv.visitVarInsn(ISTORE, T4);
        recordFlags(LazyFlags.OP_SUB, size, T1, T2, T4, -1);
        return in.kind(0) == Instruction.KIND_MEM;
    }

    /**
     * MUL, IMUL (one operand), DIV, IDIV through {@link Rt#mul}/{@link Rt#div}, which return the
     * new EAX and EDX; DIV/IDIV raise #DE before any register changes. The flags go to the
     * LazyFlags object first (MUL sets them there; DIV leaves them).
     */
    private void mulDiv(Instruction in, Mnemonic m) {
        int size = in.size(0);
        boolean signed = m == Mnemonic.IMUL || m == Mnemonic.IDIV;
        materializeFlags();
        fop = -1;
        readOperand(in, 0, false);
        mv.visitVarInsn(ISTORE, T1);
        if (m == Mnemonic.MUL || m == Mnemonic.IMUL) {
            mv.visitVarInsn(ALOAD, X);
            mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
        }
        iconst(size);
        iconst(signed ? 1 : 0);
        mv.visitVarInsn(ILOAD, REG0);
        mv.visitVarInsn(ILOAD, REG0 + 2);
        mv.visitVarInsn(ILOAD, T1);
        if (m == Mnemonic.MUL || m == Mnemonic.IMUL) {
            mv.visitMethodInsn(INVOKESTATIC, RT, "mul", "(L" + LAZY + ";IZIII)J", false);
        } else {
            mv.visitMethodInsn(INVOKESTATIC, RT, "div", "(IZIII)J", false);
        }
        mv.visitVarInsn(LSTORE, PRODUCT);
        mv.visitVarInsn(LLOAD, PRODUCT);
        mv.visitInsn(L2I);
        storeReg(4, 0);
        mv.visitVarInsn(LLOAD, PRODUCT);
        iconst(32);
        mv.visitInsn(LUSHR);
        mv.visitInsn(L2I);
        storeReg(4, 2);
    }

    /**
     * SHLD/SHRD by an immediate or CL, through {@link Rt#doubleShift}: a count of 0 (after
     * masking) reads the destination and changes nothing; otherwise the result is stored, then the
     * flags set (in the LazyFlags object, where the block's flags were put first).
     */
    private boolean doubleShift(Instruction in, boolean left) {
        int size = in.size(0);
        destinationWithFlagsStored(in, size);
        loadReg(size, in.reg(1));
        mv.visitVarInsn(ISTORE, T2);
        Label none = new Label();
        if (in.kind(2) == Instruction.KIND_IMM && (in.imm() & 0x1F) == 0) {
            return false;
        }
        shiftCount(in, 2, T3, none);
        iconst(size);
        iconst(left ? 1 : 0);
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitVarInsn(ILOAD, T3);
        mv.visitMethodInsn(INVOKESTATIC, RT, "doubleShift", "(IZIII)J", false);
        mv.visitVarInsn(LSTORE, PRODUCT);
        mv.visitVarInsn(LLOAD, PRODUCT);
        mv.visitInsn(L2I);
        writeOperand(in, 0, size, true);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
        mv.visitVarInsn(LLOAD, PRODUCT);
        iconst(32);
        mv.visitInsn(LUSHR);
        mv.visitInsn(L2I);
        mv.visitMethodInsn(INVOKEVIRTUAL, LAZY, "setAll", "(I)V", false);
        mv.visitLabel(none);
        return in.kind(0) == Instruction.KIND_MEM;
    }

    /**
     * BT, BTS, BTR, BTC. A register bit offset on a memory operand addresses memory beyond it
     * (signed, in operand-size units: SDM Vol. 2A, BT); an immediate one is taken modulo the
     * operand width. The store (if any) comes before CF is set, so a fault leaves the flags.
     */
    private boolean bitTest(Instruction in, Mnemonic m) {
        int size = in.size(0);
        int bits = size * 8;
        boolean mem = in.kind(0) == Instruction.KIND_MEM;
        materializeFlags();
        fop = -1;
        if (in.kind(1) == Instruction.KIND_IMM) {
            iconst(in.imm() & (bits - 1));
            mv.visitVarInsn(ISTORE, T2);
            readOperand(in, 0, true);
        } else {
            loadReg(size, in.reg(1));
            if (size == 2) {
                mv.visitInsn(I2S);
            }
            mv.visitVarInsn(ISTORE, T2);
            if (mem) {
                // EA = the operand's address + (offset >> log2(bits)) * size
                ea(in);
                mv.visitVarInsn(ILOAD, T2);
                iconst(size == 2 ? 4 : 5);
                mv.visitInsn(ISHR);
                iconst(size == 2 ? 1 : 2);
                mv.visitInsn(ISHL);
                mv.visitInsn(IADD);
                if (in.addrSize() == 2) {
                    mask(2);
                }
                mv.visitVarInsn(ISTORE, EA);
                read(in.segment(), EA, size);
            } else {
                readOperand(in, 0, false);
            }
            mv.visitVarInsn(ILOAD, T2);
            iconst(bits - 1);
            mv.visitInsn(IAND);
            mv.visitVarInsn(ISTORE, T2);
        }
        mv.visitVarInsn(ISTORE, T1);
        if (m != Mnemonic.BT) {
            // T4 = the value with the bit set, cleared or flipped
            iconst(1);
            mv.visitVarInsn(ILOAD, T2);
            mv.visitInsn(ISHL);
            if (m == Mnemonic.BTR) {
                iconst(-1);
                mv.visitInsn(IXOR);
                mv.visitVarInsn(ILOAD, T1);
                mv.visitInsn(IAND);
            } else {
                mv.visitVarInsn(ILOAD, T1);
                mv.visitInsn(m == Mnemonic.BTS ? IOR : IXOR);
            }
            writeOperand(in, 0, size, true);
        }
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
        mv.visitVarInsn(ILOAD, T1);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitInsn(IUSHR);
        iconst(1);
        mv.visitInsn(IAND);
        mv.visitMethodInsn(INVOKESTATIC, RT, "setCarry", "(L" + LAZY + ";I)V", false);
        return mem && m != Mnemonic.BT;
    }

    /**
     * Iterations of a REP string instruction done per execution, as the interpreter slices them:
     * if more remain, the block leaves with EIP on the instruction (that slice counted as one
     * retired instruction, as the interpreter counts it), so exits and interrupts are seen.
     */
    private static final int REP_SLICE = 1024;

    /**
     * MOVS, STOS, LODS, CMPS, SCAS with or without REP (REPE/REPNE for CMPS and SCAS), 16- or
     * 32-bit addressing, as a JVM loop. ESI/EDI/ECX change in their locals after each iteration's
     * last faulting step, so a fault leaves exactly the iterations done so far (SDM Vol. 2B, REP:
     * the registers are updated per iteration) with EIP on the instruction. DF is read from EFLAGS
     * once per execution. A single CMPS/SCAS keeps its flags in locals as CMP does; under REP each
     * iteration stores them into the LazyFlags object (where the block's flags were put before the
     * instruction), so a fault in a later iteration leaves those of the one before, as the
     * interpreter does.
     */
    private boolean string(Instruction in, Mnemonic m, int next) {
        int size = in.size(0);
        boolean rep = in.repPrefix() != 0;
        boolean compare = m == Mnemonic.CMPS || m == Mnemonic.SCAS;
        boolean a16 = in.addrSize() == 2;
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
            if (a16) {
                mask(2);
            }
            mv.visitJumpInsn(IFEQ, done);
            mv.visitIincInsn(T3, -1);
            mv.visitVarInsn(ILOAD, T3);
            Label more = new Label();
            mv.visitJumpInsn(IFGE, more);
            exitTo(instrEip, index + 1); // slice done, ECX not yet 0: run the instruction again
            mv.visitLabel(more);
        }
        int seg = in.segment();
        // the offsets: the registers themselves, or with 16-bit addressing SI and DI in EA and T4
        int si = a16 ? EA : REG0 + 6;
        int di = a16 ? T4 : REG0 + 7;
        if (a16) {
            mv.visitVarInsn(ILOAD, REG0 + 6);
            mask(2);
            mv.visitVarInsn(ISTORE, EA);
            mv.visitVarInsn(ILOAD, REG0 + 7);
            mask(2);
            mv.visitVarInsn(ISTORE, T4);
        }
        switch (m) {
            case MOVS -> {
                read(seg, si, size);
                mv.visitVarInsn(ISTORE, WV);
                write(0, di, size, WV);
                step(6, a16);
                step(7, a16);
            }
            case STOS -> {
                loadReg(size, 0);
                mv.visitVarInsn(ISTORE, WV);
                write(0, di, size, WV);
                step(7, a16);
            }
            case LODS -> {
                read(seg, si, size);
                storeReg(size, 0);
                step(6, a16);
            }
            default -> { // CMPS: [seg:SI] - ES:[DI]; SCAS: accumulator - ES:[DI] (values zero-extended)
                if (m == Mnemonic.CMPS) {
                    read(seg, si, size);
                } else {
                    loadReg(size, 0);
                }
                mv.visitVarInsn(ISTORE, WV);
                read(0, di, size);
                mv.visitVarInsn(ISTORE, T1);
                if (m == Mnemonic.CMPS) {
                    step(6, a16);
                }
                step(7, a16);
            }
        }
        if (compare && !rep) {
            mv.visitVarInsn(ILOAD, WV);
            mv.visitVarInsn(ILOAD, T1);
            mv.visitInsn(ISUB);
            mv.visitVarInsn(ISTORE, T3);
            recordFlags(LazyFlags.OP_SUB, size, WV, T1, T3, -1);
        }
        if (rep) {
            if (a16) {
                mv.visitVarInsn(ILOAD, REG0 + 1);
                iconst(0xFFFF_0000);
                mv.visitInsn(IAND);
                mv.visitVarInsn(ILOAD, REG0 + 1);
                iconst(1);
                mv.visitInsn(ISUB);
                mask(2);
                mv.visitInsn(IOR);
                mv.visitVarInsn(ISTORE, REG0 + 1);
            } else {
                mv.visitIincInsn(REG0 + 1, -1);
            }
            written[1] = true;
            if (compare) {
                // this iteration's flags, then REPE goes on while equal, REPNE while not (SDM Vol. 2B, REP)
                mv.visitVarInsn(ALOAD, X);
                mv.visitFieldInsn(GETFIELD, VCPU, "lazy", "L" + LAZY + ";");
                iconst(LazyFlags.OP_SUB);
                iconst(size);
                mv.visitVarInsn(ILOAD, WV);
                mv.visitVarInsn(ILOAD, T1);
                mv.visitVarInsn(ILOAD, WV);
                mv.visitVarInsn(ILOAD, T1);
                mv.visitInsn(ISUB);
                mask(size);
                iconst(0);
                mv.visitMethodInsn(INVOKEVIRTUAL, LAZY, "setWithCarry", "(IIIIII)V", false);
                mv.visitVarInsn(ILOAD, WV);
                mv.visitVarInsn(ILOAD, T1);
                mv.visitJumpInsn(in.repPrefix() == 0xF3 ? IF_ICMPNE : IF_ICMPEQ, done);
            }
            mv.visitJumpInsn(GOTO, head);
            mv.visitLabel(done);
        }
        return m == Mnemonic.MOVS || m == Mnemonic.STOS;
    }

    /** Adds the string step (T2) to register {@code n} (only to its low half with 16-bit addressing). */
    private void step(int n, boolean a16) {
        if (a16) {
            mv.visitVarInsn(ILOAD, REG0 + n);
            iconst(0xFFFF_0000);
            mv.visitInsn(IAND);
        }
        mv.visitVarInsn(ILOAD, REG0 + n);
        mv.visitVarInsn(ILOAD, T2);
        mv.visitInsn(IADD);
        if (a16) {
            mask(2);
            mv.visitInsn(IOR);
        }
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
        shiftCount(in, 1, T2, none);
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

    /**
     * Stores a shift count operand (an immediate, or CL) masked to 5 bits into {@code local}; for
     * CL, jumps to {@code none} when it is 0 (the instruction then changes nothing).
     */
    private void shiftCount(Instruction in, int operand, int local, Label none) {
        if (in.kind(operand) == Instruction.KIND_IMM) {
            iconst(in.imm() & 0x1F);
            mv.visitVarInsn(ISTORE, local);
        } else {
            loadReg(1, 1);
            iconst(0x1F);
            mv.visitInsn(IAND);
            mv.visitVarInsn(ISTORE, local);
            mv.visitVarInsn(ILOAD, local);
            mv.visitJumpInsn(IFEQ, none);
        }
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

    /**
     * Pushes the value read at seg:offset. Through a flat segment the software-TLB hit path is
     * emitted inline (no call the JIT might decline to inline): slot of the first byte, tag of the
     * page of the last byte (so an access crossing a page misses), the slot's host buffer. Misses,
     * MMIO, pages not backed by one buffer and faults go through the interpreter core.
     */
    private void read(int seg, int offLocal, int size) {
        if (!flat(seg)) {
            accessArgs(false, seg, offLocal, size);
            iconst(user);
            mv.visitMethodInsn(INVOKESTATIC, RT, "read", "(L" + VCPU + ";IIII)I", false);
            return;
        }
        Label slow = new Label();
        Label done = new Label();
        tlbHit(offLocal, size, "readTag", "readBuf", slow);
        hostIndex(offLocal, "readOff");
        switch (size) {
            case 4 -> mv.visitMethodInsn(INVOKEVIRTUAL, BUFFER, "getInt", "(I)I", false);
            case 2 -> {
                mv.visitMethodInsn(INVOKEVIRTUAL, BUFFER, "getShort", "(I)S", false);
                mask(2);
            }
            default -> {
                mv.visitMethodInsn(INVOKEVIRTUAL, BUFFER, "get", "(I)B", false);
                mask(1);
            }
        }
        mv.visitJumpInsn(GOTO, done);
        mv.visitLabel(slow);
        accessArgs(true, seg, offLocal, size);
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "read", "(III)I", true);
        mv.visitLabel(done);
    }

    /**
     * Writes a local's value to seg:offset; through a flat segment with the hit path inline as in
     * {@link #read}, for pages of RAM that no watch covers (code pages, traced page tables: their
     * writes go through the memory API, which tells the watchers).
     */
    private void write(int seg, int offLocal, int size, int valueLocal) {
        if (!flat(seg)) {
            accessArgs(false, seg, offLocal, size);
            mv.visitVarInsn(ILOAD, valueLocal);
            iconst(user);
            mv.visitMethodInsn(INVOKESTATIC, RT, "write", "(L" + VCPU + ";IIIII)V", false);
            return;
        }
        Label slow = new Label();
        Label done = new Label();
        tlbHit(offLocal, size, "writeTag", "writeBuf", slow);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "mem", "Lorg/polyvisor/memory/GuestMemory;");
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, "writePhys", "[J");
        mv.visitVarInsn(ILOAD, SLOT);
        mv.visitInsn(LALOAD);
        mv.visitMethodInsn(INVOKEINTERFACE, "org/polyvisor/memory/GuestMemory", "isWatched", "(J)Z", true);
        mv.visitJumpInsn(IFNE, slow);
        hostIndex(offLocal, "writeOff");
        mv.visitVarInsn(ILOAD, valueLocal);
        switch (size) {
            case 4 -> mv.visitMethodInsn(INVOKEVIRTUAL, BUFFER, "putInt", "(II)L" + BUFFER + ";", false);
            case 2 -> {
                mv.visitInsn(I2S);
                mv.visitMethodInsn(INVOKEVIRTUAL, BUFFER, "putShort", "(IS)L" + BUFFER + ";", false);
            }
            default -> {
                mv.visitInsn(I2B);
                mv.visitMethodInsn(INVOKEVIRTUAL, BUFFER, "put", "(IB)L" + BUFFER + ";", false);
            }
        }
        mv.visitInsn(POP);
        mv.visitJumpInsn(GOTO, done);
        mv.visitLabel(slow);
        accessArgs(true, seg, offLocal, size);
        mv.visitVarInsn(ILOAD, valueLocal);
        mv.visitMethodInsn(INVOKEINTERFACE, CORE, "write", "(IIII)V", true);
        mv.visitLabel(done);
    }

    /** Pushes the vCPU (or its interpreter core), segment, offset and size of an access. */
    private void accessArgs(boolean core, int seg, int offLocal, int size) {
        mv.visitVarInsn(ALOAD, X);
        if (core) {
            mv.visitFieldInsn(GETFIELD, VCPU, "core", "L" + CORE + ";");
        }
        iconst(seg);
        mv.visitVarInsn(ILOAD, offLocal);
        iconst(size);
    }

    /**
     * The TLB check of an inline access: SLOT = the slot of the offset's page; jumps to
     * {@code miss} unless the slot's tag is {@link Rt#tlbKey} of the access and it has a host
     * buffer, which is then in BUF.
     */
    private void tlbHit(int offLocal, int size, String tags, String buffers, Label miss) {
        mv.visitVarInsn(ILOAD, offLocal);
        iconst(12);
        mv.visitInsn(IUSHR);
        iconst(InterpreterCore.TLB_SIZE - 1);
        mv.visitInsn(IAND);
        mv.visitVarInsn(ISTORE, SLOT);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, tags, "[J");
        mv.visitVarInsn(ILOAD, SLOT);
        mv.visitInsn(LALOAD);
        mv.visitVarInsn(ILOAD, offLocal);
        if (size > 1) {
            iconst(size - 1);
            mv.visitInsn(IADD);
        }
        iconst(10);
        mv.visitInsn(IUSHR);
        iconst(~3);
        mv.visitInsn(IAND);
        iconst(user | 1);
        mv.visitInsn(IOR);
        mv.visitInsn(I2L);
        mv.visitInsn(LCMP);
        mv.visitJumpInsn(IFNE, miss);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, buffers, "[L" + BUFFER + ";");
        mv.visitVarInsn(ILOAD, SLOT);
        mv.visitInsn(AALOAD);
        mv.visitInsn(DUP);
        mv.visitVarInsn(ASTORE, BUF);
        mv.visitJumpInsn(IFNULL, miss);
    }

    /** Pushes BUF and the access's index in it: the slot's page offset plus the offset in the page. */
    private void hostIndex(int offLocal, String offsets) {
        mv.visitVarInsn(ALOAD, BUF);
        mv.visitVarInsn(ALOAD, X);
        mv.visitFieldInsn(GETFIELD, VCPU, offsets, "[I");
        mv.visitVarInsn(ILOAD, SLOT);
        mv.visitInsn(IALOAD);
        mv.visitVarInsn(ILOAD, offLocal);
        iconst(0xFFF);
        mv.visitInsn(IAND);
        mv.visitInsn(IADD);
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
