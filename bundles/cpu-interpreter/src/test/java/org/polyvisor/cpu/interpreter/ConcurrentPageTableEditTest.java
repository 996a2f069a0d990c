package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.polyvisor.mmu.Access;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.PageFault;
import org.polyvisor.mmu.PagingMode;
import org.polyvisor.mmu.Translation;
import org.polyvisor.x86.paging.PageWalker;

/**
 * Page tables edited by one vCPU while another translates through them (bad input of the MMU issue):
 * vCPU 1 rewrites a PTE and a PDE of a table that vCPU 0 is using, on its own thread, and uses the
 * same tables from a second address space. Every translation vCPU 0 gets must be one the tables
 * allowed at some moment (a stale one is what a real TLB may hold until the guest invalidates), never
 * a mix of two states, never a host exception; once the edits stop, the MMU agrees with the
 * architectural walk.
 */
class ConcurrentPageTableEditTest {

    private static final long PD_A = 0x10_0000;
    private static final long PD_B = 0x10_1000; // a second address space sharing the page tables
    private static final long PT1 = 0x10_2000;
    private static final long PT2 = 0x10_3000;
    private static final long LINEAR = 0x0040_5000L; // PDE 1, PTE 5
    private static final long A = 0x20_0000;
    private static final long B = 0x21_0000;
    private static final long C = 0x22_0000;
    private static final long[] PTES = {A | 0x67, B | 0x25, 0, A | 0x27};

    @ParameterizedTest
    @ValueSource(strings = {"shadow", "slat"})
    void editsWhileAnotherVcpuTranslatesNeverMixStatesOrReachTheHost(String strategy) throws Exception {
        TestMemory memory = new TestMemory(8 << 20);
        Mmu mmu = MmuParts.create(strategy, memory, 2);
        memory.writeDword(PD_A + 4, (int) PT1 | 0x27);
        memory.writeDword(PD_B + 4, (int) PT1 | 0x27);
        memory.writeDword(PT1 + 5 * 4, (int) PTES[0]);
        memory.writeDword(PT2 + 5 * 4, (int) C | 0x67);
        PagingMode a = new PagingMode(0x8001_0011L, PD_A, 0, 0);
        PagingMode b = new PagingMode(0x8001_0011L, PD_B, 0, 0);
        mmu.pagingChanged(0, a);
        mmu.pagingChanged(1, b);
        // What vCPU 0 may see: a translation to A (writable), B (read-only) or C (writable), or #PF
        // not-present (read 0, write 2) or protection (write to B: 3).
        Set<String> allowed = Set.of("R A", "W A", "R B", "R C", "W C", "#PF 0", "#PF 2", "#PF 3");
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        List<Throwable> host = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean done = new AtomicBoolean();
        Thread editor = new Thread(() -> {
            try {
                for (int i = 0; i < 60_000; i++) {
                    memory.writeDword(PT1 + 5 * 4, (int) PTES[i % PTES.length]);
                    if (i % 7 == 0) {
                        memory.writeDword(PD_A + 4, (int) ((i / 7) % 2 == 0 ? PT2 : PT1) | 0x27);
                    }
                    try {
                        mmu.translate(1, b, LINEAR, i % 2 == 0 ? Access.READ : Access.WRITE, false);
                    } catch (PageFault expected) {
                        // the edits make pages absent or read-only on purpose
                    }
                    if (i % 1000 == 0) {
                        mmu.pagingChanged(1, i % 2000 == 0 ? a : b); // the editor switches address spaces too
                    }
                }
            } catch (Throwable t) {
                host.add(t);
            } finally {
                done.set(true);
            }
        }, "vcpu-1-editor");
        editor.start();
        while (!done.get() && host.isEmpty()) {
            for (Access access : new Access[] {Access.READ, Access.WRITE}) {
                String what;
                try {
                    long t = mmu.translate(0, a, LINEAR, access, false);
                    long page = Translation.page(t);
                    what = (access == Access.WRITE ? "W " : "R ") + (page == A ? "A" : page == B ? "B" : page == C ? "C"
                            : String.format("0x%x", page));
                } catch (PageFault pf) {
                    what = "#PF " + pf.errorCode();
                } catch (RuntimeException e) {
                    host.add(e);
                    break;
                }
                if (!allowed.contains(what) && seen.size() < 10) {
                    seen.add(what);
                }
            }
        }
        editor.join();
        assertEquals(List.of(), host, "host exceptions");
        assertEquals(List.of(), seen, "translations no state of the tables allowed");
        // Quiet again: the MMU and the architectural walk agree on the final tables.
        for (Access access : new Access[] {Access.READ, Access.WRITE}) {
            assertEquals(outcome(() -> PageWalker.walk(memory, a, LINEAR, access, false)),
                    outcome(() -> mmu.translate(0, a, LINEAR, access, false)), access.toString());
        }
        mmu.close();
    }

    private interface Walk {
        long run() throws PageFault;
    }

    private static String outcome(Walk w) {
        try {
            long t = w.run();
            return Translation.toString(t & ~(Translation.DIRTY | Translation.GLOBAL));
        } catch (PageFault pf) {
            return pf.getMessage();
        }
    }
}
