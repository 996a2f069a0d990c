package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.cpu.FpuState;
import org.polyvisor.x86.ControlRegisters;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;

/**
 * The x87 FPU of a P6 (SDM Vol. 1, chapter 8): the register stack with TOP and tags, the status
 * and control words, the last-instruction pointers, and every D8-DF escape plus WAIT, FXSAVE and
 * FXRSTOR. Values and their arithmetic live in {@link Float80}, transcendentals in {@link X87Math}.
 *
 * <p>Exceptions: a masked exception gets the SDM's masked response; an unmasked one sets ES and B,
 * leaves the destination (and TOP) alone for invalid, denormal and divide-by-zero, stores the
 * bias-adjusted result for overflow and underflow to a register, and is reported as #MF at the
 * next waiting x87 instruction. With CR0.NE clear a real P6 signals FERR# (IRQ 13 through the
 * chipset) instead; this engine reports #MF in both cases.
 *
 * <p>CR0: EM or TS make every escape (and FXSAVE/FXRSTOR) raise #NM; WAIT raises #NM when MP and TS
 * are both set (SDM Vol. 3A, 2.5 and Table 2-2).
 */
final class X87 {

    // ---- status word (SDM Vol. 1, 8.1.3) ----
    static final int C0 = 0x0100;
    static final int C1 = 0x0200;
    static final int C2 = 0x0400;
    static final int C3 = 0x4000;
    static final int CC = C0 | C1 | C2 | C3;
    /** Error summary: some unmasked exception flag is set. */
    static final int ES = 0x0080;
    /** Busy: mirrors ES on the 387 and later. */
    static final int B = 0x8000;
    static final int TOP_MASK = 0x3800;

    // ---- tags (SDM Vol. 1, 8.1.7) ----
    static final int TAG_VALID = 0;
    static final int TAG_ZERO = 1;
    static final int TAG_SPECIAL = 2;
    static final int TAG_EMPTY = 3;

    /** MXCSR bits a P3-class FXRSTOR accepts (the default MXCSR_MASK, SDM Vol. 1, 11.6.6). */
    static final int MXCSR_MASK = 0x0000_FFBF;

    int fcw = 0x037F;
    /** Status word without TOP. */
    int fsw;
    int top;
    /** Full tag word, two bits per physical register. */
    int ftw = 0xFFFF;
    final int[] se = new int[8];
    final long[] sig = new long[8];
    int fop;
    int fip;
    int fcs;
    int fdp;
    int fds;
    final long[] xmm = new long[32];
    int mxcsr = 0x1F80;

    private final Float80.Env env = new Float80.Env();

    // operand of the current instruction
    private int seg;
    private int ea;
    private boolean addr16;

    // =====================================================================================
    // State
    // =====================================================================================

    int statusWord() {
        return fsw | top << 11;
    }

    Float80 st(int i) {
        int p = (top + i) & 7;
        return new Float80(se[p], sig[p]);
    }

    void setSt(int i, Float80 v) {
        int p = (top + i) & 7;
        se[p] = v.se();
        sig[p] = v.sig();
        setTag(p, tagOf(v));
    }

    boolean empty(int i) {
        return ((ftw >> (2 * ((top + i) & 7))) & 3) == TAG_EMPTY;
    }

    void setTag(int phys, int tag) {
        ftw = ftw & ~(3 << (2 * phys)) | tag << (2 * phys);
    }

    static int tagOf(Float80 v) {
        int e = v.biasedExp();
        if (e == 0) {
            return v.sig() == 0 ? TAG_ZERO : TAG_SPECIAL;
        }
        return e == 0x7FFF || v.sig() >= 0 ? TAG_SPECIAL : TAG_VALID;
    }

    void pop() {
        setTag(top, TAG_EMPTY);
        top = (top + 1) & 7;
    }

    void push(Float80 v) {
        top = (top - 1) & 7;
        setSt(0, v);
    }

    /** FNINIT: control 037F, status 0, all empty, pointers 0; register contents stay. */
    void init() {
        fcw = 0x037F;
        fsw = 0;
        top = 0;
        ftw = 0xFFFF;
        fop = 0;
        fip = 0;
        fcs = 0;
        fdp = 0;
        fds = 0;
    }

    /** The state as the API carries it (registers in ST(0)..ST(7) order). */
    FpuState exportState() {
        byte[] st = new byte[80];
        for (int i = 0; i < 8; i++) {
            st(i).toBytes(st, 10 * i);
        }
        return new FpuState(fcw, statusWord(), ftw, fop, fip & 0xFFFF_FFFFL, fcs, fdp & 0xFFFF_FFFFL, fds, st, xmm,
                mxcsr);
    }

    /** Loads the API state exactly (tags as given, even if they disagree with the contents). */
    void importState(FpuState f) {
        fcw = f.fcw() & 0xFFFF;
        top = (f.fsw() >> 11) & 7;
        fsw = f.fsw() & 0xFFFF & ~TOP_MASK;
        ftw = f.ftw() & 0xFFFF;
        fop = f.fop() & 0x7FF;
        fip = (int) f.fip();
        fcs = f.fcs() & 0xFFFF;
        fdp = (int) f.fdp();
        fds = f.fds() & 0xFFFF;
        byte[] st = f.st();
        for (int i = 0; i < 8; i++) {
            Float80 v = Float80.fromBytes(st, 10 * i);
            int p = (top + i) & 7;
            se[p] = v.se();
            sig[p] = v.sig();
        }
        System.arraycopy(f.xmm(), 0, xmm, 0, 32);
        mxcsr = f.mxcsr();
    }

    private void updateEs() {
        if ((fsw & 0x3F & ~fcw) != 0) {
            fsw |= ES | B;
        } else {
            fsw &= ~(ES | B);
        }
    }

    /** Commits the instruction's flags; C1 from the environment when {@code setC1}. */
    private void finish(boolean setC1) {
        fsw |= env.flags & 0x7F;
        if (setC1) {
            fsw = env.c1 ? fsw | C1 : fsw & ~C1;
        }
        updateEs();
    }

    private void setCc(int c3c2c1c0) {
        fsw = fsw & ~CC | c3c2c1c0;
    }

    /** Stack underflow (an empty register read): IE and SF, C1 = 0; true if unmasked (stop). */
    private boolean underflow() {
        env.flags |= Float80.IE | Float80.SF;
        env.c1 = false;
        return env.aborted();
    }

    /** Stack overflow (push onto a full register): IE and SF, C1 = 1; true if unmasked (stop). */
    private boolean overflow() {
        env.flags |= Float80.IE | Float80.SF;
        env.c1 = true;
        return env.aborted();
    }

    // =====================================================================================
    // Entry points
    // =====================================================================================

    /** WAIT/FWAIT: #NM with CR0.MP and TS, then any pending unmasked exception as #MF. */
    void fwait(Cpu c) {
        int mpTs = ControlRegisters.CR0_MP | ControlRegisters.CR0_TS;
        if ((c.cr0 & mpTs) == mpTs) {
            throw X86Exception.deviceNotAvailable();
        }
        if ((fsw & ES) != 0) {
            throw X86Exception.of(ExceptionVectors.MF, 0);
        }
    }

    /** One D8-DF escape. */
    void execute(Cpu c, Instruction in) {
        if (in.lock()) {
            throw X86Exception.invalidOpcode();
        }
        if ((c.cr0 & (ControlRegisters.CR0_EM | ControlRegisters.CR0_TS)) != 0) {
            throw X86Exception.deviceNotAvailable();
        }
        int op = in.opcode() & 7;
        int modrm = in.modrm();
        int reg = (modrm >> 3) & 7;
        boolean mem = modrm < 0xC0;
        if (!defined(op, modrm, mem)) {
            throw X86Exception.invalidOpcode();
        }
        if (mem) {
            seg = in.segment();
            ea = c.ea(in);
            addr16 = in.addrSize() == 2;
        }
        // The non-waiting control instructions (SDM Vol. 1, 8.3.11) ignore pending exceptions.
        if (mem && (op == 1 || op == 5) && reg >= 6 || !mem && (op == 3 && modrm >= 0xE0 && modrm <= 0xE4
                || op == 7 && modrm == 0xE0)) {
            noWaitControl(c, in, op, modrm, reg, mem);
            return;
        }
        if ((fsw & ES) != 0) {
            throw X86Exception.of(ExceptionVectors.MF, 0);
        }
        env.reset(fcw);
        if (mem && op == 1 && (reg == 4 || reg == 5) || mem && op == 5 && reg == 4) {
            waitingControl(c, in, op, reg);
            return;
        }
        if (mem) {
            memoryForm(c, in, op, reg);
        } else {
            registerForm(c, op, modrm, reg);
        }
        // Last-instruction pointers (SDM Vol. 1, 8.1.8), not kept for control instructions.
        fip = c.startEip;
        fcs = c.segSel[Cpu.CS];
        fop = (op << 8 | modrm) & 0x7FF;
        if (mem) {
            fdp = ea;
            fds = c.segSel[seg];
        }
    }

    /** Whether an escape encoding exists on a P6 (the rest raise #UD). */
    static boolean defined(int op, int modrm, boolean mem) {
        int reg = (modrm >> 3) & 7;
        if (mem) {
            return switch (op) {
                case 1 -> reg != 1;
                case 3 -> reg != 1 && reg != 4 && reg != 6; // reg 1 is FISTTP (SSE3)
                case 5 -> reg != 1 && reg != 5;
                case 7 -> reg != 1;
                default -> true;
            };
        }
        return switch (op) {
            case 1 -> !(modrm >= 0xD1 && modrm <= 0xD7 || modrm == 0xE2 || modrm == 0xE3 || modrm == 0xE6
                    || modrm == 0xE7 || modrm == 0xEF);
            case 2 -> modrm < 0xE0 || modrm == 0xE9;
            case 3 -> modrm < 0xE5 || modrm >= 0xE8 && modrm < 0xF8;
            case 5 -> modrm < 0xF0;
            case 6 -> reg != 3 || modrm == 0xD9;
            case 7 -> modrm < 0xE1 || modrm >= 0xE8 && modrm < 0xF8;
            default -> true;
        };
    }

    // =====================================================================================
    // Control instructions
    // =====================================================================================

    private void noWaitControl(Cpu c, Instruction in, int op, int modrm, int reg, boolean mem) {
        if (!mem) {
            switch (modrm) {
                case 0xE2 -> fsw &= ~(0xFF | B); // FNCLEX
                case 0xE3 -> init();              // FNINIT
                case 0xE0 -> {
                    if (op == 7) {
                        c.setReg(2, 0, statusWord()); // FNSTSW AX
                    } // else FNENI: ignored since the 287
                }
                default -> { } // FNDISI, FNSETPM: no-ops on the 387 and later
            }
            return;
        }
        if (op == 1 && reg == 7 || op == 5 && reg == 7) {
            wr(c, 0, 2, op == 1 ? fcw : statusWord()); // FNSTCW / FNSTSW m16
        } else if (op == 1) {
            storeEnvironment(c, in.opSize() == 4, false); // FNSTENV
        } else {
            storeEnvironment(c, in.opSize() == 4, true); // FNSAVE
        }
    }

    private void waitingControl(Cpu c, Instruction in, int op, int reg) {
        if (op == 1 && reg == 5) { // FLDCW
            fcw = rd(c, 0, 2) & 0x1F7F | 0x40;
            updateEs();
        } else {
            loadEnvironment(c, in.opSize() == 4, op == 5); // FLDENV / FRSTOR
        }
    }

    private boolean realFormat(Cpu c) {
        return !c.pe || c.v86();
    }

    /** FNSTENV / FNSAVE (SDM Vol. 1, Figures 8-9 to 8-12; reserved halves written as 1s like Intel parts). */
    private void storeEnvironment(Cpu c, boolean bits32, boolean save) {
        int envSize = bits32 ? 28 : 14;
        int size = envSize + (save ? 80 : 0);
        probe(c, size);
        int w = bits32 ? 4 : 2;
        int hi = bits32 ? 0xFFFF_0000 : 0;
        int[] f = new int[7];
        f[0] = hi | fcw;
        f[1] = hi | statusWord();
        f[2] = hi | ftw;
        if (realFormat(c)) {
            int ip = (fcs << 4) + fip;
            int dp = (fds << 4) + fdp;
            if (bits32) {
                f[3] = 0xFFFF_0000 | ip & 0xFFFF;
                f[4] = (ip & 0xFFFF_0000) >>> 4 | fop;
                f[5] = 0xFFFF_0000 | dp & 0xFFFF;
                f[6] = (dp & 0xFFFF_0000) >>> 4;
            } else {
                f[3] = ip & 0xFFFF;
                f[4] = (ip & 0xF_0000) >>> 4 | fop;
                f[5] = dp & 0xFFFF;
                f[6] = (dp & 0xF_0000) >>> 4;
            }
        } else if (bits32) {
            f[3] = fip;
            f[4] = fcs | fop << 16;
            f[5] = fdp;
            f[6] = 0xFFFF_0000 | fds;
        } else {
            f[3] = fip & 0xFFFF;
            f[4] = fcs;
            f[5] = fdp & 0xFFFF;
            f[6] = fds;
        }
        for (int i = 0; i < 7; i++) {
            wr(c, i * w, w, f[i]);
        }
        if (save) {
            byte[] b = new byte[10];
            for (int i = 0; i < 8; i++) {
                st(i).toBytes(b, 0);
                writeBytes(c, envSize + 10 * i, b);
            }
            init();
        } else {
            fcw |= 0x3F; // FSTENV masks all exceptions after storing (the status word keeps ES)
        }
    }

    /** FLDENV / FRSTOR: non-empty tags are recomputed from the register contents. */
    private void loadEnvironment(Cpu c, boolean bits32, boolean restore) {
        int w = bits32 ? 4 : 2;
        int[] f = new int[7];
        for (int i = 0; i < 7; i++) {
            f[i] = rd(c, i * w, w);
        }
        int envSize = bits32 ? 28 : 14;
        Float80[] regs = null;
        if (restore) {
            regs = new Float80[8];
            for (int i = 0; i < 8; i++) {
                regs[i] = readFloat80(c, envSize + 10 * i);
            }
        }
        fcw = f[0] & 0x1F7F | 0x40;
        top = (f[1] >> 11) & 7;
        fsw = f[1] & 0xFFFF & ~TOP_MASK;
        int tags = f[2] & 0xFFFF;
        if (realFormat(c)) {
            if (bits32) {
                fip = f[3] & 0xFFFF | (f[4] << 4) & 0xFFFF_0000;
                fop = f[4] & 0x7FF;
                fdp = f[5] & 0xFFFF | (f[6] << 4) & 0xFFFF_0000;
            } else {
                fip = f[3] & 0xFFFF | (f[4] << 4) & 0xF_0000;
                fop = f[4] & 0x7FF;
                fdp = f[5] & 0xFFFF | (f[6] << 4) & 0xF_0000;
            }
            fcs = 0;
            fds = 0;
        } else if (bits32) {
            fip = f[3];
            fcs = f[4] & 0xFFFF;
            fop = (f[4] >>> 16) & 0x7FF;
            fdp = f[5];
            fds = f[6] & 0xFFFF;
        } else {
            fip = f[3] & 0xFFFF;
            fcs = f[4] & 0xFFFF;
            fdp = f[5] & 0xFFFF;
            fds = f[6] & 0xFFFF;
        }
        if (regs != null) {
            for (int i = 0; i < 8; i++) {
                int p = (top + i) & 7;
                se[p] = regs[i].se();
                sig[p] = regs[i].sig();
            }
        }
        ftw = 0;
        for (int p = 0; p < 8; p++) {
            int t = (tags >> (2 * p)) & 3;
            setTag(p, t == TAG_EMPTY ? TAG_EMPTY : tagOf(new Float80(se[p], sig[p])));
        }
        updateEs();
    }

    /** FXSAVE (SDM Vol. 2A): 512 bytes, 16-byte aligned; XMM and MXCSR only with CR4.OSFXSR. */
    void fxsave(Cpu c, Instruction in) {
        fxPrologue(c, in);
        probe(c, 512);
        boolean sse = (c.cr4 & ControlRegisters.CR4_OSFXSR) != 0;
        int abridged = 0;
        for (int p = 0; p < 8; p++) {
            if (((ftw >> (2 * p)) & 3) != TAG_EMPTY) {
                abridged |= 1 << p;
            }
        }
        wr(c, 0, 2, fcw);
        wr(c, 2, 2, statusWord());
        wr(c, 4, 2, abridged);
        wr(c, 6, 2, fop);
        wr(c, 8, 4, fip);
        wr(c, 12, 4, fcs);
        wr(c, 16, 4, fdp);
        wr(c, 20, 4, fds);
        if (sse) {
            wr(c, 24, 4, mxcsr);
            wr(c, 28, 4, MXCSR_MASK);
        }
        byte[] b = new byte[16];
        for (int i = 0; i < 8; i++) {
            st(i).toBytes(b, 0);
            writeBytes(c, 32 + 16 * i, b);
        }
        if (sse) {
            for (int i = 0; i < 16; i++) {
                long v = xmm[i];
                wr(c, 160 + 8 * i, 4, (int) v);
                wr(c, 164 + 8 * i, 4, (int) (v >>> 32));
            }
        }
    }

    /** FXRSTOR: the abridged tag says empty or not, tags are recomputed from the contents. */
    void fxrstor(Cpu c, Instruction in) {
        fxPrologue(c, in);
        boolean sse = (c.cr4 & ControlRegisters.CR4_OSFXSR) != 0;
        int newMxcsr = mxcsr;
        if (sse) {
            newMxcsr = rd(c, 24, 4);
            if ((newMxcsr & ~MXCSR_MASK) != 0) {
                throw X86Exception.generalProtection(0);
            }
        }
        int cw = rd(c, 0, 2);
        int sw = rd(c, 2, 2);
        int abridged = rd(c, 4, 1);
        int op = rd(c, 6, 2);
        int ip = rd(c, 8, 4);
        int cs = rd(c, 12, 2);
        int dp = rd(c, 16, 4);
        int ds = rd(c, 20, 2);
        Float80[] regs = new Float80[8];
        for (int i = 0; i < 8; i++) {
            regs[i] = readFloat80(c, 32 + 16 * i);
        }
        long[] x = new long[16];
        if (sse) {
            for (int i = 0; i < 16; i++) {
                x[i] = rd(c, 160 + 8 * i, 4) & 0xFFFF_FFFFL | (long) rd(c, 164 + 8 * i, 4) << 32;
            }
        }
        fcw = cw & 0x1F7F | 0x40;
        top = (sw >> 11) & 7;
        fsw = sw & ~TOP_MASK;
        fop = op & 0x7FF;
        fip = ip;
        fcs = cs;
        fdp = dp;
        fds = ds;
        for (int i = 0; i < 8; i++) {
            int p = (top + i) & 7;
            se[p] = regs[i].se();
            sig[p] = regs[i].sig();
        }
        for (int p = 0; p < 8; p++) {
            setTag(p, (abridged >> p & 1) == 0 ? TAG_EMPTY : tagOf(new Float80(se[p], sig[p])));
        }
        if (sse) {
            mxcsr = newMxcsr;
            System.arraycopy(x, 0, xmm, 0, 16);
        }
        updateEs();
    }

    private void fxPrologue(Cpu c, Instruction in) {
        SystemOps.requireFeature(c, org.polyvisor.x86.CpuModel.EDX_FXSR);
        if (in.lock()) {
            throw X86Exception.invalidOpcode();
        }
        if ((c.cr0 & (ControlRegisters.CR0_EM | ControlRegisters.CR0_TS)) != 0) {
            throw X86Exception.deviceNotAvailable();
        }
        seg = in.segment();
        ea = c.ea(in);
        addr16 = in.addrSize() == 2;
        if (((c.segBase[seg] + ea) & 15) != 0) {
            throw X86Exception.generalProtection(0);
        }
    }

    // =====================================================================================
    // Memory operands
    // =====================================================================================

    private int addr(int off) {
        int a = ea + off;
        return addr16 ? a & 0xFFFF : a;
    }

    private int rd(Cpu c, int off, int size) {
        return c.read(seg, addr(off), size);
    }

    private void wr(Cpu c, int off, int size, int v) {
        c.write(seg, addr(off), size, v);
    }

    /** Checks a multi-part store can complete before writing any of it. */
    private void probe(Cpu c, int size) {
        long linear = c.linearWrite(seg, ea, size);
        c.probeWrite(linear, size, c.cpl == 3);
    }

    private long rd64(Cpu c, int off) {
        return rd(c, off, 4) & 0xFFFF_FFFFL | (long) rd(c, off + 4, 4) << 32;
    }

    private void wr64(Cpu c, long v) {
        probe(c, 8);
        wr(c, 0, 4, (int) v);
        wr(c, 4, 4, (int) (v >>> 32));
    }

    private Float80 readFloat80(Cpu c, int off) {
        return new Float80(rd(c, off + 8, 2), rd64(c, off));
    }

    private void writeBytes(Cpu c, int off, byte[] b) {
        for (int i = 0; i < 10; i += 2) {
            wr(c, off + i, 2, b[i] & 0xFF | (b[i + 1] & 0xFF) << 8);
        }
    }

    private void wr80(Cpu c, Float80 v) {
        probe(c, 10);
        byte[] b = new byte[10];
        v.toBytes(b, 0);
        writeBytes(c, 0, b);
    }

    /** Reads the memory source of D8 (m32real), DA (m32int), DC (m64real), DE (m16int) as raw bits. */
    private long readArithSource(Cpu c, int op) {
        return switch (op) {
            case 0 -> rd(c, 0, 4) & 0xFFFF_FFFFL;
            case 2 -> rd(c, 0, 4);
            case 4 -> rd64(c, 0);
            default -> (short) rd(c, 0, 2);
        };
    }

    /**
     * Widens a raw memory source for arithmetic with ST(0). The operation then applies the usual
     * order: invalid operands, NaNs (an SNaN source stays signalling for the NaN rules), divide by
     * zero, and only then DE for a source that was denormal in its own format (SDM Vol. 1, 4.9.2;
     * the host confirms each step).
     */
    private Float80 convertArithSource(int op, long raw) {
        env.denormalSource = op == 0 ? Float80.isDenormalSingle((int) raw)
                : op == 4 && Float80.isDenormalDouble(raw);
        return switch (op) {
            case 0 -> Float80.widenSingle((int) raw);
            case 4 -> Float80.widenDouble(raw);
            default -> Float80.fromLong(raw);
        };
    }

    // =====================================================================================
    // Memory forms
    // =====================================================================================

    private void memoryForm(Cpu c, Instruction in, int op, int reg) {
        if ((op & 1) == 0) { // D8, DA, DC, DE: arithmetic and compare with a memory source
            long raw = readArithSource(c, op);
            if (empty(0)) {
                if (!underflow()) {
                    if (reg == 2 || reg == 3) {
                        setCc(C3 | C2 | C0);
                        if (reg == 3) {
                            pop();
                        }
                    } else {
                        setSt(0, Float80.INDEFINITE);
                    }
                }
                finish(true);
                return;
            }
            Float80 src = convertArithSource(op, raw);
            if (src == null) {
                finish(true);
                return;
            }
            if (reg == 2 || reg == 3) {
                compareInto(st(0), src, false, reg == 3 ? 1 : 0);
                return;
            }
            arith(reg, 0, st(0), src, false);
            return;
        }
        switch (op << 3 | reg) {
            case 1 << 3 | 0 -> load(Float80.fromSingle(env, rd(c, 0, 4)));        // FLD m32
            case 5 << 3 | 0 -> load(Float80.fromDouble(env, rd64(c, 0)));         // FLD m64
            case 3 << 3 | 5 -> load(readFloat80(c, 0));                           // FLD m80
            case 3 << 3 | 0 -> load(Float80.fromLong(rd(c, 0, 4)));               // FILD m32
            case 7 << 3 | 0 -> load(Float80.fromLong((short) rd(c, 0, 2)));       // FILD m16
            case 7 << 3 | 5 -> load(Float80.fromLong(rd64(c, 0)));                // FILD m64
            case 7 << 3 | 4 -> load(fromBcd(c));                                  // FBLD
            case 1 << 3 | 2, 1 << 3 | 3 -> storeReal(c, 4, reg == 3);                     // FST(P) m32
            case 5 << 3 | 2, 5 << 3 | 3 -> storeReal(c, 8, reg == 3);                     // FST(P) m64
            case 3 << 3 | 7 -> storeReal(c, 10, true);                                   // FSTP m80
            case 3 << 3 | 2, 3 << 3 | 3 -> storeInt(c, 32, reg == 3);                     // FIST(P) m32
            case 7 << 3 | 2, 7 << 3 | 3 -> storeInt(c, 16, reg == 3);                     // FIST(P) m16
            case 7 << 3 | 7 -> storeInt(c, 64, true);                                    // FISTP m64
            case 7 << 3 | 6 -> storeBcd(c);                                              // FBSTP
            default -> throw X86Exception.invalidOpcode();
        }
    }

    /** Pushes a loaded value (or, on stack overflow, the indefinite). */
    private void load(Float80 v) {
        if (!empty(7)) {
            if (!overflow()) {
                push(Float80.INDEFINITE);
            }
            finish(true);
            return;
        }
        if (v != null && !env.aborted()) {
            push(v);
        }
        env.c1 = false;
        finish(true);
    }

    private void storeReal(Cpu c, int bytes, boolean pop) {
        Float80 v;
        if (empty(0)) {
            if (underflow()) {
                finish(true);
                return;
            }
            v = Float80.INDEFINITE;
        } else {
            v = st(0);
        }
        if (bytes == 10) {
            wr80(c, v);
        } else {
            long bits = bytes == 4 ? Float80.toSingle(env, v) : Float80.toDouble(env, v);
            if ((env.flags & ~env.masks & (Float80.IE | Float80.OE | Float80.UE)) != 0) {
                finish(true); // unmasked: nothing stored, the stack unchanged
                return;
            }
            if (bytes == 4) {
                wr(c, 0, 4, (int) bits);
            } else {
                wr64(c, bits);
            }
        }
        if (pop) {
            pop();
        }
        finish(true);
    }

    private void storeInt(Cpu c, int bits, boolean pop) {
        Long r;
        if (empty(0)) {
            if (underflow()) {
                finish(true);
                return;
            }
            r = Long.MIN_VALUE >> (64 - bits); // integer indefinite
        } else {
            r = Float80.toInt(env, st(0), bits);
            if (r == null) {
                finish(true);
                return;
            }
        }
        switch (bits) {
            case 16 -> wr(c, 0, 2, r.intValue());
            case 32 -> wr(c, 0, 4, r.intValue());
            default -> wr64(c, r);
        }
        if (pop) {
            pop();
        }
        finish(true);
    }

    private Float80 fromBcd(Cpu c) {
        long v = 0;
        for (int i = 8; i >= 0; i--) {
            int b = rd(c, i, 1);
            v = v * 100 + (b >> 4) * 10 + (b & 15);
        }
        boolean neg = (rd(c, 9, 1) & 0x80) != 0;
        Float80 f = Float80.fromLong(v);
        return neg ? f.negate() : f;
    }

    private void storeBcd(Cpu c) {
        byte[] b = new byte[10];
        if (empty(0)) {
            if (underflow()) {
                finish(true);
                return;
            }
            bcdIndefinite(b);
        } else {
            Float80 v = st(0);
            if (v.isNaN() || v.isInf() || v.isUnsupported()) {
                env.flags |= Float80.IE;
                bcdIndefinite(b);
            } else {
                long[] r = Float80.toIntegerBits(env, v); // a denormal raises no DE, as for FIST
                if (r[1] != 0 || Long.compareUnsigned(r[0], 999_999_999_999_999_999L) > 0) {
                    env.flags = env.flags & ~Float80.PE | Float80.IE;
                    env.c1 = false;
                    bcdIndefinite(b);
                } else {
                    long m = r[0];
                    for (int i = 0; i < 9; i++) {
                        int lo = (int) (m % 10);
                        m /= 10;
                        int hi = (int) (m % 10);
                        m /= 10;
                        b[i] = (byte) (hi << 4 | lo);
                    }
                    b[9] = (byte) (v.sign() ? 0x80 : 0);
                }
            }
            if (env.aborted()) {
                finish(true);
                return;
            }
        }
        probe(c, 10);
        writeBytes(c, 0, b);
        pop();
        finish(true);
    }

    private static void bcdIndefinite(byte[] b) {
        java.util.Arrays.fill(b, (byte) 0);
        b[9] = (byte) 0xFF;
        b[8] = (byte) 0xFF;
        b[7] = (byte) 0xC0;
    }

    // =====================================================================================
    // Arithmetic and comparison
    // =====================================================================================

    /**
     * dest = a op b into ST(dst): reg 0 add, 1 mul, 4 a-b, 5 b-a, 6 a/b, 7 b/a (the D8 encoding).
     */
    private void arith(int kind, int dst, Float80 a, Float80 b, boolean pop) {
        Float80 r = switch (kind) {
            case 0 -> Float80.add(env, a, b, false);
            case 1 -> Float80.mul(env, a, b);
            case 4 -> Float80.add(env, a, b, true);
            case 5 -> Float80.add(env, b, a, true);
            case 6 -> Float80.div(env, a, b);
            default -> Float80.div(env, b, a);
        };
        if (r != null && !env.aborted()) {
            setSt(dst, r);
            if (pop) {
                pop();
            }
        }
        finish(true);
    }

    private static int ccOf(int cmp) {
        return switch (cmp) {
            case Float80.LT -> C0;
            case Float80.EQ -> C3;
            case Float80.GT -> 0;
            default -> C3 | C2 | C0;
        };
    }

    /** FCOM-family: condition codes from a vs b, then {@code pops} pops. */
    private void compareInto(Float80 a, Float80 b, boolean quiet, int pops) {
        int r = Float80.compare(env, a, b, quiet);
        if (r >= 0) {
            setCc(ccOf(r));
            for (int i = 0; i < pops; i++) {
                pop();
            }
        }
        env.c1 = false;
        finish(true);
    }

    /** FCOM ST(i) etc. with empty checks. */
    private void compareRegs(int i, boolean quiet, int pops) {
        if (empty(0) || empty(i)) {
            if (!underflow()) {
                setCc(C3 | C2 | C0);
                for (int k = 0; k < pops; k++) {
                    pop();
                }
            }
            finish(true);
            return;
        }
        compareInto(st(0), st(i), quiet, pops);
    }

    /** FCOMI/FUCOMI(P): ZF, PF, CF from the comparison; OF, SF, AF cleared. */
    private void compareEflags(Cpu c, int i, boolean quiet, boolean pop) {
        int r;
        if (empty(0) || empty(i)) {
            r = underflow() ? -1 : Float80.UNORDERED;
        } else {
            r = Float80.compare(env, st(0), st(i), quiet);
        }
        if (r >= 0) {
            int f = switch (r) {
                case Float80.LT -> Eflags.CF;
                case Float80.EQ -> Eflags.ZF;
                case Float80.GT -> 0;
                default -> Eflags.ZF | Eflags.PF | Eflags.CF;
            };
            c.lazy.setAll(f);
            if (pop) {
                pop();
            }
        }
        env.c1 = false;
        finish(true);
    }

    // =====================================================================================
    // Register forms
    // =====================================================================================

    private void registerForm(Cpu c, int op, int modrm, int reg) {
        int i = modrm & 7;
        switch (op) {
            case 0 -> { // D8: ST(0) = ST(0) op ST(i)
                if (reg == 2 || reg == 3) {
                    compareRegs(i, false, reg == 3 ? 1 : 0);
                } else {
                    binaryRegs(reg, 0, 0, i, false);
                }
            }
            case 4, 6 -> { // DC / DE: ST(i) = ST(i) op ST(0), DE pops; /4../7 swap SUB/SUBR and DIV/DIVR
                if (op == 6 && reg == 3) {
                    compareRegs(1, false, 2); // FCOMPP (DE D9)
                } else if (reg == 2 || reg == 3) { // FCOM2, FCOMP3 (DC) and FCOMP5 (DE D0) aliases
                    compareRegs(i, false, op == 6 || reg == 3 ? 1 : 0);
                } else {
                    binaryRegs(reg >= 4 ? reg ^ 1 : reg, i, i, 0, op == 6);
                }
            }
            case 1 -> d9Register(c, modrm, reg, i);
            case 2 -> {
                if (modrm == 0xE9) {
                    compareRegs(1, true, 2); // FUCOMPP
                } else {
                    fcmov(c, reg, false, i);
                }
            }
            case 3 -> {
                if (modrm < 0xE0) {
                    fcmov(c, reg, true, i);
                } else if (reg == 5) {
                    compareEflags(c, i, true, false); // FUCOMI
                } else {
                    compareEflags(c, i, false, false); // FCOMI
                }
            }
            case 5 -> {
                switch (reg) {
                    case 0 -> { // FFREE
                        setTag((top + i) & 7, TAG_EMPTY);
                    }
                    case 1 -> fxch(i); // FXCH4 alias
                    case 2, 3 -> storeRegister(i, reg == 3); // FST / FSTP ST(i)
                    case 4 -> compareRegs(i, true, 0); // FUCOM
                    default -> compareRegs(i, true, 1); // FUCOMP
                }
            }
            default -> { // DF
                switch (reg) {
                    case 0 -> { // FFREEP
                        setTag((top + i) & 7, TAG_EMPTY);
                        top = (top + 1) & 7;
                    }
                    case 1 -> fxch(i); // FXCH7 alias
                    case 2, 3 -> storeRegister(i, true); // FSTP8 / FSTP9 aliases
                    case 5 -> compareEflags(c, i, true, true); // FUCOMIP
                    case 6 -> compareEflags(c, i, false, true); // FCOMIP
                    default -> throw X86Exception.invalidOpcode();
                }
            }
        }
    }

    /** ST(dst) = ST(ai) op ST(bi), op in D8 terms (see {@link #arith}). */
    private void binaryRegs(int kind, int dst, int ai, int bi, boolean pop) {
        if (empty(ai) || empty(bi)) {
            if (!underflow()) {
                setSt(dst, Float80.INDEFINITE);
                if (pop) {
                    pop();
                }
            }
            finish(true);
            return;
        }
        arith(kind, dst, st(ai), st(bi), pop);
    }

    private void storeRegister(int i, boolean pop) {
        if (empty(0)) {
            if (underflow()) {
                finish(true);
                return;
            }
            setSt(i, Float80.INDEFINITE);
        } else {
            setSt(i, st(0));
        }
        if (pop) {
            pop();
        }
        env.c1 = false;
        finish(true);
    }

    private void fxch(int i) {
        if (empty(0) || empty(i)) {
            if (underflow()) {
                finish(true);
                return;
            }
            if (empty(0)) {
                setSt(0, Float80.INDEFINITE);
            }
            if (empty(i)) {
                setSt(i, Float80.INDEFINITE);
            }
        }
        int p0 = top;
        int pi = (top + i) & 7;
        int t0 = (ftw >> (2 * p0)) & 3;
        int ti = (ftw >> (2 * pi)) & 3;
        int s = se[p0];
        long m = sig[p0];
        se[p0] = se[pi];
        sig[p0] = sig[pi];
        se[pi] = s;
        sig[pi] = m;
        setTag(p0, ti);
        setTag(pi, t0);
        env.c1 = false;
        finish(true);
    }

    private void fcmov(Cpu c, int reg, boolean negate, int i) {
        int f = c.getFlags();
        boolean cond = switch (reg) {
            case 0 -> (f & Eflags.CF) != 0;
            case 1 -> (f & Eflags.ZF) != 0;
            case 2 -> (f & (Eflags.CF | Eflags.ZF)) != 0;
            default -> (f & Eflags.PF) != 0;
        };
        if (empty(0) || empty(i)) {
            if (!underflow() && cond) {
                setSt(0, Float80.INDEFINITE);
            }
        } else if (cond ^ negate) {
            setSt(0, st(i));
        }
        env.c1 = false;
        finish(true);
    }

    /** D9 register forms: FLD ST(i), FXCH, FNOP, FSTP1, and the one-operand and constant group. */
    private void d9Register(Cpu c, int modrm, int reg, int i) {
        switch (reg) {
            case 0 -> load(empty(i) ? (underflowMasked() ? Float80.INDEFINITE : null) : st(i));
            case 1 -> fxch(i);
            case 2 -> { } // FNOP
            case 3 -> storeRegister(i, true); // FSTP1 alias
            case 4 -> unaryGroup(modrm);
            case 5 -> {
                int which = modrm & 7;
                load(X87Math.CONSTANTS[env.rc][which]);
            }
            case 6 -> groupF0(modrm);
            default -> groupF8(modrm);
        }
    }

    /** Stack underflow of a source that is then pushed: true if masked (push the indefinite). */
    private boolean underflowMasked() {
        return !underflow();
    }

    private void unaryGroup(int modrm) {
        if (modrm == 0xE5) { // FXAM: no exception, empty is a class of its own
            Float80 v = st(0);
            int cc = v.sign() ? C1 : 0;
            if (empty(0)) {
                cc |= C3 | C0;
            } else if (v.isUnsupported()) {
                cc |= 0;
            } else if (v.isNaN()) {
                cc |= C0;
            } else if (v.isInf()) {
                cc |= C2 | C0;
            } else if (v.isZero()) {
                cc |= C3;
            } else if (v.isDenormal()) {
                cc |= C3 | C2;
            } else {
                cc |= C2;
            }
            setCc(cc);
            return;
        }
        if (empty(0)) {
            if (!underflow()) {
                if (modrm == 0xE4) {
                    setCc(C3 | C2 | C0);
                } else {
                    setSt(0, Float80.INDEFINITE);
                }
            }
            finish(true);
            return;
        }
        Float80 v = st(0);
        switch (modrm) {
            case 0xE0 -> setSt(0, v.negate());  // FCHS
            case 0xE1 -> setSt(0, v.abs());     // FABS
            default -> {                         // FTST
                compareInto(v, Float80.POS_ZERO, false, 0);
                return;
            }
        }
        env.c1 = false;
        finish(true);
    }

    /** D9 F0..F7: F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FDECSTP FINCSTP. */
    private void groupF0(int modrm) {
        switch (modrm) {
            case 0xF0 -> unaryOp(v -> X87Math.f2xm1(env, v));
            case 0xF1 -> binaryPop((x, y) -> X87Math.fyl2x(env, x, y));
            case 0xF2 -> trigPush(X87Math.TAN);
            case 0xF3 -> binaryPop((x, y) -> X87Math.fpatan(env, x, y));
            case 0xF4 -> fxtract();
            case 0xF5 -> fprem(true);
            case 0xF6 -> {
                top = (top - 1) & 7;
                env.c1 = false;
                finish(true);
            }
            default -> {
                top = (top + 1) & 7;
                env.c1 = false;
                finish(true);
            }
        }
    }

    /** D9 F8..FF: FPREM FYL2XP1 FSQRT FSINCOS FRNDINT FSCALE FSIN FCOS. */
    private void groupF8(int modrm) {
        switch (modrm) {
            case 0xF8 -> fprem(false);
            case 0xF9 -> binaryPop((x, y) -> X87Math.fyl2xp1(env, x, y));
            case 0xFA -> unaryOp(v -> Float80.sqrt(env, v));
            case 0xFB -> trigPush(X87Math.SIN);
            case 0xFC -> unaryOp(v -> Float80.roundToInt(env, v));
            case 0xFD -> fscale();
            case 0xFE -> trigInPlace(X87Math.SIN);
            default -> trigInPlace(X87Math.COS);
        }
    }

    private interface Unary {
        Float80 apply(Float80 v);
    }

    private interface Binary {
        Float80 apply(Float80 x, Float80 y);
    }

    private void unaryOp(Unary f) {
        if (empty(0)) {
            if (!underflow()) {
                setSt(0, Float80.INDEFINITE);
            }
            finish(true);
            return;
        }
        Float80 r = f.apply(st(0));
        if (r != null && !env.aborted()) {
            setSt(0, r);
        }
        finish(true);
    }

    /** ST(1) = f(ST(0), ST(1)), pop (FYL2X, FYL2XP1, FPATAN). */
    private void binaryPop(Binary f) {
        if (empty(0) || empty(1)) {
            if (!underflow()) {
                setSt(1, Float80.INDEFINITE);
                pop();
            }
            finish(true);
            return;
        }
        Float80 r = f.apply(st(0), st(1));
        if (r != null && !env.aborted()) {
            setSt(1, r);
            pop();
        }
        finish(true);
    }

    private void fscale() {
        if (empty(0) || empty(1)) {
            if (!underflow()) {
                setSt(0, Float80.INDEFINITE);
            }
            finish(true);
            return;
        }
        Float80 r = Float80.scale(env, st(0), st(1));
        if (r != null && !env.aborted()) {
            setSt(0, r);
        }
        finish(true);
    }

    private void fprem(boolean ieee) {
        if (empty(0) || empty(1)) {
            if (!underflow()) {
                setSt(0, Float80.INDEFINITE);
            }
            setCc(0);
            finish(true);
            return;
        }
        int[] q = new int[2];
        Float80 r = Float80.prem(env, st(0), st(1), ieee, q);
        if (r != null && !env.aborted()) {
            setSt(0, r);
            int qq = q[0];
            setCc((q[1] != 0 ? C2 : 0) | ((qq & 4) != 0 ? C0 : 0) | ((qq & 2) != 0 ? C3 : 0)
                    | ((qq & 1) != 0 ? C1 : 0));
        }
        finish(false);
    }

    private void fxtract() {
        if (empty(0)) {
            if (!underflow()) {
                setSt(0, Float80.INDEFINITE);
                if (empty(7)) {
                    push(Float80.INDEFINITE);
                }
            }
            finish(true);
            return;
        }
        if (!empty(7)) {
            if (!overflow()) {
                setSt(0, Float80.INDEFINITE);
                push(Float80.INDEFINITE);
            }
            finish(true);
            return;
        }
        Float80 v = st(0);
        Float80 exponent;
        Float80 significand;
        if (v.isUnsupported()) {
            exponent = Float80.invalid(env);
            significand = exponent;
        } else if (v.isNaN()) {
            exponent = Float80.propagateNaN(env, v);
            significand = exponent;
        } else if (v.isInf()) {
            exponent = Float80.POS_INF;
            significand = v;
        } else if (v.isZero()) {
            env.flags |= Float80.ZE;
            exponent = Float80.NEG_INF;
            significand = v;
        } else {
            if (Float80.denormal(env, v)) {
                finish(true);
                return;
            }
            exponent = Float80.fromLong(v.exp());
            significand = new Float80((v.sign() ? 0x8000 : 0) | Float80.BIAS, v.normSig());
        }
        if (!env.aborted()) {
            setSt(0, exponent);
            push(significand);
        }
        env.c1 = false;
        finish(true);
    }

    /** FSIN / FCOS: ST(0) replaced; C2 set (and nothing else done) when |x| ≥ 2^63. */
    private void trigInPlace(int fn) {
        if (empty(0)) {
            if (!underflow()) {
                setSt(0, Float80.INDEFINITE);
            }
            finish(true);
            return;
        }
        Float80 x = st(0);
        if (X87Math.outOfRange(x)) {
            fsw |= C2;
            env.c1 = false;
            finish(true);
            return;
        }
        if (x.isDenormal() && !env.masked(Float80.DE)) {
            env.flags |= Float80.DE;
            finish(true);
            return;
        }
        Float80 r = X87Math.trig(env, x, fn);
        if (r != null && !env.aborted()) {
            setSt(0, r);
        }
        fsw &= ~C2;
        finish(true);
    }

    /** FPTAN (ST(0) = tan, push 1) and FSINCOS (ST(0) = sin, push cos). */
    private void trigPush(int fn) {
        if (empty(0)) {
            if (!underflow()) {
                setSt(0, Float80.INDEFINITE);
                if (empty(7)) {
                    push(Float80.INDEFINITE);
                }
            }
            finish(true);
            return;
        }
        if (!empty(7)) {
            if (!overflow()) {
                setSt(0, Float80.INDEFINITE);
                push(Float80.INDEFINITE);
            }
            finish(true);
            return;
        }
        Float80 x = st(0);
        if (X87Math.outOfRange(x)) {
            fsw |= C2;
            env.c1 = false;
            finish(true);
            return;
        }
        Float80 first;
        Float80 second;
        if (fn == X87Math.TAN) {
            first = X87Math.trig(env, x, X87Math.TAN);
            boolean up = env.c1;
            second = first == null || first.isNaN() ? first : Float80.ONE;
            env.c1 = up;
        } else {
            first = X87Math.trig(env, x, X87Math.SIN);
            boolean up = env.c1;
            second = first == null ? null : X87Math.trig(env, x, X87Math.COS);
            env.c1 |= up;
        }
        if (first != null && second != null && !env.aborted()) {
            setSt(0, first);
            push(second);
        }
        fsw &= ~C2;
        finish(true);
    }
}
