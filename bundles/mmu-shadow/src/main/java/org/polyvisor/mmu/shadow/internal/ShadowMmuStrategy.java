package org.polyvisor.mmu.shadow.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.MmuContext;
import org.polyvisor.mmu.MmuStrategy;
import org.polyvisor.part.Availability;

/** The {@code shadow} MMU strategy: one {@link ShadowMmu} per VM; runs anywhere. */
@Component(service = MmuStrategy.class, property = "polyvisor.name=" + ShadowMmuStrategy.NAME)
public final class ShadowMmuStrategy implements MmuStrategy {

    /** The strategy's name in VM configurations. */
    public static final String NAME = "shadow";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "shadow page tables per guest address space, kept coherent by tracing writes to the guest's"
                + " page tables and descriptor tables";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Mmu create(MmuContext context) {
        return new ShadowMmu(context.memory(), context.vcpuCount(), ShadowMmu.DEFAULT_MAX_TABLES,
                ShadowMmu.DEFAULT_MAX_ROOTS);
    }
}
