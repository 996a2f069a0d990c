package org.polyvisor.core.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.part.Availability;
import org.polyvisor.part.Part;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.PartInfo;
import org.polyvisor.vm.VmException;

/**
 * The part providers registered now, by kind and name. When several services share a name, the
 * one registered first wins (lowest service id), so a VM keeps its provider until it goes away.
 */
final class PartRegistry {

    /** Told when providers come and go; called on the registering/unregistering thread. */
    interface Listener {
        /**
         * A provider became available.
         *
         * @param kind its kind
         * @param name its name
         */
        void partAdded(PartKind kind, String name);

        /**
         * A provider is going away; it is still usable during this call (so state can be taken).
         *
         * @param kind its kind
         * @param name its name
         * @param part the departing instance
         */
        void partRemoving(PartKind kind, String name, Part part);
    }

    /** One registered provider. */
    record Entry(PartKind kind, String name, Part part, String provider, long serviceId) {
    }

    /** A registered boot loader (not a part of a VM, so not a {@link PartKind}). */
    record LoaderEntry(String name, BootLoader loader, String provider, long serviceId) {
    }

    private final Map<PartKind, List<Entry>> entries = new EnumMap<>(PartKind.class);
    private final List<LoaderEntry> loaders = new ArrayList<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();

    PartRegistry() {
        for (PartKind k : PartKind.values()) {
            entries.put(k, new ArrayList<>());
        }
    }

    void addListener(Listener l) {
        listeners.add(l);
    }

    void removeListener(Listener l) {
        listeners.remove(l);
    }

    void add(PartKind kind, Part part, String provider, long serviceId) {
        String name = safeName(part);
        synchronized (this) {
            entries.get(kind).add(new Entry(kind, name, part, provider, serviceId));
            entries.get(kind).sort(Comparator.comparingLong(Entry::serviceId));
        }
        for (Listener l : listeners) {
            l.partAdded(kind, name);
        }
    }

    void remove(PartKind kind, Part part) {
        Entry gone = null;
        synchronized (this) {
            for (Entry e : entries.get(kind)) {
                if (e.part() == part) {
                    gone = e;
                    break;
                }
            }
        }
        if (gone == null) {
            return;
        }
        // Listeners take state while the service is still there; only then is it forgotten.
        for (Listener l : listeners) {
            l.partRemoving(kind, gone.name(), part);
        }
        synchronized (this) {
            entries.get(kind).remove(gone);
        }
    }

    synchronized void addLoader(BootLoader loader, String provider, long serviceId) {
        loaders.add(new LoaderEntry(safeName(loader), loader, provider, serviceId));
        loaders.sort(Comparator.comparingLong(LoaderEntry::serviceId));
    }

    synchronized void removeLoader(BootLoader loader) {
        loaders.removeIf(e -> e.loader() == loader);
    }

    /**
     * Returns the registered boot loaders, first registered first.
     *
     * @return a snapshot
     */
    synchronized List<LoaderEntry> loaders() {
        return List.copyOf(loaders);
    }

    private static String safeName(Part part) {
        try {
            return part.name();
        } catch (RuntimeException e) {
            return part.getClass().getName();
        }
    }

    /**
     * Finds the provider of a part.
     *
     * @param kind the kind
     * @param name the name
     * @return the provider, or empty
     */
    synchronized Optional<Part> find(PartKind kind, String name) {
        for (Entry e : entries.get(kind)) {
            if (e.name().equals(name)) {
                return Optional.of(e.part());
            }
        }
        return Optional.empty();
    }

    /**
     * Finds a provider that can run here, or explains why there is none.
     *
     * @param kind   the kind
     * @param name   the name
     * @param vmName for the message
     * @return the part
     * @throws VmException naming the unknown or unavailable part and what exists
     */
    <T extends Part> T require(PartKind kind, String name, String vmName, Class<T> type) {
        Part p = find(kind, name).orElseThrow(() -> new VmException(String.format(
                "vm '%s': unknown %s '%s' (registered: %s)", vmName, label(kind), name, names(kind))));
        Availability a;
        try {
            a = p.availability();
        } catch (RuntimeException e) {
            throw new VmException(String.format("vm '%s': %s '%s' failed to report its availability: %s",
                    vmName, label(kind), name, e), e);
        }
        if (!a.available()) {
            throw new VmException(String.format("vm '%s': %s '%s' is not available on this host: %s",
                    vmName, label(kind), name, a.reason()));
        }
        return type.cast(p);
    }

    static String label(PartKind kind) {
        return switch (kind) {
            case CPU -> "cpu strategy";
            case MMU -> "mmu strategy";
            case IRQCHIP -> "interrupt controller";
            case DEVICE -> "device model";
        };
    }

    synchronized String names(PartKind kind) {
        TreeSet<String> names = new TreeSet<>();
        entries.get(kind).forEach(e -> names.add(e.name()));
        return names.isEmpty() ? "none" : String.join(", ", names);
    }

    synchronized List<PartInfo> infos() {
        List<PartInfo> out = new ArrayList<>();
        for (PartKind k : PartKind.values()) {
            List<Entry> list = new ArrayList<>(entries.get(k));
            list.sort(Comparator.comparing(Entry::name).thenComparingLong(Entry::serviceId));
            for (Entry e : list) {
                Availability a;
                String description;
                Map<String, String> features;
                try {
                    a = e.part().availability();
                    description = e.part().description();
                    features = e.part().hostFeatures();
                } catch (RuntimeException ex) {
                    a = Availability.no("provider failed: " + ex);
                    description = "";
                    features = Map.of();
                }
                out.add(new PartInfo(k, e.name(), description, a, e.provider(), features));
            }
        }
        return out;
    }
}
