package org.polyvisor.mmu.slat.internal;

import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.MmuContext;
import org.polyvisor.mmu.MmuOptions;
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

    /** VM option ({@code mmu.slat.max-pages}): most nested table pages (4 KiB each) kept. */
    public static final String MAX_PAGES = "max-pages";

    @Override
    public Mmu create(MmuContext context) {
        MmuOptions.checkKnown(NAME, context.options(), Set.of(MAX_PAGES));
        return new SlatMmu(context.memory(), context.vcpuCount(),
                MmuOptions.intOption(NAME, context.options(), MAX_PAGES, NestedTable.BOUND, 1));
    }
}
