package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.DescriptorTableRegister;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.SegmentRegister;

/**
 * Bad input (issue 3): random instruction bytes in random modes -- real mode, 16- and 32-bit
 * protected mode at ring 0 and ring 3, with and without paging (random U/S and R/W bits), and
 * virtual-8086 mode -- with
 * random interrupt tables pointing into the random code, so exceptions are delivered and execution
 * goes on in more random code. Whatever the guest does, the host must see no Java exception and no
 * engine fault: only guest exceptions, halts, triple faults and "unsupported" stops (features the
 * engine does not implement yet, counted and printed by reason).
 *
 * <p>Paging modes include wild tables (32-bit and PAE, with EFER.NXE at random): entries pointing
 * outside RAM, at MMIO, at the directory itself (recursive maps) and at the PDPT itself, random
 * XD/reserved bits, large pages. Each run is repeated with the engine's own walk and under each MMU
 * strategy ({@code shadow}, {@code slat}); {@link #theMmuStrategiesAgreeWithTheEnginesOwnWalk} runs
 * the three in lockstep on the same rounds and requires the same outcome, architectural state and
 * memory after every round.
 *
 * <p>Size: {@code -Dpolyvisor.fuzz.instructions} (default 2,000,000 with the engine's own walk,
 * a quarter of it under each strategy, an eighth in lockstep, bounded for CI), seed
 * {@code -Dpolyvisor.fuzz.seed}. The run is deterministic for a seed and size; a failure prints the
 * round, its mode and the bytes at CS:EIP (rerun with the same seed and size to reproduce). A REP
 * string instruction counts as one instruction although it may do up to 1024 iterations per step.
 */
class FuzzTest {

    private static final int CODE = 0x10000;
    private static final int CODE_SIZE = 0x20000;
    private static final int PAGE_DIR = 0x4000;
    private static final int PAGE_TABLE = 0x5000;
    private static final int ROUND = 4000;

    private static final int PDPT = 0x6000;

    private static final String[] MODES = {"real", "pm16-ring0", "pm32-ring0", "pm32-ring3", "pm16-ring3",
        "pm32-ring0-paging", "pm32-ring3-paging", "v86", "pm32-ring0-wild-paging", "pae-ring0-wild-paging",
        "pae-ring3-wild-paging"};

    private static long size(String mmu) {
        long total = Long.getLong("polyvisor.fuzz.instructions", 2_000_000L);
        return mmu.isEmpty() ? total : total / 4;
    }

    @ParameterizedTest(name = "mmu ''{0}''")
    @ValueSource(strings = {"", "shadow", "slat"})
    void randomBytesNeverReachTheHost(String mmu) {
        long total = size(mmu);
        long seed = Long.getLong("polyvisor.fuzz.seed", 0xF022L);
        Random rnd = new Random(seed);
        TestMachine m = new TestMachine(4 << 20).withMmu(mmu);
        byte[] all = new byte[CODE_SIZE];
        rnd.nextBytes(all);
        m.memory.write(CODE, all, 0, CODE_SIZE);
        Map<String, Integer> outcomes = new TreeMap<>();
        List<String> hostFailures = new ArrayList<>();
        long done = 0;
        long setupNanos = 0;
        int rounds = 0;
        long t0 = System.nanoTime();
        while (done < total) {
            long roundSeed = rnd.nextLong();
            int mode = Math.floorMod(roundSeed, MODES.length);
            Random r = new Random(roundSeed);
            long s0 = System.nanoTime();
            setUp(m, r, mode);
            setupNanos += System.nanoTime() - s0;
            long before = m.engine.instructionsRetired();
            String outcome;
            try {
                outcome = runRound(m);
            } catch (RuntimeException e) {
                outcome = "HOST EXCEPTION";
                if (hostFailures.size() < 10) {
                    hostFailures.add("round " + rounds + " mode " + MODES[mode] + ": " + e + " at "
                            + where(m) + "\n" + stack(e));
                }
            }
            if (outcome.startsWith("engine fault")) {
                hostFailures.add("round " + rounds + " mode " + MODES[mode] + ": " + outcome);
            }
            outcomes.merge(outcome, 1, Integer::sum);
            done += Math.max(1, m.engine.instructionsRetired() - before);
            rounds++;
            m.portWrites.clear();
            m.mmioWrites.clear();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("fuzz (mmu '%s'): %d instructions in %d rounds, %.1f s (%.1f s setting up), seed %d%n",
                mmu, done, rounds, secs, setupNanos / 1e9, seed);
        outcomes.forEach((k, v) -> System.out.printf("  %6d  %s%n", v, k));
        hostFailures.forEach(System.out::println);
        assertEquals(List.of(), hostFailures);
    }

    /**
     * The same rounds on three machines -- the engine's own walk, {@code shadow}, {@code slat} -- in
     * lockstep: after each round the outcome, the exported architectural state and guest memory must
     * be identical, so the strategies are compared with the architectural walk on whatever the random
     * code does to its page tables (edits, recursive maps, tables outside RAM, NX).
     */
    @Test
    void theMmuStrategiesAgreeWithTheEnginesOwnWalk() {
        long total = Long.getLong("polyvisor.fuzz.instructions", 2_000_000L) / 8;
        long seed = Long.getLong("polyvisor.fuzz.seed", 0xF022L) + 1;
        Random rnd = new Random(seed);
        String[] mmus = {"", "shadow", "slat"};
        TestMachine[] ms = new TestMachine[mmus.length];
        byte[] all = new byte[CODE_SIZE];
        rnd.nextBytes(all);
        for (int i = 0; i < ms.length; i++) {
            ms[i] = new TestMachine(4 << 20).withMmu(mmus[i]);
            ms[i].memory.write(CODE, all, 0, CODE_SIZE);
        }
        long done = 0;
        int rounds = 0;
        Map<String, Integer> outcomes = new TreeMap<>();
        while (done < total) {
            long roundSeed = rnd.nextLong();
            int mode = Math.floorMod(roundSeed, MODES.length);
            String[] outcome = new String[ms.length];
            long before = ms[0].engine.instructionsRetired();
            for (int i = 0; i < ms.length; i++) {
                setUp(ms[i], new Random(roundSeed), mode);
                try {
                    outcome[i] = runRound(ms[i]);
                } catch (RuntimeException e) {
                    outcome[i] = "HOST EXCEPTION " + e + "\n" + stack(e);
                }
                ms[i].portWrites.clear();
                ms[i].mmioWrites.clear();
            }
            String where = "round " + rounds + " (seed " + seed + ") mode " + MODES[mode] + ": ";
            for (int i = 1; i < ms.length; i++) {
                assertEquals(outcome[0], outcome[i], where + "outcome with mmu " + mmus[i]);
                assertEquals(ms[0].engine.exportState(), ms[i].engine.exportState(),
                        where + "state with mmu " + mmus[i] + " at " + where(ms[0]));
                if (rounds % 8 == 0 || done >= total) {
                    assertEquals(crc(ms[0]), crc(ms[i]), where + "guest memory with mmu " + mmus[i]);
                }
            }
            outcomes.merge(outcome[0], 1, Integer::sum);
            done += Math.max(1, ms[0].engine.instructionsRetired() - before);
            rounds++;
        }
        System.out.printf("fuzz lockstep (builtin, shadow, slat): %d instructions in %d rounds, seed %d%n", done,
                rounds, seed);
        outcomes.forEach((k, v) -> System.out.printf("  %6d  %s%n", v, k));
        for (int i = 1; i < ms.length; i++) {
            System.out.println("  " + mmus[i] + ": " + ms[i].mmu.stats());
        }
    }

    private static long crc(TestMachine m) {
        java.nio.ByteBuffer ram = java.nio.ByteBuffer.allocate(4 << 20);
        for (long a = 0; a < ram.capacity(); a += 8) {
            ram.putLong(m.memory.readQword(a));
        }
        CRC32 c = new CRC32();
        c.update(ram.flip());
        return c.getValue();
    }

    /** Runs one round to its budget; returns how it ended (grouped for the report). */
    private static String runRound(TestMachine m) {
        long left = ROUND;
        while (left > 0) {
            long before = m.engine.instructionsRetired();
            Exit e = m.engine.run(Math.min(left, 256));
            m.portWrites.clear(); // REP OUTS/STOS to devices would fill the recorders otherwise
            m.mmioWrites.clear();
            left -= Math.max(1, m.engine.instructionsRetired() - before);
            if (e instanceof Exit.Requested) {
                continue; // a write to the debug-exit port: just go on
            }
            if (e instanceof Exit.BudgetSpent) {
                continue; // a chunk is done; the round goes on until its own budget is spent
            }
            if (e instanceof Exit.Halted) {
                return "halted";
            }
            if (e instanceof Exit.Shutdown s) {
                if (s.cause() == Exit.Shutdown.Cause.TRIPLE_FAULT) {
                    return "triple fault";
                }
                String d = s.detail() == null ? "" : s.detail();
                int cut = d.indexOf(" (");
                String what = d.startsWith("x87 instruction") ? "x87 instruction" : cut > 0 ? d.substring(0, cut) : d;
                return "unsupported: " + what.replaceAll("0x[0-9a-f]+|\\b[0-9]+\\b", "N");
            }
            if (e instanceof Exit.EngineFault f) {
                return "engine fault: " + f.message();
            }
            return "exit " + e.reason();
        }
        return "budget spent";
    }

    private static void setUp(TestMachine m, Random r, int mode) {
        // Fresh random bytes over a slice of the code area each round (the rest keeps the bytes of
        // earlier rounds, as random and as much scribbled on by the guest).
        byte[] code = new byte[0x2000];
        r.nextBytes(code);
        m.memory.write(CODE + r.nextInt(CODE_SIZE / 0x2000) * 0x2000L, code, 0, code.length);
        m.flat32(0); // GDT, TSS (ESP0 = 0x7000), IDT base; replaced below as the mode needs
        m.nanos.set(r.nextInt(1 << 20));
        boolean pm = mode != 0;
        boolean ring3 = MODES[mode].contains("ring3");
        boolean code16 = MODES[mode].startsWith("pm16");
        boolean paging = MODES[mode].endsWith("paging");
        CpuState.Builder b = m.engine.exportState().toBuilder();
        for (int i = 0; i < 8; i++) {
            b.gpr(i, r.nextInt(4) == 0 ? r.nextInt(0x100) : r.nextInt() & 0xFFFF_FFFFL);
        }
        b.gpr(CpuState.RSP, 0x8000 + r.nextInt(0x6000));
        b.rflags(0x2 | (r.nextInt() & 0x8D5) | (r.nextBoolean() ? 0x200 : 0)); // arithmetic, DF, IF
        if (!pm) {
            // IVT: every vector into the random code (segment 1000h..2FFFh).
            for (int v = 0; v < 256; v++) {
                m.memory.writeWord(v * 4L, r.nextInt(0x10000));
                m.memory.writeWord(v * 4L + 2, 0x1000 + r.nextInt(0x1000));
            }
            int cs = 0x1000 + r.nextInt(0x1000);
            b.cr0(0x10).rip(r.nextInt(0x10000));
            b.segment(CpuState.CS, new SegmentRegister(cs, (long) cs << 4, 0xFFFF, SegmentRegister.REAL_MODE_CODE));
            for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
                b.segment(s, SegmentRegister.realMode(r.nextInt(0x3000)));
            }
            b.idtr(new DescriptorTableRegister(0, 0x3FF));
            b.gdtr(new DescriptorTableRegister(0, 0xFFFF));
            b.tr(new SegmentRegister(0, 0, 0xFFFF, SegmentRegister.P | 0xB));
            b.ldtr(new SegmentRegister(0, 0, 0xFFFF, SegmentRegister.P | 0x2));
            m.engine.importState(b.build());
            return;
        }
        // IDT: random gate kinds into the random code, ring-0 code segments, mostly DPL 3 (INT n from ring 3).
        for (int v = 0; v < 256; v++) {
            int[] types = {0xE, 0xF, 0x6, 0x7};
            int type = types[r.nextInt(types.length)];
            boolean gate32 = type >= 0xE;
            m.gate(v, gate32 ? TestMachine.CODE32 : TestMachine.CODE16,
                    gate32 ? CODE + r.nextInt(CODE_SIZE) : r.nextInt(0x10000), type, r.nextInt(4) == 0 ? 0 : 3);
        }
        // 16-bit code segments start at the random code (their 64 KiB window lies inside it).
        m.descriptor(TestMachine.CODE16, CODE, 0xFFFF, 0x9B, 0x0);
        if (MODES[mode].equals("v86")) {
            // Virtual-8086 mode: real-mode style segments at DPL 3 inside protected mode, IOPL 0 or 3.
            int dpl3 = 3 << SegmentRegister.DPL_SHIFT;
            int cs = 0x1000 + r.nextInt(0x1000);
            b.segment(CpuState.CS, new SegmentRegister(cs, (long) cs << 4, 0xFFFF, SegmentRegister.REAL_MODE_CODE | dpl3));
            for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
                int sel = r.nextInt(0x3000);
                b.segment(s, new SegmentRegister(sel, (long) sel << 4, 0xFFFF, SegmentRegister.REAL_MODE_DATA | dpl3));
            }
            b.rip(r.nextInt(0x10000)).rflags(0x2_0002L | (r.nextBoolean() ? 0x3000 : 0) | (r.nextInt() & 0x8D5) | 0x200);
            m.engine.importState(b.build());
            return;
        }
        int codeAttr;
        int dataAttr;
        int cs;
        int ds;
        if (ring3) {
            cs = TestMachine.CODE32_R3;
            ds = TestMachine.DATA32_R3;
            codeAttr = 0xB | SegmentRegister.S | SegmentRegister.P | 3 << SegmentRegister.DPL_SHIFT;
            dataAttr = 0x3 | SegmentRegister.S | SegmentRegister.P | 3 << SegmentRegister.DPL_SHIFT;
        } else {
            cs = code16 ? TestMachine.CODE16 : TestMachine.CODE32;
            ds = code16 ? TestMachine.DATA16 : TestMachine.DATA32;
            codeAttr = 0xB | SegmentRegister.S | SegmentRegister.P;
            dataAttr = 0x3 | SegmentRegister.S | SegmentRegister.P;
        }
        int limit = -1;
        if (code16) {
            limit = 0xFFFF; // 16-bit segments as CODE16/DATA16 describe (a ring-3 16-bit variant of the flat ones)
        } else {
            codeAttr |= SegmentRegister.DB | SegmentRegister.G;
            dataAttr |= SegmentRegister.DB | SegmentRegister.G;
        }
        if (code16 && ring3) {
            // 16-bit ring-3 segments at the ring-3 selectors' slots of the GDT.
            m.descriptor(TestMachine.CODE32_R3, CODE, 0xFFFF, 0xFB, 0x0);
            m.descriptor(TestMachine.DATA32_R3, 0, 0xFFFF, 0xF3, 0x0);
        }
        b.segment(CpuState.CS, new SegmentRegister(cs, code16 ? CODE : 0, limit, codeAttr));
        for (int s : new int[] {CpuState.ES, CpuState.SS, CpuState.DS, CpuState.FS, CpuState.GS}) {
            b.segment(s, new SegmentRegister(ds, 0, limit, dataAttr));
        }
        b.rip(code16 ? r.nextInt(0x10000) : CODE + r.nextInt(CODE_SIZE));
        if (code16) {
            b.gpr(CpuState.RSP, 0x8000 + r.nextInt(0x6000));
        }
        if (MODES[mode].contains("wild")) {
            wildPaging(m, r, b, MODES[mode].startsWith("pae"), ring3);
        } else if (paging) {
            // Identity map of the first 4 MiB; random user/writable bits on the code and data pages.
            m.memory.writeDword(PAGE_DIR, PAGE_TABLE | 0x7);
            for (int p = 0; p < 1024; p++) {
                int flags = 0x1 | (r.nextInt(4) != 0 ? 0x2 : 0) | (r.nextInt(4) != 0 ? 0x4 : 0);
                if (p < 0x10 && !ring3) {
                    flags = 0x3; // tables: supervisor, writable
                } else if (r.nextInt(16) == 0) {
                    flags &= ~1; // not present
                }
                m.memory.writeDword(PAGE_TABLE + 4L * p, p << 12 | flags);
            }
            b.cr3(PAGE_DIR).cr0(0x8001_0011L).cr4(r.nextBoolean() ? 0x10 : 0); // PG, WP, PE, ET; PSE sometimes
        }
        m.engine.importState(b.build());
    }

    /**
     * Page tables as bad input: an identity map of the first 2 or 4 MiB with random permissions, in
     * which some entries point outside RAM (reads as the bus answers, 0xFF.. or MMIO), at MMIO, at
     * the directory itself (a recursive map: the tables become visible as data), at the PDPT itself,
     * or carry reserved and XD bits; sometimes large pages, EFER.NXE at random with PAE.
     */
    private static void wildPaging(TestMachine m, Random r, CpuState.Builder b, boolean pae, boolean ring3) {
        long[] wild = {0x4000, 0x5000, PDPT, 0xFEE0_0000L, 0xFFFF_F000L, 0x7FFF_0000L, 0x0050_0000L, 0x0040_0000L};
        int entries = pae ? 512 : 1024;
        int shift = pae ? 3 : 2;
        for (int p = 0; p < entries; p++) {
            int flags = 0x1 | (r.nextInt(4) != 0 ? 0x2 : 0) | (r.nextInt(4) != 0 ? 0x4 : 0);
            long frame = (long) p << 12;
            if (p < 0x10 && !ring3) {
                flags = 0x3;
            } else if (r.nextInt(16) == 0) {
                flags &= ~1;
            } else if (r.nextInt(12) == 0) {
                frame = wild[r.nextInt(wild.length)];
            }
            long e = frame | flags;
            if (pae && r.nextInt(6) == 0) {
                e |= r.nextInt(8) == 0 ? 1L << 52 : 1L << 63; // reserved bit, or XD
            }
            writeEntry(m, 0x5000 + ((long) p << shift), e, pae);
        }
        for (int d = 0; d < entries; d++) {
            long e;
            if (d == 0) {
                e = 0x5000 | 0x7;
            } else if (r.nextInt(8) == 0) {
                e = wild[r.nextInt(wild.length)] | 0x7 | (r.nextInt(4) == 0 ? 0x80 : 0); // recursive, outside, MMIO
            } else if (r.nextInt(3) == 0) {
                e = (pae ? (long) d << 21 : (long) d << 22) | 0x87 | (pae && r.nextInt(4) == 0 ? 1L << 63 : 0);
            } else {
                e = 0;
            }
            writeEntry(m, 0x4000 + ((long) d << shift), e, pae);
        }
        if (pae) {
            m.memory.writeQword(PDPT, 0x4000 | 1);
            for (int q = 1; q < 4; q++) {
                long[] choice = {0, PDPT | 1, 0x4000 | 1, 0x5000 | 1, 0xFFFF_F000L | 1, 0x4000 | 3};
                m.memory.writeQword(PDPT + 8L * q, choice[r.nextInt(choice.length)]);
            }
            b.cr3(PDPT | (r.nextInt(4) == 0 ? 0x20 : 0)).cr4(0x20 | (r.nextBoolean() ? 0x80 : 0));
            b.efer(r.nextBoolean() ? 1L << 11 : 0);
        } else {
            b.cr3(0x4000).cr4(r.nextBoolean() ? 0x10 : 0);
        }
        b.cr0(r.nextInt(4) == 0 ? 0x8000_0011L : 0x8001_0011L);
    }

    private static void writeEntry(TestMachine m, long addr, long e, boolean pae) {
        if (pae) {
            m.memory.writeQword(addr, e);
        } else {
            m.memory.writeDword(addr, (int) e);
        }
    }

    private static String where(TestMachine m) {
        CpuState s = m.engine.exportState();
        long lin = s.segment(CpuState.CS).base() + s.rip();
        StringBuilder sb = new StringBuilder(s.location()).append(" bytes");
        for (int i = 0; i < 15; i++) {
            sb.append(String.format(" %02x", m.memory.readByte(lin + i)));
        }
        return sb.toString();
    }

    private static String stack(Throwable e) {
        StringBuilder sb = new StringBuilder();
        StackTraceElement[] st = e.getStackTrace();
        for (int i = 0; i < Math.min(8, st.length); i++) {
            sb.append("    at ").append(st[i]).append('\n');
        }
        return sb.toString();
    }
}
