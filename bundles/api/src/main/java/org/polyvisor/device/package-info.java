/**
 * Device models as plug-ins: one device instance per VM, wired to buses, interrupt lines, DMA and the console.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.3.0")
package org.polyvisor.device;
