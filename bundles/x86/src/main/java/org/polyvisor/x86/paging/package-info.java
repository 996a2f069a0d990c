/**
 * The guest page-table walker (32-bit two-level paging with 4 MiB pages, and PAE), shared by the
 * software engines and the MMU strategies.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package org.polyvisor.x86.paging;
