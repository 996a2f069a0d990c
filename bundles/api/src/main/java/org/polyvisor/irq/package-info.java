/**
 * Interrupt controllers as strategies: lines devices raise, and per-vCPU interrupt sources engines acknowledge.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.irq;
