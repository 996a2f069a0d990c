/**
 * Shared x86 knowledge used by every software engine: the guest exception type and the exception
 * table (so double-fault logic is data), EFLAGS bits and lazy flag evaluation, control-register
 * bits, and segment descriptor parsing with the protected-mode segment-load rules.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.x86;
