/**
 * CPU strategies and their engines, the architectural state value every engine exports and imports, and exits.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.3.0")
package org.polyvisor.cpu;
