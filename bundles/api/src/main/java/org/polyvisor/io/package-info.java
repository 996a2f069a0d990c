/**
 * Port I/O and MMIO buses that map address windows to devices; a device sees offsets into its own window.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package org.polyvisor.io;
