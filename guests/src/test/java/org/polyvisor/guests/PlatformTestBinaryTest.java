package org.polyvisor.guests;

import java.util.List;

/** The committed platform test kernels (platform/README.md): one ROM per suite of build.sh. */
class PlatformTestBinaryTest extends CommittedRomsTest {

    private static final List<String> SUITES = List.of("virtio", "pic");

    PlatformTestBinaryTest() {
        super("platform", "the platform test kernels", SUITES, SUITES.stream().map(s -> "platform-" + s + ".rom").toList());
    }

    @Override
    void checkBootCode(String name, byte[] rom) {
        assertBootStubAt0xFF00(name, rom);
    }
}
