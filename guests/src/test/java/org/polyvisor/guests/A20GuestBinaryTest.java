package org.polyvisor.guests;

import java.util.List;

/** The committed A20 gate ROM (a20/README.md). */
class A20GuestBinaryTest extends CommittedRomsTest {

    @Override
    String folder() {
        return "a20";
    }

    @Override
    List<String> roms() {
        return List.of("a20-gate.rom");
    }

    @Override
    String what() {
        return "the A20 ROM";
    }
}
