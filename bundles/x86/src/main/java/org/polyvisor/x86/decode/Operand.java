package org.polyvisor.x86.decode;

/**
 * Operand specifications in the notation of the Intel SDM opcode map (Vol. 2D, Appendix A.2): an
 * addressing method letter followed by an operand-type letter. {@code Ev} is "a general register or
 * memory operand chosen by ModRM.rm, of the operand size", {@code Ib} "an 8-bit immediate", and so
 * on. Three additions keep the table compact: {@code Ibs} (an 8-bit immediate sign-extended to the
 * operand size, which the SDM only says in the instruction text), {@code Zb/Zv/Zd} (a general
 * register taken from the low three opcode bits, the SDM's "+rb/+rw/+rd") and {@code ONE} (the
 * constant 1 of the D0-D3 shifts).
 */
public enum Operand {
    /** ModRM.rm byte register or memory. */ Eb(Method.E, Size.B),
    /** ModRM.rm word register or memory. */ Ew(Method.E, Size.W),
    /** ModRM.rm doubleword register or memory. */ Ed(Method.E, Size.D),
    /** ModRM.rm register or memory of the operand size. */ Ev(Method.E, Size.V),
    /** ModRM.reg byte register. */ Gb(Method.G, Size.B),
    /** ModRM.reg word register. */ Gw(Method.G, Size.W),
    /** ModRM.reg doubleword register. */ Gd(Method.G, Size.D),
    /** ModRM.reg register of the operand size. */ Gv(Method.G, Size.V),
    /** ModRM.reg register, word or doubleword by operand size. */ Gz(Method.G, Size.Z),
    /** Memory only, size implied by the instruction (LEA, x87, FXSAVE). */ M(Method.M, Size.NONE),
    /** Memory byte (INVLPG). */ Mb(Method.M, Size.B),
    /** Memory word. */ Mw(Method.M, Size.W),
    /** Memory far pointer: offset of the operand size then a selector. */ Mp(Method.M, Size.P),
    /** Memory pseudo-descriptor: 16-bit limit and 32-bit base (LGDT...). */ Ms(Method.M, Size.S),
    /** Memory pair of bounds (BOUND). */ Ma(Method.M, Size.A),
    /** Memory quadword (CMPXCHG8B). */ Mq(Method.M, Size.Q),
    /** ModRM.rm general register, whatever ModRM.mod says (MOV CRn/DRn). */ Rd(Method.R, Size.D),
    /** ModRM.reg control register. */ Cd(Method.C, Size.D),
    /** ModRM.reg debug register. */ Dd(Method.D, Size.D),
    /** ModRM.reg segment register. */ Sw(Method.S, Size.W),
    /** 8-bit immediate. */ Ib(Method.I, Size.B),
    /** 8-bit immediate sign-extended to the operand size. */ Ibs(Method.I, Size.BS),
    /** 16-bit immediate. */ Iw(Method.I, Size.W),
    /** Immediate of the operand size, at most 32 bits. */ Iz(Method.I, Size.Z),
    /** Immediate of the operand size (MOV r, imm). */ Iv(Method.I, Size.V),
    /** 8-bit relative offset. */ Jb(Method.J, Size.B),
    /** Relative offset of the operand size, at most 32 bits. */ Jz(Method.J, Size.Z),
    /** Direct far pointer: offset of the operand size then a selector. */ Ap(Method.A, Size.P),
    /** Byte at an absolute offset of the address size (moffs8). */ Ob(Method.O, Size.B),
    /** Operand-size value at an absolute offset (moffs16/32). */ Ov(Method.O, Size.V),
    /** String source byte DS:(E)SI. */ Xb(Method.X, Size.B),
    /** String source of the operand size DS:(E)SI. */ Xv(Method.X, Size.V),
    /** String destination byte ES:(E)DI. */ Yb(Method.Y, Size.B),
    /** String destination of the operand size ES:(E)DI. */ Yv(Method.Y, Size.V),
    /** Byte register from the opcode's low bits. */ Zb(Method.Z, Size.B),
    /** Register of the operand size from the opcode's low bits. */ Zv(Method.Z, Size.V),
    /** Doubleword register from the opcode's low bits (BSWAP). */ Zd(Method.Z, Size.D),
    /** AL. */ AL(Method.FIXED_REG, Size.B, 0),
    /** CL (shift counts). */ CL(Method.FIXED_REG, Size.B, 1),
    /** DX as a port number. */ DX(Method.FIXED_REG, Size.W, 2),
    /** AX or EAX by operand size. */ eAX(Method.FIXED_REG, Size.V, 0),
    /** ES. */ ES(Method.FIXED_SREG, Size.W, 0),
    /** CS. */ CS(Method.FIXED_SREG, Size.W, 1),
    /** SS. */ SS(Method.FIXED_SREG, Size.W, 2),
    /** DS. */ DS(Method.FIXED_SREG, Size.W, 3),
    /** FS. */ FS(Method.FIXED_SREG, Size.W, 4),
    /** GS. */ GS(Method.FIXED_SREG, Size.W, 5),
    /** The constant 1 (shift and rotate by one). */ ONE(Method.ONE, Size.B);

    /** Addressing methods (SDM A.2.1), plus the fixed forms. */
    public enum Method {
        /** ModRM.rm: register or memory. */ E,
        /** ModRM.reg: general register. */ G,
        /** ModRM.rm: memory only (register form is #UD). */ M,
        /** ModRM.rm: general register only (mod is ignored). */ R,
        /** ModRM.reg: control register. */ C,
        /** ModRM.reg: debug register. */ D,
        /** ModRM.reg: segment register. */ S,
        /** Immediate. */ I,
        /** Relative offset (immediate added to the next instruction's address). */ J,
        /** Direct far address. */ A,
        /** Absolute memory offset, no ModRM. */ O,
        /** DS:(E)SI string source. */ X,
        /** ES:(E)DI string destination. */ Y,
        /** General register in the opcode's low three bits. */ Z,
        /** A fixed general register. */ FIXED_REG,
        /** A fixed segment register. */ FIXED_SREG,
        /** The constant 1. */ ONE
    }

    /** Operand types (SDM A.2.2). */
    public enum Size {
        /** Byte. */ B,
        /** Byte sign-extended to the operand size. */ BS,
        /** Word. */ W,
        /** Doubleword. */ D,
        /** Quadword. */ Q,
        /** Word or doubleword by operand size. */ V,
        /** Word for 16-bit operand size, else doubleword. */ Z,
        /** Far pointer: 32 or 48 bits by operand size. */ P,
        /** Pseudo-descriptor (6 bytes). */ S,
        /** Two operands of the operand size (BOUND). */ A,
        /** No size of its own. */ NONE
    }

    private final Method method;
    private final Size size;
    private final int register;

    Operand(Method method, Size size) {
        this(method, size, -1);
    }

    Operand(Method method, Size size, int register) {
        this.method = method;
        this.size = size;
        this.register = register;
    }

    /** @return the addressing method */
    public Method method() {
        return method;
    }

    /** @return the operand type */
    public Size size() {
        return size;
    }

    /** @return the register number of a fixed register operand, else -1 */
    public int register() {
        return register;
    }

    /**
     * Returns the size in bytes for an operand-size attribute.
     *
     * @param opSize 2 or 4
     * @return bytes (0 for {@link Size#NONE})
     */
    public int bytes(int opSize) {
        switch (size) {
            case B: return 1;
            case BS: return opSize;
            case W: return 2;
            case D: return 4;
            case Q: return 8;
            case V: return opSize;
            case Z: return opSize == 2 ? 2 : 4;
            case P: return opSize + 2;
            case S: return 6;
            case A: return opSize * 2;
            default: return 0;
        }
    }
}
