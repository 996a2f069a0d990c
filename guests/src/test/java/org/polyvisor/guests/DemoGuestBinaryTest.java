package org.polyvisor.guests;

import java.util.List;

/** The committed demo guest ROMs (demo/): the demo VM's firmware and its self-checking variant. */
class DemoGuestBinaryTest extends CommittedRomsTest {

    DemoGuestBinaryTest() {
        super("demo", "the demo guest", List.of("demo.rom", "demo-test.rom"));
    }
}
