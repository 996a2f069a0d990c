package org.polyvisor.cpu.bt.internal;

import java.util.LinkedHashMap;
import java.util.Map;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.cpu.interpreter.core.BlockRunner;
import org.polyvisor.cpu.interpreter.core.InterpreterCore;
import org.polyvisor.x86.X86Exception;

/**
 * The binary-translation engine: an interpreter core runs cold code, events, state exchange and
 * every instruction translations leave out; at each instruction boundary this runner looks the
 * current CS:EIP up by guest-physical address and, once an address has run {@code threshold} times,
 * translates the block there and from then on runs the translation, going from block to block
 * until the budget is spent or the next address has no translation. A block's successors are
 * reached through its chain links ({@link BlockCache.Entry#successor}) without a cache lookup.
 */
final class BtEngine implements CpuEngine, BlockRunner {

    /**
     * Executions before an address is translated ({@code polyvisor.bt.threshold}, default). A
     * translation costs its generation and, above all, HotSpot's compilations of its class (C1 then
     * C2: about 4 ms of compiler time each, measured on the Debian boot), so only code that will
     * run thousands of times more pays back; below that the interpreter is cheaper.
     */
    static final int HOT = 2000;

    /** Executions before an address is translated. */
    private final int threshold = Math.max(1, Integer.getInteger("polyvisor.bt.threshold", HOT));
    /** Longest block, in instructions ({@code polyvisor.bt.maxBlock}). */
    private final int maxBlock = Math.max(1, Math.min(Translator.MAX_INSTRUCTIONS,
            Integer.getInteger("polyvisor.bt.maxBlock", Translator.MAX_INSTRUCTIONS)));

    /** Whether blocks follow their chain links ({@code polyvisor.bt.chain}, default true). */
    private final boolean chain = !"false".equals(System.getProperty("polyvisor.bt.chain"));

    /**
     * Whether returns are predicted through the shadow stack ({@code polyvisor.bt.returnStack},
     * default false). Off by default: on the call benchmark (recursive fib, three return sites,
     * all held by the RET block's links and inline cache) it measured no faster, and in 2 of 3
     * interleaved rounds slower, than without it; it is for code whose functions have more
     * callers than an inline cache holds.
     */
    private final boolean predictReturns = Boolean.getBoolean("polyvisor.bt.returnStack");

    private final InterpreterCore core;
    private final CpuEngine interpreter;
    private final Vcpu x;
    private final BlockCache cache;

    private long blocksRun;
    private long translatedInstructions;
    private long translateNanos;
    private long chainedRuns;
    /** {@link InterpreterCore#segmentGeneration} when {@link #flat} was computed. */
    private int segmentGeneration = -1;
    /** {@link Translator#FLAT} when DS, ES and SS are flat (base 0, all offsets valid), else 0. */
    private int flat;
    /**
     * The entry whose instruction the interpreter runs next (an untranslatable one) or just ran (an
     * event instruction a translation handed to the core), so the next call reaches its successor
     * (e.g. the handler a #DE or an INT n went to) through a chain link instead of a lookup.
     */
    private BlockCache.Entry last;
    /**
     * Return-address prediction: a shadow stack of the translations that ended in a CALL, newest
     * on top. At a RET the top is popped; when the guest returned to that call's return address,
     * the entry its returns went to last ({@link BlockCache.Entry#returnTo}) runs next, checked
     * like a chain link, without a lookup. Only ever a guess: a wrong one costs a lookup.
     */
    static final int RETURN_DEPTH = 64;
    /**
     * The shadow stack holds each call's return address and its translation's slot in the cache
     * ({@link BlockCache#atSlot}), not the entry: ints, so a push is no reference store (each of
     * those paid the garbage collector's write barrier). A slot reused by another entry is
     * harmless: its prediction is checked like any other.
     */
    private final int[] returnEips = new int[RETURN_DEPTH];
    private final int[] returnSlots = new int[RETURN_DEPTH];
    private int returnTop;
    private int returnDepth;
    private long returnsPredicted;
    private long returnsMispredicted;
    private final long[] sensitiveSites = new long[Sensitive.values().length];
    private final long[] sensitiveRuns = new long[Sensitive.values().length];

    BtEngine(VcpuContext context) {
        this.core = InterpreterCore.create(context);
        this.interpreter = core.engine();
        this.x = new Vcpu(core);
        this.cache = new BlockCache(core.memory(), () -> x.invalidated = true);
        core.blockRunner(this);
    }

    @Override
    public int run(int budget) {
        int done = 0;
        long retiredAtEntry = interpreter.instructionsRetired();
        BlockCache.Entry prev = last;
        last = null;
        if (prev != null && prev.mode != mode(core.cpl())) {
            prev = null; // the interpreter changed the mode since: links join entries of one mode
        }
        int prevRan = 0;
        try {
            while (true) {
                int eip = core.eip();
                BlockCache.Entry e = null;
                BlockCache.Entry caller = null;
                if (prev != null && chain) {
                    if (predictReturns && prev.end == Translator.END_RET && prevRan == prev.instructions) {
                        caller = popReturn(eip);
                        if (caller != null) {
                            e = caller.returnTo;
                            if (e != null && e.eip == eip && e.mode == prev.mode && e.valid
                                    && stillMapped(e, eip, prev.mode)) {
                                returnsPredicted++;
                                caller = null; // (its prediction stands)
                            } else {
                                e = null;
                            }
                        }
                    }
                    if (e == null) {
                        e = prev.successor(eip);
                        if (e != null && !(e.valid && stillMapped(e, eip, prev.mode))) {
                            e = null;
                        }
                    }
                }
                if (e != null) {
                    chainedRuns++;
                    e.referenced = true;
                } else {
                    int cpl = core.cpl();
                    long lin = (x.segBase[1] + (eip & 0xFFFF_FFFFL)) & 0xFFFF_FFFFL;
                    int i = InterpreterCore.tlbIndex(lin);
                    long pa;
                    if (x.readTag[i] == InterpreterCore.tlbKey(lin, cpl == 3)
                            && (x.readPhys[i] & InterpreterCore.TLB_MMIO) == 0) {
                        pa = x.readPhys[i] | (lin & 0xFFF);
                    } else {
                        pa = core.codeAddress(lin); // fills the TLB; a fault is the interpreter's to raise
                        if (pa < 0) {
                            break;
                        }
                    }
                    int mode = mode(cpl);
                    e = cache.find(pa, eip, mode);
                    if (e != null) {
                        e.referenced = true; // (a new translation gets its bit from its next run)
                    } else {
                        if (cache.count(pa, eip, mode) < threshold || budget - done < maxBlock) {
                            break; // cold, or too little budget left to translate a full block now
                        }
                        e = translate(pa, eip, mode);
                        if (e == null) {
                            break;
                        }
                    }
                    if (prev != null && prev.valid) {
                        cache.link(prev, e); // the next run of prev reaches e without this lookup
                    }
                }
                if (caller != null) {
                    caller.returnTo = e; // where this call site's returns go: the next prediction
                }
                CompiledBlock code = e.code;
                if (code == null) {
                    if (e.sensitive != null && done == 0) {
                        sensitiveRuns[e.sensitive.ordinal()]++;
                    }
                    last = e;
                    break; // untranslatable: the interpreter runs it
                }
                if (e.instructions > budget - done) {
                    break; // a translation never retires more than the budget
                }
                if (Integer.compareUnsigned(e.lastEip, x.segLimit[1]) > 0) {
                    break; // part of it is beyond the CS limit: the interpreter faults at the right byte
                }
                x.invalidated = false;
                x.event = false;
                int ran = code.run(x, budget - done);
                done += ran;
                blocksRun++;
                if (x.event) {
                    // The core delivered an event or returned from one: the interpreter looks at
                    // interrupts, the trap flag and the new mode before anything else runs.
                    if (e.sensitive != null) { // (UD2 is an event instruction, not a sensitive one)
                        sensitiveRuns[e.sensitive.ordinal()]++;
                    }
                    last = e;
                    break;
                }
                if (predictReturns && e.end == Translator.END_CALL && ran == e.instructions) {
                    pushReturn(e); // it ran to its CALL: the callee's RET should come back after it
                }
                if (done >= budget) {
                    break;
                }
                prev = e;
                prevRan = ran;
            }
        } catch (X86Exception fault) {
            // The faulting translation added what it retired before the fault to the core itself.
            translatedInstructions += done + interpreter.instructionsRetired() - retiredAtEntry;
            core.addRetired(done);
            throw fault;
        }
        translatedInstructions += done;
        return done;
    }

    /** Remembers a translation that ended in a CALL, the return-address prediction's next entry. */
    private void pushReturn(BlockCache.Entry caller) {
        returnEips[returnTop] = caller.returnEip();
        returnSlots[returnTop] = caller.slot;
        returnTop = (returnTop + 1) & (RETURN_DEPTH - 1);
        if (returnDepth < RETURN_DEPTH) {
            returnDepth++; // (past the depth, the oldest is overwritten: its return goes through the lookup)
        }
    }

    /**
     * Takes the latest call off the shadow stack at a RET that came back to an EIP.
     *
     * @return the translation that ended in the matching CALL, or null when the stack is empty
     *         or the RET did not return to that call's return address (a changed return address,
     *         a longjmp-like unwinding, or calls the interpreter ran: the stack lost track)
     */
    private BlockCache.Entry popReturn(int eip) {
        if (returnDepth == 0) {
            return null;
        }
        returnDepth--;
        returnTop = (returnTop - 1) & (RETURN_DEPTH - 1);
        if (returnEips[returnTop] != eip) {
            returnsMispredicted++;
            return null;
        }
        BlockCache.Entry caller = cache.atSlot(returnSlots[returnTop]);
        return caller != null && caller.returnEip() == eip ? caller : null;
    }

    /**
     * Whether a linked successor is still the code at CS:EIP: the TLB maps its linear page to the
     * physical page it was translated from. The mode bits cannot have changed since the previous
     * block was looked up (translated code loads no segment and changes no privilege level), and
     * links only join entries looked up in the same mode.
     */
    private boolean stillMapped(BlockCache.Entry e, int eip, int mode) {
        long lin = (x.segBase[1] + (eip & 0xFFFF_FFFFL)) & 0xFFFF_FFFFL;
        int i = InterpreterCore.tlbIndex(lin);
        return x.readTag[i] == InterpreterCore.tlbKey(lin, (mode >>> 2 & 3) == 3)
                && (x.readPhys[i] | (lin & 0xFFF)) == e.pa;
    }

    /** The {@link Translator#mode} bits of the current CPU state, {@link Translator#FLAT} included. */
    private int mode(int cpl) {
        if (core.segmentGeneration() != segmentGeneration) {
            segmentGeneration = core.segmentGeneration();
            flat = flat(3) && flat(0) && flat(2) ? Translator.FLAT : 0;
        }
        return Translator.mode(core.code32(), core.stack32(), cpl) | flat;
    }

    private boolean flat(int seg) {
        return x.segBase[seg] == 0 && x.readLo[seg] == 0 && x.writeLo[seg] == 0
                && x.readHi[seg] == 0xFFFF_FFFFL && x.writeHi[seg] == 0xFFFF_FFFFL;
    }

    /**
     * Translates the block at an address and adds it to the cache, or records the address as
     * untranslatable.
     *
     * @return the new entry, or null when the code page was written while it was translated
     */
    private BlockCache.Entry translate(long pa, int eip, int mode) {
        BlockCache.Page page = cache.page(pa);
        int writes = page.writes;
        long t0 = System.nanoTime();
        Translator.Result r = Translator.translate(core.memory(), pa, eip, mode, maxBlock);
        translateNanos += System.nanoTime() - t0;
        if (page.writes != writes) {
            cache.abandon(page); // it may hold bytes from before the write: the next hot run retries
            return null;
        }
        BlockCache.Entry e = new BlockCache.Entry(pa, eip, mode);
        if (r.code() == null) {
            e.untranslatable = true;
            e.sensitive = r.stoppedAtClass();
            e.guestBytes = r.stoppedAt() == null ? 1 : r.stoppedAt().length();
            if (e.sensitive != null) {
                sensitiveSites[e.sensitive.ordinal()]++;
            }
        } else {
            // A block ending before a sensitive instruction does not count it: its own address gets
            // an entry (the next lookup), which counts the site once and each execution.
            e.lastEip = eip + r.guestBytes() - 1;
            e.guestBytes = r.guestBytes();
            e.instructions = r.instructions();
            e.end = r.end();
            e.code = r.code();
            e.sensitive = r.endsWith(); // an event instruction the translation hands to the core
            if (e.sensitive != null) {
                sensitiveSites[e.sensitive.ordinal()]++;
            }
        }
        cache.install(e, r, page);
        return e;
    }

    @Override
    public Exit run(long budget) {
        return interpreter.run(budget);
    }

    @Override
    public CpuState exportState() {
        return interpreter.exportState();
    }

    @Override
    public void importState(CpuState state) {
        interpreter.importState(state);
    }

    @Override
    public void requestExit() {
        interpreter.requestExit();
    }

    @Override
    public boolean pollsInterrupts() {
        return interpreter.pollsInterrupts();
    }

    @Override
    public void invalidate(long gpa, long length) {
        interpreter.invalidate(gpa, length);
        cache.invalidate(gpa, length);
    }

    @Override
    public long instructionsRetired() {
        return interpreter.instructionsRetired();
    }

    @Override
    public Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>(interpreter.stats());
        m.put("bt-translated-instructions", translatedInstructions);
        m.put("bt-blocks-run", blocksRun);
        m.put("bt-translations", cache.translations);
        m.put("bt-cached-blocks", (long) cache.size());
        m.put("bt-cached-bytecode-bytes", cache.cachedBytecode);
        m.put("bt-code-pages", (long) cache.pages());
        m.put("bt-bytecode-bytes", cache.bytecodeBytes);
        m.put("bt-guest-bytes-translated", cache.guestBytes);
        m.put("bt-guest-instructions-translated", cache.guestInstructions);
        m.put("bt-translate-micros", translateNanos / 1000);
        m.put("bt-invalidations", cache.invalidations.get());
        m.put("bt-evictions", cache.evicted);
        m.put("bt-chain-links", cache.chainLinks);
        m.put("bt-chained-runs", chainedRuns);
        m.put("bt-returns-predicted", returnsPredicted);
        m.put("bt-returns-mispredicted", returnsMispredicted);
        for (Sensitive s : Sensitive.values()) {
            m.put("bt-sensitive-sites-" + s.label, sensitiveSites[s.ordinal()]);
            m.put("bt-sensitive-runs-" + s.label, sensitiveRuns[s.ordinal()]);
        }
        return m;
    }

    @Override
    public void close() {
        last = null;
        core.blockRunner(null);
        cache.close();
        interpreter.close();
    }
}
