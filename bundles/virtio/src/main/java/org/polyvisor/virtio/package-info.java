/**
 * Virtio 1.x (OASIS virtio v1.1) for device bundles: the modern virtio-over-PCI transport
 * ({@link org.polyvisor.virtio.VirtioPciDevice}), split virtqueues whose descriptor-chain walker is
 * bounded and checks every address against guest RAM ({@link org.polyvisor.virtio.Virtqueue}), and
 * sequential scatter-gather access to a chain's buffers. Guest-caused protocol violations are
 * {@link org.polyvisor.virtio.VirtioException}s that put the device into the DEVICE_NEEDS_RESET
 * state (virtio 1.1, 2.1.1), never host errors.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package org.polyvisor.virtio;
