package org.polyvisor.cpu.interpreter;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Enumeration;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.mmu.Mmu;
import org.polyvisor.mmu.MmuContext;
import org.polyvisor.mmu.MmuStrategy;

/**
 * The MMU strategies on the test class path (the {@code mmu-shadow} and {@code mmu-slat} bundles),
 * found through their Declarative Services descriptors as the framework would find them, so tests
 * run the interpreter under a real strategy without naming another bundle's internal classes.
 */
public final class MmuParts {

    private static final Pattern IMPLEMENTATION = Pattern.compile("<implementation class=\"([^\"]+)\"");

    private MmuParts() {
    }

    /**
     * Creates one VM's MMU.
     *
     * @param name   the strategy name ({@code shadow}, {@code slat}), or empty for none
     * @param memory the guest memory
     * @param vcpus  the vCPU count
     * @return the MMU, or null for the empty name (the engine's own walk)
     */
    public static Mmu create(String name, GuestMemory memory, int vcpus) {
        if (name.isEmpty()) {
            return null;
        }
        MmuStrategy s = strategy(name);
        return s.create(new MmuContext() {
            @Override
            public String vmName() {
                return "test";
            }

            @Override
            public int vcpuCount() {
                return vcpus;
            }

            @Override
            public GuestMemory memory() {
                return memory;
            }
        });
    }

    /**
     * @param name the strategy name
     * @return the strategy
     * @throws IllegalStateException if no bundle on the class path provides it
     */
    public static MmuStrategy strategy(String name) {
        ClassLoader loader = MmuParts.class.getClassLoader();
        try {
            Enumeration<URL> manifests = loader.getResources("META-INF/MANIFEST.MF");
            while (manifests.hasMoreElements()) {
                URL url = manifests.nextElement();
                String components;
                try (InputStream in = url.openStream()) {
                    components = new Manifest(in).getMainAttributes().getValue("Service-Component");
                }
                if (components == null) {
                    continue;
                }
                String base = url.toString().substring(0, url.toString().length() - "META-INF/MANIFEST.MF".length());
                for (String path : components.split(",")) {
                    String xml;
                    try (InputStream in = new URL(base + path.trim()).openStream()) {
                        xml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                    }
                    Matcher m = IMPLEMENTATION.matcher(xml);
                    if (xml.contains("interface=\"" + MmuStrategy.class.getName() + "\"") && m.find()) {
                        MmuStrategy s = (MmuStrategy) loader.loadClass(m.group(1)).getDeclaredConstructor()
                                .newInstance();
                        if (s.name().equals(name)) {
                            return s;
                        }
                    }
                }
            }
        } catch (IOException | ReflectiveOperationException e) {
            throw new IllegalStateException("cannot look for mmu strategy " + name + ": " + e, e);
        }
        throw new IllegalStateException("no mmu strategy " + name + " on the test class path");
    }
}
