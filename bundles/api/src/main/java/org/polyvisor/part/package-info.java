/**
 * What every pluggable part shares: its name, its availability on this host with a reason, and its saved state as a neutral, versioned value.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package org.polyvisor.part;
