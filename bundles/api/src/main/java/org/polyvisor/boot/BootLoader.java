package org.polyvisor.boot;

import org.osgi.annotation.versioning.ConsumerType;
import org.polyvisor.part.Part;

/**
 * Loads one kind of kernel image directly into guest memory, as a boot loader (GRUB, QEMU's
 * {@code -kernel}) would, so that a VM configured with a {@code kernel} starts in that kernel
 * without firmware.
 *
 * <p>Registered as an OSGi service with the service property {@value Part#NAME_PROPERTY} equal to
 * {@link #name()} (e.g. {@code linux}, {@code multiboot}). At assembly the core reads the kernel,
 * asks every available loader to {@link #probe} it, and lets the one with the highest score
 * {@link #load} it; ties go to the loader registered first. A loader is stateless: one instance
 * serves every VM, and {@link #load} is also called again when the guest resets.
 */
@ConsumerType
public interface BootLoader extends Part {

    /** {@link #probe} result of a loader that does not recognise the image. */
    int NOT_RECOGNISED = -1;

    /**
     * Tells whether this loader recognises a kernel image, and how specifically. Must be cheap
     * (headers only) and must not throw for any input: a truncated or foreign image is simply not
     * recognised.
     *
     * @param kernel the kernel image
     * @return {@link #NOT_RECOGNISED}, or a score: the higher, the better the match (the Linux
     *         loader that runs the real-mode setup code answers 100 for a bzImage, its 32-bit entry
     *         variant 50, the Multiboot loader 40 for an image with a Multiboot header)
     */
    int probe(BootImage kernel);

    /**
     * Places the kernel, its initial RAM disk or modules and its command line in guest memory and
     * returns the state the boot vCPU starts in. Called on the VM's control thread, after the
     * memory is laid out and before any vCPU runs (or, on a guest reset, with every vCPU stopped).
     *
     * @param request the images, the memory and the vCPU's power-on state
     * @return the boot vCPU's starting state and what else the platform should know
     * @throws BootException naming the image and the problem (bad header, unknown protocol version,
     *                       not enough RAM, an image that does not fit), before anything runs
     */
    BootPlan load(BootRequest request);
}
