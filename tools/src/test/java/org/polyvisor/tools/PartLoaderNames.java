package org.polyvisor.tools;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;
import java.util.TreeSet;
import org.polyvisor.boot.BootLoader;

/** The names of the boot loaders on a test's class path. */
final class PartLoaderNames {

    private PartLoaderNames() {
    }

    static Set<String> of(Class<?> test) {
        try {
            Set<String> names = new TreeSet<>();
            for (BootLoader l : PartLoader.bootLoaders(test.getClassLoader())) {
                names.add(l.name());
            }
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
