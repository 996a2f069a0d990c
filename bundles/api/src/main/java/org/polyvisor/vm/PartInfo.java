package org.polyvisor.vm;

import java.util.Map;
import org.polyvisor.part.Availability;
import org.polyvisor.part.PartKind;

/**
 * A registered part provider, as {@code vm:strategies} lists it.
 *
 * @param kind         cpu, mmu, irqchip or device
 * @param name         the name VMs select it by
 * @param description  one line
 * @param availability whether it runs here, and why not
 * @param provider     the providing bundle, {@code symbolic-name/version}
 * @param hostFeatures host facts the part probed
 */
public record PartInfo(PartKind kind, String name, String description, Availability availability,
                       String provider, Map<String, String> hostFeatures) {
}
