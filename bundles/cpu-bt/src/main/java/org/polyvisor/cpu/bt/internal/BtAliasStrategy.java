package org.polyvisor.cpu.bt.internal;

import org.osgi.service.component.annotations.Component;
import org.polyvisor.cpu.CpuStrategy;

/** {@code bt}: the short name of {@link BinaryTranslationStrategy}. */
@Component(service = CpuStrategy.class, property = "polyvisor.name=bt")
public final class BtAliasStrategy extends BinaryTranslationStrategy {

    @Override
    public String name() {
        return "bt";
    }

    @Override
    public String description() {
        return "alias of binary-translation";
    }
}
