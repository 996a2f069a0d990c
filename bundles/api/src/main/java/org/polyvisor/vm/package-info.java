/**
 * VM management: defining, starting, pausing, swapping parts of and observing virtual machines.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.vm;
