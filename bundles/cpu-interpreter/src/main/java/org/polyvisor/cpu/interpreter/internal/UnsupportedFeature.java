package org.polyvisor.cpu.interpreter.internal;

/**
 * A host-side limitation: the guest asked for something this engine does not implement yet (a task
 * switch, virtual-8086 mode, a call gate to an inner ring). Not a guest exception: the engine stops
 * with {@code Exit.Shutdown(UNSUPPORTED)} naming it, rather than pretending.
 */
final class UnsupportedFeature extends RuntimeException {

    private static final long serialVersionUID = 1L;

    UnsupportedFeature(String what) {
        super(what, null, false, false);
    }
}
