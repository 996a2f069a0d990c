/**
 * Boot loaders: recognise a kernel image format (the Linux/x86 boot protocol, Multiboot) and place
 * the kernel, its initial RAM disk or modules and its command line in guest memory at VM assembly,
 * returning the vCPU state the guest starts in.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.boot;
