package org.polyvisor.x86.decode;

/**
 * The operation of a decoded instruction. One constant per operation, not per encoding: the
 * operands and sizes come with the {@link Instruction}. Constants of one family are declared in
 * the order of their ModRM.reg group encoding, so {@code ADD.ordinal() + reg} is the operation of
 * group 1 and {@code ROL.ordinal() + reg} that of group 2.
 */
public enum Mnemonic {
    /** Not a valid instruction: executing it raises #UD. */
    INVALID("(bad)", Flow.FAULT),

    // Group 1 order (ModRM.reg 0..7)
    /** Add. */ ADD("add"),
    /** Or. */ OR("or"),
    /** Add with carry. */ ADC("adc"),
    /** Subtract with borrow. */ SBB("sbb"),
    /** And. */ AND("and"),
    /** Subtract. */ SUB("sub"),
    /** Exclusive or. */ XOR("xor"),
    /** Compare. */ CMP("cmp"),

    // Group 2 order (ModRM.reg 0..7; /6 is an alias of SHL)
    /** Rotate left. */ ROL("rol"),
    /** Rotate right. */ ROR("ror"),
    /** Rotate left through carry. */ RCL("rcl"),
    /** Rotate right through carry. */ RCR("rcr"),
    /** Shift left. */ SHL("shl"),
    /** Logical shift right. */ SHR("shr"),
    /** Shift left, the undocumented /6 encoding (behaves as SHL). */ SAL("sal"),
    /** Arithmetic shift right. */ SAR("sar"),

    /** Logical compare. */ TEST("test"),
    /** One's complement. */ NOT("not"),
    /** Two's complement. */ NEG("neg"),
    /** Unsigned multiply into (E)DX:(E)AX. */ MUL("mul"),
    /** Signed multiply into (E)DX:(E)AX (one operand form). */ IMUL("imul"),
    /** Signed multiply, two and three operand forms (0F AF, 69, 6B). */ IMUL_RM("imul"),
    /** Unsigned divide. */ DIV("div"),
    /** Signed divide. */ IDIV("idiv"),
    /** Increment. */ INC("inc"),
    /** Decrement. */ DEC("dec"),

    /** Move. */ MOV("mov"),
    /** Move to or from a segment register. */ MOV_SREG("mov"),
    /** Move to or from a control register. */ MOV_CR("mov"),
    /** Move to or from a debug register. */ MOV_DR("mov"),
    /** Move with zero extension. */ MOVZX("movzx"),
    /** Move with sign extension. */ MOVSX("movsx"),
    /** Conditional move. */ CMOVCC("cmov"),
    /** Set byte on condition. */ SETCC("set"),
    /** Load effective address. */ LEA("lea"),
    /** Exchange. */ XCHG("xchg"),
    /** Exchange and add. */ XADD("xadd"),
    /** Compare and exchange. */ CMPXCHG("cmpxchg"),
    /** Compare and exchange 8 bytes. */ CMPXCHG8B("cmpxchg8b"),
    /** Byte swap. */ BSWAP("bswap"),
    /** CBW / CWDE by operand size. */ CBW("cbw"),
    /** CWD / CDQ by operand size. */ CWD("cwd"),
    /** Load AH from flags. */ LAHF("lahf"),
    /** Store AH into flags. */ SAHF("sahf"),
    /** Table look-up translation. */ XLAT("xlat"),
    /** Set AL from carry (undocumented D6). */ SALC("salc"),
    /** Check array index against bounds. */ BOUND("bound"),
    /** Adjust RPL of a selector. */ ARPL("arpl"),
    /** Load far pointer into DS. */ LDS("lds"),
    /** Load far pointer into ES. */ LES("les"),
    /** Load far pointer into SS. */ LSS("lss"),
    /** Load far pointer into FS. */ LFS("lfs"),
    /** Load far pointer into GS. */ LGS("lgs"),

    /** Push. */ PUSH("push"),
    /** Pop. */ POP("pop"),
    /** Push all general registers. */ PUSHA("pusha"),
    /** Pop all general registers. */ POPA("popa"),
    /** Push flags. */ PUSHF("pushf"),
    /** Pop flags. */ POPF("popf"),
    /** Make stack frame. */ ENTER("enter"),
    /** Release stack frame. */ LEAVE("leave"),

    /** Jump near (relative or indirect). */ JMP("jmp", Flow.JUMP),
    /** Jump far (direct or indirect). */ JMP_FAR("ljmp", Flow.JUMP),
    /** Conditional jump. */ JCC("j", Flow.BRANCH),
    /** Call near. */ CALL("call", Flow.JUMP),
    /** Call far. */ CALL_FAR("lcall", Flow.JUMP),
    /** Return near. */ RET("ret", Flow.JUMP),
    /** Return far. */ RET_FAR("lret", Flow.JUMP),
    /** Loop while (E)CX != 0. */ LOOP("loop", Flow.BRANCH),
    /** Loop while (E)CX != 0 and ZF = 1. */ LOOPE("loope", Flow.BRANCH),
    /** Loop while (E)CX != 0 and ZF = 0. */ LOOPNE("loopne", Flow.BRANCH),
    /** Jump if (E)CX = 0. */ JCXZ("jcxz", Flow.BRANCH),
    /** Software interrupt. */ INT("int", Flow.JUMP),
    /** Breakpoint. */ INT3("int3", Flow.JUMP),
    /** Interrupt on overflow. */ INTO("into", Flow.BRANCH),
    /** ICEBP (F1): a #DB trap. */ INT1("int1", Flow.JUMP),
    /** Interrupt return. */ IRET("iret", Flow.JUMP),

    /** Move string. */ MOVS("movs"),
    /** Compare strings. */ CMPS("cmps"),
    /** Store string. */ STOS("stos"),
    /** Load string. */ LODS("lods"),
    /** Scan string. */ SCAS("scas"),
    /** Input string from port. */ INS("ins"),
    /** Output string to port. */ OUTS("outs"),
    /** Input from port. */ IN("in"),
    /** Output to port. */ OUT("out"),

    /** Clear carry. */ CLC("clc"),
    /** Set carry. */ STC("stc"),
    /** Complement carry. */ CMC("cmc"),
    /** Clear interrupt flag. */ CLI("cli"),
    /** Set interrupt flag. */ STI("sti"),
    /** Clear direction flag. */ CLD("cld"),
    /** Set direction flag. */ STD("std"),

    /** Bit test. */ BT("bt"),
    /** Bit test and set. */ BTS("bts"),
    /** Bit test and reset. */ BTR("btr"),
    /** Bit test and complement. */ BTC("btc"),
    /** Bit scan forward. */ BSF("bsf"),
    /** Bit scan reverse. */ BSR("bsr"),
    /** Double precision shift left. */ SHLD("shld"),
    /** Double precision shift right. */ SHRD("shrd"),

    /** Decimal adjust after addition. */ DAA("daa"),
    /** Decimal adjust after subtraction. */ DAS("das"),
    /** ASCII adjust after addition. */ AAA("aaa"),
    /** ASCII adjust after subtraction. */ AAS("aas"),
    /** ASCII adjust after multiply. */ AAM("aam"),
    /** ASCII adjust before division. */ AAD("aad"),

    /** Halt. */ HLT("hlt", Flow.JUMP),
    /** No operation (90, and 0F 18..1F hint NOPs). */ NOP("nop"),
    /** Spin-loop hint (F3 90). */ PAUSE("pause"),
    /** Wait for x87 (9B). */ WAIT("fwait"),
    /** An x87 instruction (D8..DF escape); see {@link Instruction#opcode()} and ModRM. */ X87("fpu"),
    /** Save x87/SSE state. */ FXSAVE("fxsave"),
    /** Restore x87/SSE state. */ FXRSTOR("fxrstor"),
    /** CPU identification. */ CPUID("cpuid"),
    /** Read time-stamp counter. */ RDTSC("rdtsc"),
    /** Read model-specific register. */ RDMSR("rdmsr"),
    /** Write model-specific register. */ WRMSR("wrmsr"),
    /** Read performance-monitoring counter. */ RDPMC("rdpmc"),
    /** Fast system call. */ SYSENTER("sysenter", Flow.JUMP),
    /** Fast return from system call. */ SYSEXIT("sysexit", Flow.JUMP),
    /** Resume from system management mode. */ RSM("rsm", Flow.JUMP),
    /** Load GDTR. */ LGDT("lgdt"),
    /** Load IDTR. */ LIDT("lidt"),
    /** Store GDTR. */ SGDT("sgdt"),
    /** Store IDTR. */ SIDT("sidt"),
    /** Load LDTR. */ LLDT("lldt"),
    /** Store LDTR. */ SLDT("sldt"),
    /** Load task register. */ LTR("ltr"),
    /** Store task register. */ STR("str"),
    /** Load machine status word. */ LMSW("lmsw"),
    /** Store machine status word. */ SMSW("smsw"),
    /** Verify segment for reading. */ VERR("verr"),
    /** Verify segment for writing. */ VERW("verw"),
    /** Load access rights. */ LAR("lar"),
    /** Load segment limit. */ LSL("lsl"),
    /** Clear CR0.TS. */ CLTS("clts"),
    /** Invalidate caches. */ INVD("invd"),
    /** Write back and invalidate caches. */ WBINVD("wbinvd"),
    /** Invalidate TLB entry. */ INVLPG("invlpg"),
    /** The architecturally undefined instruction (0F 0B, and UD0/UD1). */ UD2("ud2", Flow.FAULT);

    /** How an instruction affects the flow of control (for block building in translators). */
    public enum Flow {
        /** Continues with the next instruction (or faults). */
        SEQUENTIAL,
        /** May continue at the next instruction or elsewhere. */
        BRANCH,
        /** Always transfers control (or stops). */
        JUMP,
        /** Always raises an exception. */
        FAULT
    }

    private final String text;
    private final Flow flow;

    Mnemonic(String text) {
        this(text, Flow.SEQUENTIAL);
    }

    Mnemonic(String text, Flow flow) {
        this.text = text;
        this.flow = flow;
    }

    /** @return the assembler mnemonic (Intel syntax, lower case; Jcc/SETcc/CMOVcc without the condition) */
    public String text() {
        return text;
    }

    /** @return how the instruction affects control flow */
    public Flow flow() {
        return flow;
    }
}
