package org.polyvisor.mmu.shadow.internal;

import java.util.Map;
import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.MmuContext;
import org.polyvisor.mmu.MmuOptions;
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

    /** VM option ({@code mmu.shadow.max-pages}): most shadow page tables kept (8 KiB each at most). */
    public static final String MAX_PAGES = "max-pages";
    /** VM option ({@code mmu.shadow.max-roots}): most shadowed address spaces kept. */
    public static final String MAX_ROOTS = "max-roots";

    @Override
    public Mmu create(MmuContext context) {
        Map<String, String> options = context.options();
        MmuOptions.checkKnown(NAME, options, Set.of(MAX_PAGES, MAX_ROOTS));
        return new ShadowMmu(context.memory(), context.vcpuCount(),
                MmuOptions.intOption(NAME, options, MAX_PAGES, ShadowMmu.DEFAULT_MAX_TABLES, 1),
                MmuOptions.intOption(NAME, options, MAX_ROOTS, ShadowMmu.DEFAULT_MAX_ROOTS, 1));
    }
}
