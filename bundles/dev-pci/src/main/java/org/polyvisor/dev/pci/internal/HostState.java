package org.polyvisor.dev.pci.internal;

import org.polyvisor.part.SavedState;

/**
 * The host bridge's hardware state as a plain value (type {@value #TYPE}, version
 * {@value #VERSION}). The attached functions keep their own configuration state.
 *
 * @param configAddress the CONFIG_ADDRESS latch at 0xCF8
 * @param resetControl  the reset control register at 0xCF9 (bit 1, SYS_RST)
 * @param registers     the host bridge function's command, cache line/latency and BARs
 * @param config        the host bridge function's configuration bytes (chipset registers)
 * @param lines         the Interrupt Line register of each device slot, -1 for the routed default
 */
record HostState(int configAddress, int resetControl, int[] registers, byte[] config, int[] lines) {

    /** Saved-state type; names the hardware, not this implementation. */
    static final String TYPE = "pci-host-cam1";

    /** Current format version. */
    static final int VERSION = 1;

    HostState {
        registers = registers.clone();
        config = config.clone();
        lines = lines.clone();
        if (lines.length != Segment.SLOTS) {
            throw new IllegalArgumentException("pci host state: " + lines.length + " interrupt lines, expected "
                    + Segment.SLOTS);
        }
    }

    SavedState toSaved() {
        return SavedState.builder(TYPE, VERSION)
                .put("config-address", configAddress)
                .put("reset-control", resetControl)
                .put("host-registers", registers)
                .put("host-config", config)
                .put("interrupt-lines", lines)
                .build();
    }

    static HostState fromSaved(SavedState s) {
        s.require(TYPE, 1, VERSION);
        return new HostState(s.getInt("config-address"), s.getInt("reset-control") & 0x02,
                s.getInts("host-registers"), s.getBytes("host-config"), s.getInts("interrupt-lines"));
    }
}
