package org.polyvisor.cpu.interpreter.internal;

import java.util.LinkedHashMap;
import java.util.Map;
import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.PendingEvents;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.x86.ControlRegisters;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.ExceptionVectors;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;

/**
 * The reference engine: fetch (from the decoded-instruction cache), execute by family, deliver
 * events at instruction boundaries. Runs on the vCPU thread; only {@link #requestExit()} is called
 * from elsewhere.
 */
final class InterpreterEngine implements CpuEngine {

    /**
     * Instructions between checks of the exit-request flag: bounds how long a
     * {@link #requestExit()} can go unseen, while keeping the volatile read off the per-instruction path.
     */
    static final int CHUNK = 256;

    /**
     * The chunk while translated code may run ({@link #runner} installed;
     * {@code polyvisor.interpreter.runnerChunk}): a translation retires instructions ten to twenty
     * times faster than the interpreter, so a longer chunk keeps about the same latency, and the
     * dispatch around each chunk (this loop, the runner's lookup, the call into the translation) is
     * paid once per 4096 instructions instead of 256. At 256 it took 40 % of the vCPU's samples on a
     * one-block loop, and how well HotSpot compiled it decided the throughput.
     */
    static final int RUNNER_CHUNK = Math.max(CHUNK, Integer.getInteger("polyvisor.interpreter.runnerChunk", 4096));

    private static final Exit HALTED = new Exit.Halted();
    private static final Exit BUDGET_SPENT = new Exit.BudgetSpent();
    private static final Exit REQUESTED = new Exit.Requested();

    private final Cpu c;
    private volatile boolean exitRequested;
    private long retired;
    private Exit.Shutdown shutdown;
    private PendingEvents pendingImport = PendingEvents.NONE;
    /**
     * MSRs of the imported state that the CPU model does not have (e.g. what another engine kept):
     * the guest cannot reach them here (#GP), but they go out again with the exported state, so a
     * swap through this engine loses nothing.
     */
    private final Map<Integer, Long> heldMsrs = new java.util.TreeMap<>();
    /** Translated code that may run in place of the next instructions (see CoreBridge), or null. */
    private org.polyvisor.cpu.interpreter.core.BlockRunner runner;

    InterpreterEngine(VcpuContext context) {
        this.c = new Cpu(context);
        c.model = Cpuid.modelFor(c.interrupts, Cpuid.configured(context.cpuModel()));
        importState(CpuState.powerOn(c.model.signature()));
    }

    @Override
    public Exit run(long budget) {
        if (shutdown != null) {
            return shutdown;
        }
        if (exitRequested) {
            exitRequested = false;
            return REQUESTED;
        }
        try {
            c.syncMmu();
            c.syncDecoding();
            // INIT/SIPI: the chip kicks the vCPU when it posts one, so a run always starts after
            // it; one volatile read per run, not per instruction.
            if (c.interrupts.hasStartupEvent()) {
                startupEvent(c.interrupts.takeStartupEvent());
            }
            if (c.activity == ActivityState.WAIT_FOR_SIPI) {
                return HALTED;
            }
            deliverImportedEvents();
            if (c.activity == ActivityState.HALTED) {
                if (!wakeFromHalt()) {
                    return HALTED;
                }
            }
            long remaining = Math.max(1, budget);
            int chunk = runner != null ? RUNNER_CHUNK : CHUNK;
            while (remaining > 0) {
                checkNmi();
                int done = execute((int) Math.min(remaining, chunk));
                remaining -= done;
                if (c.stop) {
                    c.stop = false;
                    if (c.activity == ActivityState.HALTED) {
                        return HALTED;
                    }
                }
                if (exitRequested) {
                    exitRequested = false;
                    return REQUESTED;
                }
            }
            return BUDGET_SPENT;
        } catch (Interrupts.TripleFault t) {
            c.activity = ActivityState.SHUTDOWN;
            shutdown = new Exit.Shutdown(Exit.Shutdown.Cause.TRIPLE_FAULT, location(), t.getMessage());
            return shutdown;
        } catch (UnsupportedFeature u) {
            c.eip = c.startEip;
            c.r[Cpu.ESP] = c.startEsp;
            shutdown = new Exit.Shutdown(Exit.Shutdown.Cause.UNSUPPORTED, location(), u.getMessage());
            return shutdown;
        }
    }

    private String location() {
        return String.format("%04x:%08x", c.segSel[Cpu.CS], c.startEip);
    }

    /** The instruction loop: at most {@code chunk} instructions (or event deliveries). */
    private int execute(int chunk) {
        final Cpu c = this.c;
        final org.polyvisor.cpu.interpreter.core.BlockRunner runner = this.runner;
        final long decodesBefore = c.codeCache.decodes;
        int n = 0;
        int fetches = 0;
        // EIP lives in a register across instructions (c.eip is stored after each one and re-read
        // after anything else may have changed it), which keeps the memory round trip of the field
        // off the chain from one instruction to the next.
        int ip = c.eip;
        c.pollIrq = true;
        while (n < chunk) {
            // The controller is asked only when something may have changed (Cpu#pollIrq) and no
            // interrupt shadow holds at this boundary; IF=0 keeps it from delivering.
            if (c.pollIrq && c.shadow == 0) {
                c.pollIrq = false;
                if ((c.flags & Eflags.IF) != 0 && c.interrupts.hasInterrupt()) {
                    int vector = c.interrupts.acknowledge();
                    if (vector >= 0) {
                        c.startEip = ip;
                        c.startEsp = c.r[Cpu.ESP];
                        Interrupts.raise(c, vector, 0, false, Interrupts.EXTERNAL, 0);
                        c.pollIrq = true;
                        ip = c.eip;
                        n++;
                        continue;
                    }
                }
            }
            c.startEip = ip;
            int trap = c.flags & Eflags.TF;
            c.shadow = 0;
            // Only the slow paths (translated code, the by-mnemonic executor) save ESP for a fault to
            // restore (the fetch and the fast forms never write ESP before they can fault) or stop
            // the loop (HLT).
            boolean slowPath = false;
            try {
                int ran = 0;
                if (runner != null && trap == 0) {
                    c.startEsp = c.r[Cpu.ESP];
                    slowPath = true;
                    ran = runner.run(chunk - n);
                }
                if (ran > 0) {
                    n += ran - 1;
                    c.pollIrq = true;
                    ip = c.eip;
                } else {
                    Instruction in = c.fetchAt(ip);
                    fetches++;
                    int next = ip + in.length();
                    if (!c.code32) {
                        next &= 0xFFFF;
                    }
                    // The commonest forms (Executor#form) run here, inlined into the loop by the JIT;
                    // the rest by mnemonic.
                    switch (in.tag()) {
                        case Executor.FORM_JCC:
                            ip = Control.jcc(c, in, next);
                            break;
                        case Executor.FORM_DEC_R32:
                            Arith.decR32(c, in.reg(0));
                            ip = next;
                            break;
                        case Executor.FORM_INC_R32:
                            Arith.incR32(c, in.reg(0));
                            ip = next;
                            break;
                        case Executor.FORM_MOV_R32_R32:
                            c.r[in.reg(0)] = c.r[in.reg(1)];
                            ip = next;
                            break;
                        case Executor.FORM_MOV_R32_IMM:
                            c.r[in.reg(0)] = in.imm();
                            ip = next;
                            break;
                        case Executor.FORM_MOV_R32_M32:
                            c.r[in.reg(0)] = c.read(in.segment(), c.ea(in), 4);
                            ip = next;
                            break;
                        case Executor.FORM_MOV_M32_R32:
                            c.write(in.segment(), c.ea(in), 4, c.r[in.reg(1)]);
                            ip = next;
                            break;
                        case Executor.FORM_INC_M32:
                            Arith.incDecM32(c, in, true);
                            ip = next;
                            break;
                        case Executor.FORM_DEC_M32:
                            Arith.incDecM32(c, in, false);
                            ip = next;
                            break;
                        case Executor.FORM_JMP_REL:
                            ip = Control.jmpRelative(c, in, next);
                            break;
                        case Executor.FORM_ALU_RR, Executor.FORM_ALU_RR + 1, Executor.FORM_ALU_RR + 4, Executor.FORM_ALU_RR + 5,
                                Executor.FORM_ALU_RR + 6, Executor.FORM_ALU_RR + 7:
                            Arith.alu32(c, in.reg(0), c.r[in.reg(1)], in.tag() & 7);
                            ip = next;
                            break;
                        case Executor.FORM_ALU_RI, Executor.FORM_ALU_RI + 1, Executor.FORM_ALU_RI + 4, Executor.FORM_ALU_RI + 5,
                                Executor.FORM_ALU_RI + 6, Executor.FORM_ALU_RI + 7:
                            Arith.alu32(c, in.reg(0), in.imm(), in.tag() & 7);
                            ip = next;
                            break;
                        default:
                            c.startEsp = c.r[Cpu.ESP];
                            slowPath = true;
                            ip = Executor.execute(c, in, next);
                            c.pollIrq = true;
                    }
                    c.eip = ip;
                    // MOV SS / POP SS hold the single-step trap back to the next instruction (SDM Vol. 3A 6.8.3);
                    // an instruction that faulted did not complete: no trap after it
                    if (trap != 0 && (c.shadow & CpuState.SHADOW_MOV_SS) == 0 && !(slowPath && c.faulted)) {
                        c.dr[6] |= 0x4000; // DR6.BS: single step
                        Interrupts.raise(c, ExceptionVectors.DB, 0, false, Interrupts.EXCEPTION, 0);
                        c.pollIrq = true;
                        ip = c.eip;
                    }
                }
            } catch (X86Exception e) {
                Interrupts.fault(c, e, slowPath);
                ip = c.eip;
            }
            n++;
            if (slowPath && c.stop) {
                break;
            }
        }
        retired += n;
        // every fetch that did not decode was served by the decoded-instruction cache
        c.codeCache.hits += fetches - (c.codeCache.decodes - decodesBefore);
        return n;
    }

    /**
     * Acts on an INIT or a startup IPI (SDM Vol. 3A 9.1 table 9-1, 9.4.4, 10.6.1). INIT resets the
     * vCPU as power-on does, except that the caches, the MSRs, the x87/SSE state, the TSC and
     * CR0.CD/NW are kept; the bootstrap processor then runs from the reset vector, an application
     * processor waits for SIPI. A SIPI with vector {@code v} while waiting starts real mode at
     * {@code CS = v << 8} (base {@code v << 12}), {@code IP = 0}; at other times it is ignored.
     */
    private void startupEvent(int event) {
        if (event == InterruptSource.INIT) {
            CpuState now = exportState();
            CpuState reset = CpuState.powerOn(c.model.signature());
            CpuState.Builder b = reset.toBuilder();
            long keep = ControlRegisters.CR0_CD | ControlRegisters.CR0_NW;
            b.cr0(reset.cr0() & ~keep | now.cr0() & keep);
            b.msrs(now.msrs()).fpu(now.fpu()).tsc(now.tsc());
            b.activity(c.context.vcpuId() == 0 ? ActivityState.ACTIVE : ActivityState.WAIT_FOR_SIPI);
            importState(b.build());
        } else if (event >= 0 && c.activity == ActivityState.WAIT_FOR_SIPI) {
            CpuState.Builder b = exportState().toBuilder();
            b.segment(CpuState.CS, new SegmentRegister(event << 8, (long) event << 12, 0xFFFF,
                    SegmentRegister.REAL_MODE_CODE));
            b.rip(0).activity(ActivityState.ACTIVE);
            importState(b.build());
        }
    }

    private boolean wakeFromHalt() {
        if (!c.nmiBlocked && (c.nmiPending || c.interrupts.takeNmi())) {
            c.nmiPending = false;
            c.activity = ActivityState.ACTIVE;
            c.startEip = c.eip;
            Interrupts.raise(c, ExceptionVectors.NMI, 0, false, Interrupts.NMI, 0);
            return true;
        }
        if ((c.flags & Eflags.IF) != 0 && c.interrupts.hasInterrupt()) {
            c.activity = ActivityState.ACTIVE;
            int vector = c.interrupts.acknowledge();
            if (vector >= 0) {
                c.startEip = c.eip;
                Interrupts.raise(c, vector, 0, false, Interrupts.EXTERNAL, 0);
            }
            return true;
        }
        return false;
    }

    /**
     * Delivers a pending NMI unless NMIs are blocked: by an NMI handler until its IRET, or by
     * MOV SS / POP SS for one instruction (SDM Vol. 3A 6.8.3, 6.7.1). The chip keeps the NMI latched
     * meanwhile. Runs between chunks, so an NMI waits at most {@link #CHUNK} instructions
     * ({@link #RUNNER_CHUNK} with translated code).
     */
    private void checkNmi() {
        if ((c.shadow & CpuState.SHADOW_MOV_SS) != 0) {
            return;
        }
        if (!c.nmiBlocked && (c.nmiPending || c.interrupts.takeNmi())) {
            c.nmiPending = false;
            c.startEip = c.eip;
            Interrupts.raise(c, ExceptionVectors.NMI, 0, false, Interrupts.NMI, 0);
        }
    }

    private void deliverImportedEvents() {
        PendingEvents e = pendingImport;
        if (!e.any()) {
            return;
        }
        pendingImport = PendingEvents.NONE;
        c.startEip = c.eip;
        c.startEsp = c.r[Cpu.ESP];
        if (e.exceptionVector() >= 0) {
            c.activity = ActivityState.ACTIVE;
            Interrupts.raise(c, e.exceptionVector(), e.errorCode(), e.hasErrorCode(), Interrupts.EXCEPTION, c.cr2);
        }
        if (e.interruptVector() >= 0) {
            c.activity = ActivityState.ACTIVE;
            Interrupts.raise(c, e.interruptVector(), 0, false, Interrupts.EXTERNAL, 0);
        }
        c.nmiPending |= e.nmiPending();
    }

    @Override
    public CpuState exportState() {
        CpuState.Builder b = CpuState.builder();
        for (int i = 0; i < 8; i++) {
            b.gpr(i, c.r[i] & 0xFFFF_FFFFL);
        }
        b.rip(c.eip & 0xFFFF_FFFFL);
        b.rflags(c.getFlags() & 0xFFFF_FFFFL);
        for (int s = 0; s < 6; s++) {
            b.segment(s, new SegmentRegister(c.segSel[s], c.segBase[s] & 0xFFFF_FFFFL, c.segLimit[s], c.segAttr[s]));
        }
        b.ldtr(c.ldtr).tr(c.tr);
        b.gdtr(new DescriptorTableRegister(c.gdtBase, c.gdtLimit & 0xFFFF));
        b.idtr(new DescriptorTableRegister(c.idtBase, c.idtLimit & 0xFFFF));
        b.cr0(c.cr0 & 0xFFFF_FFFFL).cr2(c.cr2 & 0xFFFF_FFFFL).cr3(c.cr3 & 0xFFFF_FFFFL).cr4(c.cr4 & 0xFFFF_FFFFL);
        b.cr8(c.cr8).efer(c.efer);
        for (int i = 0; i < 8; i++) {
            b.dr(i, c.dr[i]);
        }
        Map<Integer, Long> msrs = new java.util.TreeMap<>(heldMsrs);
        msrs.putAll(c.msrs);
        b.msrs(msrs);
        b.fpu(c.x87.exportState());
        PendingEvents p = pendingImport;
        b.events(new PendingEvents(p.exceptionVector(), p.errorCode(), p.hasErrorCode(), p.interruptVector(),
                c.nmiPending || p.nmiPending(), c.nmiBlocked));
        b.activity(c.activity);
        b.interruptShadow(c.shadow);
        b.tsc(SystemOps.tsc(c));
        return b.build();
    }

    @Override
    public void importState(CpuState s) {
        if (s.formatVersion() != CpuState.FORMAT_VERSION) {
            throw new IllegalArgumentException("CPU state format " + s.formatVersion() + " is not "
                    + CpuState.FORMAT_VERSION);
        }
        if ((s.efer() & (1L << 10)) != 0) {
            throw new IllegalArgumentException("long mode (EFER.LMA) is not supported by the interpreter");
        }
        for (int i = 0; i < 8; i++) {
            c.r[i] = (int) s.gpr(i);
        }
        c.eip = (int) s.rip();
        c.cr0 = (int) s.cr0();
        c.cr2 = (int) s.cr2();
        c.cr3 = (int) s.cr3();
        c.cr4 = (int) s.cr4();
        c.cr8 = s.cr8();
        c.efer = s.efer();
        c.pe = (c.cr0 & ControlRegisters.CR0_PE) != 0;
        c.setFlags((int) s.rflags());
        for (int i = 0; i < 6; i++) {
            SegmentRegister r = s.segment(i);
            c.segSel[i] = r.selector() & 0xFFFF;
            c.segBase[i] = (int) r.base();
            c.segLimit[i] = r.limit();
            c.segAttr[i] = r.attributes();
        }
        c.ldtr = s.ldtr();
        c.tr = s.tr();
        c.gdtBase = s.gdtr().base() & 0xFFFF_FFFFL;
        c.gdtLimit = s.gdtr().limit();
        c.idtBase = s.idtr().base() & 0xFFFF_FFFFL;
        c.idtLimit = s.idtr().limit();
        long[] dr = s.dr();
        System.arraycopy(dr, 0, c.dr, 0, 8);
        c.msrs.clear();
        c.msrs.putAll(c.model.initialMsrs());
        heldMsrs.clear();
        s.msrs().forEach((index, value) -> {
            if (c.msrs.containsKey(index)) {
                c.msrs.put(index, value);
            } else if (index != SystemOps.MSR_TSC) {
                heldMsrs.put(index, value); // not an MSR of this model: kept, not reachable
            }
        });
        c.tscOffset = s.tsc() - c.context.clock().nanos();
        c.x87.importState(s.fpu());
        c.activity = s.activity();
        c.shadow = s.interruptShadow();
        PendingEvents e = s.events();
        c.nmiBlocked = e.nmiBlocked();
        c.nmiPending = false;
        pendingImport = e;
        c.cpl = !c.pe ? 0 : c.v86() ? 3 : s.segment(CpuState.SS).dpl();
        c.refreshAllSegments();
        c.updatePagingMode();
        c.invalidateFetch();
        shutdown = s.activity() == ActivityState.SHUTDOWN
                ? new Exit.Shutdown(Exit.Shutdown.Cause.TRIPLE_FAULT, s.location(), "imported in shutdown state")
                : null;
    }

    Cpu cpu() {
        return c;
    }

    void blockRunner(org.polyvisor.cpu.interpreter.core.BlockRunner r) {
        runner = r;
    }

    void addRetired(long n) {
        retired += n;
    }

    @Override
    public void requestExit() {
        exitRequested = true;
    }

    @Override
    public void invalidate(long gpa, long length) {
        c.codeCache.invalidate(gpa, length);
    }

    @Override
    public long instructionsRetired() {
        return retired;
    }

    @Override
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("instructions", retired);
        m.put("decodes", c.codeCache.decodes);
        m.put("decode-cache-hits", c.codeCache.hits);
        m.put("code-pages", (long) c.codeCache.pageCount());
        m.put("code-invalidations", c.codeCache.invalidations());
        m.put("tlb-misses", c.tlbMisses);
        m.put("tlb-flushes", c.tlb.flushes);
        m.put("exceptions", c.exceptions);
        m.put("interrupts", c.interruptsDelivered);
        m.put("port-io", c.portIo);
        m.put("mmio", c.mmioAccesses);
        return m;
    }

    @Override
    public void close() {
        c.codeCache.close();
    }
}
