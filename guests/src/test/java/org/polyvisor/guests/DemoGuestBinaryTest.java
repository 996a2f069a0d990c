package org.polyvisor.guests;

import java.util.List;

/** The committed demo guest ROMs (demo/): the demo VM's firmware and its self-checking variant. */
class DemoGuestBinaryTest extends CommittedRomsTest {

    @Override
    String folder() {
        return "demo";
    }

    @Override
    List<String> roms() {
        return List.of("demo.rom", "demo-test.rom");
    }

    @Override
    String what() {
        return "the demo guest";
    }
}
