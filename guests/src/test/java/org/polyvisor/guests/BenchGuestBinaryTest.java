package org.polyvisor.guests;

import java.util.List;

/** The committed CPU benchmark ROMs (bench/, used by bench/cpu-throughput), built from bench.S. */
class BenchGuestBinaryTest extends CommittedRomsTest {

    BenchGuestBinaryTest() {
        super("bench", "the benchmark guests", List.of("bench-loop.rom", "bench-mix.rom", "bench-copy.rom", "bench-call.rom",
                "bench-intp.rom", "bench-page.rom", "bench-trap.rom"));
    }
}
