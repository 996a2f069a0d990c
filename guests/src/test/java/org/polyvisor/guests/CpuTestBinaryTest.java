package org.polyvisor.guests;

import java.util.List;

/** The committed CPU test kernels (cputest/README.md): one ROM per suite of build.sh. */
class CpuTestBinaryTest extends CommittedRomsTest {

    @Override
    String folder() {
        return "cputest";
    }

    @Override
    List<String> suites() {
        return List.of("gates", "tasks", "v86", "paging", "iobitmap", "cpu");
    }

    @Override
    List<String> roms() {
        return suites().stream().map(s -> "cputest-" + s + ".rom").toList();
    }

    @Override
    String what() {
        return "the CPU test kernels";
    }

    @Override
    void checkBootCode(String name, byte[] rom) {
        assertBootStubAt0xFF00(name, rom);
    }
}
