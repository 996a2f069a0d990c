package org.polyvisor.cpu.interpreter.internal;

/**
 * A host-side limitation: the guest asked for something this engine does not implement. Task switches,
 * virtual-8086 mode and inner-ring call gates are implemented now; nothing in this engine throws it
 * today, but the engine still turns it into that exit. Not a guest exception: the engine stops
 * with {@code Exit.Shutdown(UNSUPPORTED)} naming it, rather than pretending.
 */
final class UnsupportedFeature extends RuntimeException {

    private static final long serialVersionUID = 1L;

    UnsupportedFeature(String what) {
        super(what, null, false, false);
    }
}
