/**
 * Guest physical memory: off-heap, page-aligned RAM and ROM regions with sized accessors and write watches.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.3.0")
package org.polyvisor.memory;
