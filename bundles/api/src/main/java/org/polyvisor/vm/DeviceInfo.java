package org.polyvisor.vm;

import java.util.List;

/**
 * A device of a running (or paused) VM, as {@code vm:info} lists it.
 *
 * @param instance  instance name
 * @param model     model name
 * @param resources ports, MMIO windows and interrupt lines it occupies
 */
public record DeviceInfo(String instance, String model, List<String> resources) {
}
