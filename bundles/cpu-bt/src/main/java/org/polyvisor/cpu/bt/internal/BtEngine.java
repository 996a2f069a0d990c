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
 * translates the block there and from then on runs the translation, chaining from block to block
 * until the budget is spent or the next address has no translation.
 */
final class BtEngine implements CpuEngine, BlockRunner {

    /** Executions before an address is translated ({@code polyvisor.bt.threshold}, default). */
    static final int HOT = 24;

    /** Executions before an address is translated. */
    private final int threshold = Math.max(1, Integer.getInteger("polyvisor.bt.threshold", HOT));
    /** Longest block, in instructions ({@code polyvisor.bt.maxBlock}). */
    private final int maxBlock = Math.max(1, Math.min(Translator.MAX_INSTRUCTIONS,
            Integer.getInteger("polyvisor.bt.maxBlock", Translator.MAX_INSTRUCTIONS)));

    private final InterpreterCore core;
    private final CpuEngine interpreter;
    private final Vcpu x;
    private final BlockCache cache;

    private long blocksRun;
    private long translatedInstructions;
    private long translateNanos;
    private final long[] sensitiveSites = new long[Sensitive.values().length];
    private final long[] sensitiveRuns = new long[Sensitive.values().length];

    BtEngine(VcpuContext context) {
        this.core = InterpreterCore.create(context);
        this.interpreter = core.engine();
        this.x = new Vcpu(core);
        this.cache = new BlockCache(core.memory(), x);
        core.blockRunner(this);
    }

    @Override
    public int run(int budget) {
        int done = 0;
        try {
            while (true) {
                int eip = core.eip();
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
                int mode = Translator.mode(core.code32(), core.stack32(), cpl);
                BlockCache.Entry e = cache.lookup(pa, eip, mode);
                CompiledBlock code = e.code;
                if (code == null) {
                    if (e.untranslatable) {
                        if (e.sensitive != null && done == 0) {
                            sensitiveRuns[e.sensitive.ordinal()]++;
                        }
                        break;
                    }
                    if (++e.hits < threshold || budget - done < maxBlock) {
                        break; // cold, or too little budget left to translate a full block now
                    }
                    code = translate(e);
                    if (code == null) {
                        break;
                    }
                }
                if (e.instructions > budget - done) {
                    break; // a translation never retires more than the budget
                }
                if (Integer.compareUnsigned(e.lastEip, x.segLimit[1]) > 0) {
                    break; // part of it is beyond the CS limit: the interpreter faults at the right byte
                }
                x.invalidated = false;
                done += code.run(x, budget - done);
                blocksRun++;
                if (done >= budget) {
                    break;
                }
            }
        } catch (X86Exception fault) {
            core.addRetired(done);
            translatedInstructions += done;
            throw fault;
        }
        translatedInstructions += done;
        return done;
    }

    private CompiledBlock translate(BlockCache.Entry e) {
        long t0 = System.nanoTime();
        Translator.Result r = Translator.translate(core.memory(), e.pa, e.eip, e.mode, maxBlock);
        translateNanos += System.nanoTime() - t0;
        if (r.code() == null) {
            e.untranslatable = true;
            e.sensitive = r.stoppedAtClass();
            if (e.sensitive != null) {
                sensitiveSites[e.sensitive.ordinal()]++;
            }
            return null;
        }
        if (r.stoppedAtClass() != null) {
            sensitiveSites[r.stoppedAtClass().ordinal()]++;
        }
        e.lastEip = e.eip + r.guestBytes() - 1;
        e.guestBytes = r.guestBytes();
        e.instructions = r.instructions();
        e.code = r.code();
        cache.installed(e, r);
        return r.code();
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
        m.put("bt-bytecode-bytes", cache.bytecodeBytes);
        m.put("bt-guest-bytes-translated", cache.guestBytes);
        m.put("bt-guest-instructions-translated", cache.guestInstructions);
        m.put("bt-translate-micros", translateNanos / 1000);
        m.put("bt-invalidations", cache.invalidations);
        m.put("bt-flushes", cache.flushes);
        m.put("bt-evictions", cache.evicted);
        for (Sensitive s : Sensitive.values()) {
            m.put("bt-sensitive-sites-" + s.label, sensitiveSites[s.ordinal()]);
            m.put("bt-sensitive-runs-" + s.label, sensitiveRuns[s.ordinal()]);
        }
        return m;
    }

    @Override
    public void close() {
        core.blockRunner(null);
        cache.close();
        interpreter.close();
    }
}
