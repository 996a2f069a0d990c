package org.polyvisor.guests;

import java.util.List;

/** The committed A20 gate ROM (a20/README.md). */
class A20GuestBinaryTest extends CommittedRomsTest {

    A20GuestBinaryTest() {
        super("a20", "the A20 ROM", List.of("a20-gate.rom"));
    }
}
