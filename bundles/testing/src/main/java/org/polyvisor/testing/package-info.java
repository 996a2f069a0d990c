/**
 * Fakes of the platform side of the Polyvisor API for the parts' unit tests: guest memory, port and
 * MMIO buses, a hand-driven clock, recording IRQ lines, interrupt sources and VM control, a console
 * backend, and the {@code DeviceContext} and {@code IrqChipContext} built from them; and
 * {@link org.polyvisor.testing.MmuDifferential}, which checks an MMU strategy against the
 * architectural page walker on random page tables.
 *
 * <p>The fakes follow the documented semantics of the API (and the core's implementations of it)
 * closely enough that a device tested against them behaves the same on the platform: buses refuse
 * overlapping windows and read all ones where nothing decodes, memory drops writes to ROM and
 * outside its regions, timers run on the thread that advances the clock. They know only the API,
 * never the core. Not thread-safe beyond what a test driving one device from a few threads needs.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.testing;
