package org.polyvisor.mmu.shadow.internal;

import java.util.Map;
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

    /** VM option ({@code mmu.shadow.max-pages}): most shadow page tables kept (8 KiB each at most). */
    public static final String MAX_PAGES = "max-pages";
    /** VM option ({@code mmu.shadow.max-roots}): most shadowed address spaces kept. */
    public static final String MAX_ROOTS = "max-roots";

    @Override
    public Mmu create(MmuContext context) {
        Map<String, String> options = context.options();
        for (String k : options.keySet()) {
            if (!k.equals(MAX_PAGES) && !k.equals(MAX_ROOTS)) {
                throw new IllegalArgumentException("unknown option mmu.shadow." + k + " (known: " + MAX_PAGES + ", "
                        + MAX_ROOTS + ")");
            }
        }
        return new ShadowMmu(context.memory(), context.vcpuCount(),
                positive(options, MAX_PAGES, ShadowMmu.DEFAULT_MAX_TABLES),
                positive(options, MAX_ROOTS, ShadowMmu.DEFAULT_MAX_ROOTS));
    }

    private static int positive(Map<String, String> options, String key, int def) {
        String v = options.get(key);
        if (v == null) {
            return def;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("invalid mmu.shadow." + key + " '" + v + "': expected a whole number >= 1");
    }
}
