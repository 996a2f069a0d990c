package org.polyvisor.guests;

import java.util.List;

/** The committed CPU test kernels (cputest/README.md): one ROM per suite of build.sh. */
class CpuTestBinaryTest extends CommittedRomsTest {

    private static final List<String> SUITES = List.of("gates", "tasks", "v86", "paging", "iobitmap", "cpu");

    CpuTestBinaryTest() {
        super("cputest", "the CPU test kernels", SUITES, SUITES.stream().map(s -> "cputest-" + s + ".rom").toList());
    }

    @Override
    void checkBootCode(String name, byte[] rom) {
        assertBootStubAt0xFF00(name, rom);
    }
}
