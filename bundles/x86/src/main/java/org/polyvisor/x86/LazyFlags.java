package org.polyvisor.x86;

/**
 * Lazy evaluation of the six arithmetic flags: an instruction records its operation, operand size,
 * operands and result; CF/PF/AF/ZF/SF/OF are computed only when something reads them (a Jcc, PUSHF,
 * an ADC). The interpreter keeps one instance per vCPU; the binary translator uses the static
 * {@link #compute} and {@link #condition(int, int)} directly on values it keeps in locals.
 *
 * <p>Operand values are kept zero-extended to the operand size. For shifts, {@code src2} is the
 * (already masked, non-zero) count. For INC/DEC and ADC/SBB, the incoming carry is kept too.
 */
public final class LazyFlags {

    /** The flags are held materialised (no pending operation). */
    public static final int OP_NONE = 0;
    /** ADD: result = src1 + src2. */
    public static final int OP_ADD = 1;
    /** ADC: result = src1 + src2 + carry-in. */
    public static final int OP_ADC = 2;
    /** SUB, CMP and NEG (as 0 - src2): result = src1 - src2. */
    public static final int OP_SUB = 3;
    /** SBB: result = src1 - src2 - carry-in. */
    public static final int OP_SBB = 4;
    /** AND, OR, XOR, TEST: CF = OF = AF = 0. */
    public static final int OP_LOGIC = 5;
    /** INC: CF is preserved (kept as carry-in). */
    public static final int OP_INC = 6;
    /** DEC: CF is preserved (kept as carry-in). */
    public static final int OP_DEC = 7;
    /** SHL/SAL by src2 (1..31). */
    public static final int OP_SHL = 8;
    /** SHR by src2 (1..31). */
    public static final int OP_SHR = 9;
    /** SAR by src2 (1..31). */
    public static final int OP_SAR = 10;

    private int op;
    private int size = 4;
    private int src1;
    private int src2;
    private int result;
    private int carryIn;
    /** Materialised flags, valid when {@code op == OP_NONE}. */
    private int bits;

    /**
     * Records an operation whose flags are computed later.
     *
     * @param op     one of the {@code OP_*} constants other than INC/DEC/ADC/SBB
     * @param size   operand size in bytes: 1, 2 or 4
     * @param src1   first operand
     * @param src2   second operand (or shift count)
     * @param result the result
     */
    public void set(int op, int size, int src1, int src2, int result) {
        int mask = mask(size);
        this.op = op;
        this.size = size;
        this.src1 = src1 & mask;
        this.src2 = src2 & mask;
        this.result = result & mask;
    }

    /**
     * Records an operation that needs the previous carry: INC/DEC (which preserve CF), ADC, SBB.
     *
     * @param op      {@link #OP_INC}, {@link #OP_DEC}, {@link #OP_ADC} or {@link #OP_SBB}
     * @param size    operand size in bytes
     * @param src1    first operand
     * @param src2    second operand (1 for INC/DEC)
     * @param result  the result
     * @param carryIn the carry before the instruction, 0 or 1
     */
    public void setWithCarry(int op, int size, int src1, int src2, int result, int carryIn) {
        set(op, size, src1, src2, result);
        this.carryIn = carryIn;
    }

    /**
     * Records INC or DEC, which keep CF: the carry-in is the carry flag as it stands. After another
     * INC or DEC (a counted loop) that is the recorded carry-in already, so nothing is evaluated.
     *
     * @param op     {@link #OP_INC} or {@link #OP_DEC}
     * @param size   operand size in bytes
     * @param src1   the operand before the instruction
     * @param result the result
     */
    public void setIncDec(int op, int size, int src1, int result) {
        if (this.op != OP_INC && this.op != OP_DEC) {
            carryIn = cf() ? 1 : 0;
        }
        set(op, size, src1, 1, result);
    }

    /**
     * Replaces all six arithmetic flags with explicit values.
     *
     * @param flags EFLAGS image; only the {@link Eflags#ARITH} bits are used
     */
    public void setAll(int flags) {
        op = OP_NONE;
        bits = flags & Eflags.ARITH;
    }

    /**
     * Returns the six arithmetic flags as EFLAGS bits.
     *
     * @return CF|PF|AF|ZF|SF|OF image
     */
    public int get() {
        if (op == OP_NONE) {
            return bits;
        }
        return compute(op, size, src1, src2, result, carryIn);
    }

    /** @return the carry flag */
    public boolean cf() {
        switch (op) {
            case OP_NONE:
                return (bits & Eflags.CF) != 0;
            case OP_ADD:
                return Integer.compareUnsigned(result, src1) < 0;
            case OP_SUB:
                return Integer.compareUnsigned(src1, src2) < 0;
            case OP_LOGIC:
                return false;
            case OP_INC:
            case OP_DEC:
                return carryIn != 0; // INC and DEC keep CF: it is carried through
            case OP_ADC:
                return carryIn != 0 ? Integer.compareUnsigned(result, src1) <= 0
                        : Integer.compareUnsigned(result, src1) < 0;
            case OP_SBB:
                return carryIn != 0 ? Integer.compareUnsigned(src1, src2) <= 0
                        : Integer.compareUnsigned(src1, src2) < 0;
            default:
                return (compute(op, size, src1, src2, result, carryIn) & Eflags.CF) != 0;
        }
    }

    /** @return the zero flag */
    public boolean zf() {
        return op == OP_NONE ? (bits & Eflags.ZF) != 0 : result == 0;
    }

    /** @return the sign flag */
    public boolean sf() {
        return op == OP_NONE ? (bits & Eflags.SF) != 0 : (result & signBit(size)) != 0;
    }

    /** @return the overflow flag */
    public boolean of() {
        return (get() & Eflags.OF) != 0;
    }

    /**
     * Evaluates a condition code (the low four bits of Jcc/SETcc/CMOVcc opcodes).
     *
     * @param cc 0 (O) .. 15 (G)
     * @return whether the condition holds
     */
    public boolean condition(int cc) {
        // Kept small so the JIT inlines it into the executor: JZ/JNZ after anything but a flags
        // load (the loop-closing branch) is decided here, the rest in conditionSlow.
        if ((cc & 0xE) == 4 && op != OP_NONE) {
            return (result == 0) == ((cc & 1) == 0);
        }
        return conditionSlow(cc);
    }

    private boolean conditionSlow(int cc) {
        if (op == OP_SUB) {
            // Fast paths for CMP/SUB: compare the operands directly.
            switch (cc) {
                case 2: return Integer.compareUnsigned(src1, src2) < 0;
                case 3: return Integer.compareUnsigned(src1, src2) >= 0;
                case 4: return result == 0;
                case 5: return result != 0;
                case 6: return Integer.compareUnsigned(src1, src2) <= 0;
                case 7: return Integer.compareUnsigned(src1, src2) > 0;
                case 0xC: return signExtend(src1, size) < signExtend(src2, size);
                case 0xD: return signExtend(src1, size) >= signExtend(src2, size);
                case 0xE: return signExtend(src1, size) <= signExtend(src2, size);
                case 0xF: return signExtend(src1, size) > signExtend(src2, size);
                default: break;
            }
        } else if (op != OP_NONE) {
            switch (cc) {
                case 4: return result == 0;
                case 5: return result != 0;
                case 8: return (result & signBit(size)) != 0;
                case 9: return (result & signBit(size)) == 0;
                default: break;
            }
        }
        return condition(cc, get());
    }

    /**
     * Evaluates a condition code on materialised flags.
     *
     * @param cc    0..15
     * @param flags EFLAGS image
     * @return whether the condition holds
     */
    public static boolean condition(int cc, int flags) {
        boolean r;
        switch (cc >> 1) {
            case 0: r = (flags & Eflags.OF) != 0; break;
            case 1: r = (flags & Eflags.CF) != 0; break;
            case 2: r = (flags & Eflags.ZF) != 0; break;
            case 3: r = (flags & (Eflags.CF | Eflags.ZF)) != 0; break;
            case 4: r = (flags & Eflags.SF) != 0; break;
            case 5: r = (flags & Eflags.PF) != 0; break;
            case 6: r = ((flags & Eflags.SF) != 0) != ((flags & Eflags.OF) != 0); break;
            default: r = (flags & Eflags.ZF) != 0 || ((flags & Eflags.SF) != 0) != ((flags & Eflags.OF) != 0); break;
        }
        return (cc & 1) == 0 ? r : !r;
    }

    /**
     * Computes the six arithmetic flags of an operation (pure function, for translators).
     *
     * @param op      an {@code OP_*} constant other than {@link #OP_NONE}
     * @param size    1, 2 or 4
     * @param src1    first operand, zero-extended to the size
     * @param src2    second operand or shift count, zero-extended
     * @param result  result, zero-extended
     * @param carryIn carry before the instruction (ADC, SBB, INC, DEC)
     * @return the EFLAGS image of CF|PF|AF|ZF|SF|OF
     */
    public static int compute(int op, int size, int src1, int src2, int result, int carryIn) {
        int sign = signBit(size);
        int f = zsp(result, sign);
        int bitsN = size * 8;
        switch (op) {
            case OP_ADD:
            case OP_ADC: {
                boolean c = carryIn != 0 && op == OP_ADC
                        ? Integer.compareUnsigned(result, src1) <= 0
                        : Integer.compareUnsigned(result, src1) < 0;
                if (c) {
                    f |= Eflags.CF;
                }
                if (((src1 ^ result) & (src2 ^ result) & sign) != 0) {
                    f |= Eflags.OF;
                }
                f |= (src1 ^ src2 ^ result) & Eflags.AF;
                return f;
            }
            case OP_SUB:
            case OP_SBB: {
                boolean c = carryIn != 0 && op == OP_SBB
                        ? Integer.compareUnsigned(src1, src2) <= 0
                        : Integer.compareUnsigned(src1, src2) < 0;
                if (c) {
                    f |= Eflags.CF;
                }
                if (((src1 ^ src2) & (src1 ^ result) & sign) != 0) {
                    f |= Eflags.OF;
                }
                f |= (src1 ^ src2 ^ result) & Eflags.AF;
                return f;
            }
            case OP_LOGIC:
                return f;
            case OP_INC:
                f |= carryIn != 0 ? Eflags.CF : 0;
                f |= result == sign ? Eflags.OF : 0;
                f |= (result & 0xF) == 0 ? Eflags.AF : 0;
                return f;
            case OP_DEC:
                f |= carryIn != 0 ? Eflags.CF : 0;
                f |= result == sign - 1 ? Eflags.OF : 0;
                f |= (result & 0xF) == 0xF ? Eflags.AF : 0;
                return f;
            case OP_SHL: {
                int cf = (int) ((((long) src1) << src2) >>> bitsN) & 1;
                f |= cf;
                if (((result & sign) != 0) != (cf != 0)) {
                    f |= Eflags.OF;
                }
                return f;
            }
            case OP_SHR:
                f |= (src2 <= bitsN ? (src1 >>> (src2 - 1)) & 1 : 0);
                if (src2 == 1 && (src1 & sign) != 0) {
                    f |= Eflags.OF;
                }
                return f;
            case OP_SAR:
                f |= (signExtend(src1, size) >> Math.min(src2 - 1, 31)) & 1;
                return f;
            default:
                throw new IllegalArgumentException("no lazy flag operation " + op);
        }
    }

    /**
     * Computes ZF, SF and PF of a result.
     *
     * @param result the result, zero-extended
     * @param sign   the sign bit of the operand size
     * @return the flag image
     */
    public static int zsp(int result, int sign) {
        int f = 0;
        if (result == 0) {
            f |= Eflags.ZF;
        }
        if ((result & sign) != 0) {
            f |= Eflags.SF;
        }
        if ((Integer.bitCount(result & 0xFF) & 1) == 0) {
            f |= Eflags.PF;
        }
        return f;
    }

    /**
     * @param size 1, 2 or 4
     * @return the value mask of the size
     */
    public static int mask(int size) {
        return size == 4 ? -1 : (1 << (size * 8)) - 1;
    }

    /**
     * @param size 1, 2 or 4
     * @return the sign bit of the size
     */
    public static int signBit(int size) {
        return 1 << (size * 8 - 1);
    }

    /**
     * @param value a zero-extended value
     * @param size  its size in bytes
     * @return the value sign-extended to 32 bits
     */
    public static int signExtend(int value, int size) {
        int shift = 32 - size * 8;
        return (value << shift) >> shift;
    }
}
