package org.polyvisor.mmu.slat.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.MmuContext;
import org.polyvisor.mmu.MmuStrategy;
import org.polyvisor.part.Availability;

/** The {@code slat} MMU strategy: one {@link SlatMmu} per VM; runs anywhere (the nested table is software). */
@Component(service = MmuStrategy.class, property = "polyvisor.name=" + SlatMmuStrategy.NAME)
public final class SlatMmuStrategy implements MmuStrategy {

    /** The strategy's name in VM configurations. */
    public static final String NAME = "slat";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "second-level address translation: a nested page table in the EPT format, two-dimensional"
                + " walks on TLB misses, dirty-page logging";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Mmu create(MmuContext context) {
        return new SlatMmu(context.memory(), context.vcpuCount());
    }
}
