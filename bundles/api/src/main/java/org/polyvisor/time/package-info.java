/**
 * The VM clock: virtual time that runs with the host or from retired instructions, and its timer queue.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package org.polyvisor.time;
