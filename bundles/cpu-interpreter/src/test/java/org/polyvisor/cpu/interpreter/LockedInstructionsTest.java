package org.polyvisor.cpu.interpreter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.Exit;

/**
 * Locked read-modify-writes on two vCPUs, each on its own thread over one guest memory (SDM Vol. 3A
 * 9.1.2): no increment is ever lost, and a spin lock taken with {@code lock bts} (or XCHG, locked
 * without the prefix) and released with a plain store (SeaBIOS's SMP start-up, Linux's spin locks)
 * is never lost nor held twice. Each vCPU runs its loop {@value #ROUNDS} times and halts; a vCPU
 * that has not halted after {@value #MAX_INSTRUCTIONS} instructions is stuck on a lock that nobody
 * holds.
 */
class LockedInstructionsTest {

    private static final int ROUNDS = 100_000;
    private static final long MAX_INSTRUCTIONS = 400_000_000L;
    private static final int CODE = 0x1_0000;
    private static final int COUNTER = 0x2_0000;
    private static final int LOCK = 0x2_0040;

    @Test
    void lockedIncrementsOfTwoVcpusAreNeverLost() throws Exception {
        TestMemory memory = new TestMemory(4 << 20);
        int[] code = loop(0xF0, 0xFF, 0x05, le(COUNTER)); // lock inc dword [COUNTER]
        runOnTwoVcpus(memory, code, code);
        assertEquals(2 * ROUNDS, memory.readDword(COUNTER));
    }

    @Test
    void xaddAndCmpxchgLoopsOfTwoVcpusAreNeverLost() throws Exception {
        TestMemory memory = new TestMemory(4 << 20);
        int[] xadd = loop(
                0xB8, le(1),                    // mov eax, 1
                0xF0, 0x0F, 0xC1, 0x05, le(COUNTER)); // lock xadd [COUNTER], eax
        int[] cmpxchg = loop(
                0xA1, le(COUNTER),              // mov eax, [COUNTER]
                0x8D, 0x50, 0x01,               // again: lea edx, [eax+1]
                0xF0, 0x0F, 0xB1, 0x15, le(COUNTER), // lock cmpxchg [COUNTER], edx (eax = memory on failure)
                0x75, 0xF3);                    // jnz again
        runOnTwoVcpus(memory, xadd, cmpxchg);
        assertEquals(2 * ROUNDS, memory.readDword(COUNTER));
    }

    @Test
    void lockedWordsSharingADwordKeepEachOthersUpdates() throws Exception {
        TestMemory memory = new TestMemory(4 << 20);
        int[] low = loop(0x66, 0xF0, 0xFF, 0x05, le(COUNTER));      // lock inc word [COUNTER]
        int[] high = loop(0x66, 0xF0, 0xFF, 0x05, le(COUNTER + 2)); // lock inc word [COUNTER+2]
        runOnTwoVcpus(memory, low, high);
        assertEquals(ROUNDS & 0xFFFF, memory.readWord(COUNTER));
        assertEquals(ROUNDS & 0xFFFF, memory.readWord(COUNTER + 2));
    }

    @Test
    void btsSpinLockReleasedByAPlainStoreGuardsAPlainIncrement() throws Exception {
        TestMemory memory = new TestMemory(4 << 20);
        int[] code = loop(
                0xF0, 0x0F, 0xBA, 0x2D, le(LOCK), 0x00, // take: lock bts dword [LOCK], 0
                0x72, 0xF5,                     // jc take
                0xA1, le(COUNTER),              // mov eax, [COUNTER]
                0x40,                           // inc eax
                0xA3, le(COUNTER),              // mov [COUNTER], eax
                0xC7, 0x05, le(LOCK), le(0));   // mov dword [LOCK], 0 (release)
        runOnTwoVcpus(memory, code, code);
        assertEquals(2 * ROUNDS, memory.readDword(COUNTER));
        assertEquals(0, memory.readDword(LOCK));
    }

    @Test
    void xchgSpinLockReleasedByAPlainStoreGuardsAPlainIncrement() throws Exception {
        TestMemory memory = new TestMemory(4 << 20);
        int[] code = loop(
                0xB8, le(1),                    // take: mov eax, 1
                0x87, 0x05, le(LOCK),           // xchg [LOCK], eax (locked without a prefix)
                0x85, 0xC0,                     // test eax, eax
                0x75, 0xF1,                     // jnz take
                0xFF, 0x05, le(COUNTER),        // inc dword [COUNTER] (not locked)
                0xC7, 0x05, le(LOCK), le(0));   // mov dword [LOCK], 0 (release)
        runOnTwoVcpus(memory, code, code);
        assertEquals(2 * ROUNDS, memory.readDword(COUNTER));
    }

    /** {@code mov ecx, ROUNDS; again: body; dec ecx; jnz again; hlt} (the body shorter than 120 bytes). */
    private static int[] loop(Object... body) {
        List<Integer> bytes = new ArrayList<>();
        add(bytes, 0xB9, le(ROUNDS));
        int start = bytes.size();
        add(bytes, body);
        bytes.add(0x49); // dec ecx
        int next = bytes.size() + 2;
        bytes.add(0x75); // jnz again
        bytes.add((start - next) & 0xFF);
        bytes.add(0xF4); // hlt
        return bytes.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void add(List<Integer> bytes, Object... parts) {
        for (Object p : parts) {
            if (p instanceof int[] a) {
                for (int b : a) {
                    bytes.add(b);
                }
            } else {
                bytes.add((Integer) p);
            }
        }
    }

    private static int[] le(int v) {
        return new int[] {v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, v >>> 24};
    }

    /** Runs one program per vCPU, each on its own thread, until both halt. */
    private static void runOnTwoVcpus(TestMemory memory, int[] code0, int[] code1) throws Exception {
        int[][] code = {code0, code1};
        TestMachine[] vcpus = new TestMachine[2];
        for (int i = 0; i < 2; i++) {
            vcpus[i] = new TestMachine(memory);
            vcpus[i].vcpuId = i;
            memory.load(CODE + i * 0x1000, code[i]);
            vcpus[i].flat32(CODE + i * 0x1000);
        }
        Exit[] last = new Exit[2];
        Throwable[] failed = new Throwable[2];
        Thread[] threads = new Thread[2];
        for (int i = 0; i < 2; i++) {
            int v = i;
            threads[i] = new Thread(() -> {
                try {
                    long ran = 0;
                    do {
                        last[v] = vcpus[v].run(100_000);
                        ran += 100_000;
                    } while (!(last[v] instanceof Exit.Halted) && ran < MAX_INSTRUCTIONS);
                } catch (Throwable t) {
                    failed[v] = t;
                }
            }, "vcpu-" + i);
            threads[i].start();
        }
        for (int i = 0; i < 2; i++) {
            threads[i].join();
            if (failed[i] != null) {
                throw new AssertionError("vCPU " + i + " failed", failed[i]);
            }
        }
        for (int i = 0; i < 2; i++) {
            assertInstanceOf(Exit.Halted.class, last[i], "vCPU " + i + " never finished its loop: " + last[i]
                    + " at eip 0x" + Long.toHexString(vcpus[i].engine.exportState().rip()));
            assertEquals(0, vcpus[i].engine.exportState().gpr(CpuState.RCX), "vCPU " + i + " ran every round");
            assertTrue(vcpus[i].engine.instructionsRetired() > ROUNDS);
        }
    }
}
