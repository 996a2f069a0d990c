package org.polyvisor.guests;

import java.util.List;

/** The committed platform test kernels (platform/README.md): one ROM per suite of build.sh. */
class PlatformTestBinaryTest extends CommittedRomsTest {

    @Override
    String folder() {
        return "platform";
    }

    @Override
    List<String> suites() {
        return List.of("virtio", "pic");
    }

    @Override
    List<String> roms() {
        return suites().stream().map(s -> "platform-" + s + ".rom").toList();
    }

    @Override
    String what() {
        return "the platform test kernels";
    }

    @Override
    void checkBootCode(String name, byte[] rom) {
        assertBootStubAt0xFF00(name, rom);
    }
}
