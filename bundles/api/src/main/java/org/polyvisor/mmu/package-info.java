/**
 * MMU strategies: how guest-linear addresses become guest-physical ones for the software engines.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package org.polyvisor.mmu;
