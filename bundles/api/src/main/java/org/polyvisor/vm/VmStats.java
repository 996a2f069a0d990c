package org.polyvisor.vm;

import java.time.Duration;
import java.util.Map;

/**
 * A VM's statistics at one moment.
 *
 * @param instructionsRetired instructions retired by all vCPUs since the VM was started
 * @param exitsByReason       exits to the VMM by reason (port-io, mmio, hlt, budget, ...)
 * @param timeByState         wall time spent per vCPU activity (running, halted, paused)
 * @param parts               counters of each part, by part ("cpu", "irqchip", "device com1", ...)
 */
public record VmStats(long instructionsRetired, Map<String, Long> exitsByReason,
                      Map<String, Duration> timeByState, Map<String, Map<String, Long>> parts) {
}
