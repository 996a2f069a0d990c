package org.polyvisor.core.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.irq.IrqChipStrategy;
import org.polyvisor.mmu.MmuStrategy;
import org.polyvisor.part.Part;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.PartInfo;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VM manager: tracks every part provider, keeps one {@link VmImpl} per VM definition, and
 * stores definitions in Config Admin so they survive restarts.
 */
@Component(service = {VmManager.class, VmRegistry.class}, immediate = true)
public final class VmManagerImpl implements VmManager, VmRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(VmManagerImpl.class);
    private static final long APPEAR_TIMEOUT_MS = 10_000;

    private final PartRegistry parts = new PartRegistry();
    private final ConcurrentSkipListMap<String, VmImpl> vms = new ConcurrentSkipListMap<>();
    private final ConcurrentHashMap<String, String> nameByPid = new ConcurrentHashMap<>();
    private final ExecutorService control = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "polyvisor-control");
        t.setDaemon(true);
        return t;
    });
    private final ConfigurationAdmin configAdmin;

    /**
     * Creates the manager.
     *
     * @param configAdmin where VM definitions are stored
     */
    @Activate
    public VmManagerImpl(@Reference ConfigurationAdmin configAdmin) {
        this.configAdmin = configAdmin;
    }

    /** Constructor for use outside OSGi (tests, tools): definitions are kept in memory only. */
    public VmManagerImpl() {
        this(null);
    }

    /** Stops every VM (definitions stay stored); the platform is going away. */
    @Deactivate
    public void deactivate() {
        for (VmImpl vm : vms.values()) {
            try {
                vm.shutdown("platform stopping");
            } catch (RuntimeException e) {
                LOG.warn("vm '{}' did not stop cleanly: {}", vm.name(), e.getMessage());
            }
            parts.removeListener(vm);
        }
        control.shutdown();
        try {
            control.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    ExecutorService control() {
        return control;
    }

    PartRegistry registry() {
        return parts;
    }

    // ---- part providers ------------------------------------------------------------------------

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addCpuStrategy(CpuStrategy s, ServiceReference<CpuStrategy> ref) {
        parts.add(PartKind.CPU, s, provider(ref), serviceId(ref));
    }

    void removeCpuStrategy(CpuStrategy s) {
        parts.remove(PartKind.CPU, s);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addMmuStrategy(MmuStrategy s, ServiceReference<MmuStrategy> ref) {
        parts.add(PartKind.MMU, s, provider(ref), serviceId(ref));
    }

    void removeMmuStrategy(MmuStrategy s) {
        parts.remove(PartKind.MMU, s);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addIrqChipStrategy(IrqChipStrategy s, ServiceReference<IrqChipStrategy> ref) {
        parts.add(PartKind.IRQCHIP, s, provider(ref), serviceId(ref));
    }

    void removeIrqChipStrategy(IrqChipStrategy s) {
        parts.remove(PartKind.IRQCHIP, s);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addDeviceModel(DeviceModel s, ServiceReference<DeviceModel> ref) {
        parts.add(PartKind.DEVICE, s, provider(ref), serviceId(ref));
    }

    void removeDeviceModel(DeviceModel s) {
        parts.remove(PartKind.DEVICE, s);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addBootLoader(BootLoader l, ServiceReference<BootLoader> ref) {
        parts.addLoader(l, provider(ref), serviceId(ref));
    }

    void removeBootLoader(BootLoader l) {
        parts.removeLoader(l);
    }

    /**
     * Registers a boot loader directly (outside OSGi: tests and tools).
     *
     * @param loader the loader
     */
    public void registerBootLoader(BootLoader loader) {
        parts.addLoader(loader, "(direct)", Long.MAX_VALUE);
    }

    /**
     * Registers a part directly (outside OSGi: tests and tools).
     *
     * @param kind the kind
     * @param part the provider
     */
    public void addPart(PartKind kind, Part part) {
        parts.add(kind, part, "(direct)", Long.MAX_VALUE);
    }

    /**
     * Unregisters a part added with {@link #addPart}.
     *
     * @param kind the kind
     * @param part the provider
     */
    public void removePart(PartKind kind, Part part) {
        parts.remove(kind, part);
    }

    private static String provider(ServiceReference<?> ref) {
        Bundle b = ref.getBundle();
        return b == null ? "(gone)" : b.getSymbolicName() + "/" + b.getVersion();
    }

    private static long serviceId(ServiceReference<?> ref) {
        Object id = ref.getProperty(Constants.SERVICE_ID);
        return id instanceof Long l ? l : Long.MAX_VALUE;
    }

    // ---- VmManager -----------------------------------------------------------------------------

    @Override
    public List<Vm> list() {
        return new ArrayList<>(vms.values());
    }

    @Override
    public Optional<Vm> get(String name) {
        return Optional.ofNullable(vms.get(name));
    }

    @Override
    public Vm define(VmConfig config) {
        config.validate();
        if (vms.containsKey(config.name())) {
            throw new VmException("vm '" + config.name() + "' already exists");
        }
        Machine.check(config, parts);
        if (configAdmin == null) {
            configured("memory~" + config.name(), toMap(ConfigMapping.toProperties(config)));
            return vms.get(config.name());
        }
        try {
            Configuration c = configAdmin.getFactoryConfiguration(ConfigMapping.FACTORY_PID, config.name(), "?");
            if (c.getProperties() != null) {
                throw new VmException("vm '" + config.name() + "' already has a stored definition");
            }
            c.update(ConfigMapping.toProperties(config));
        } catch (IOException e) {
            throw new VmException("vm '" + config.name() + "': cannot store the definition: " + e.getMessage(), e);
        }
        long deadline = System.currentTimeMillis() + APPEAR_TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            VmImpl vm = vms.get(config.name());
            if (vm != null) {
                return vm;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new VmException("vm '" + config.name() + "' was stored but was not picked up within "
                + APPEAR_TIMEOUT_MS + " ms; see the log");
    }

    private static Map<String, Object> toMap(Dictionary<String, Object> d) {
        Map<String, Object> m = new java.util.HashMap<>();
        for (java.util.Enumeration<String> e = d.keys(); e.hasMoreElements(); ) {
            String k = e.nextElement();
            m.put(k, d.get(k));
        }
        return m;
    }

    @Override
    public void destroy(String name) {
        VmImpl vm = vms.get(name);
        if (vm == null) {
            throw new VmException("no vm named '" + name + "'");
        }
        vm.shutdown("destroyed");
        forget(name);
        if (configAdmin != null) {
            try {
                for (Configuration c : storedDefinitions()) {
                    String pid = c.getPid();
                    Dictionary<String, Object> p = c.getProperties();
                    if (p != null && name.equals(ConfigMapping.fromProperties(toMap(p), pid).name())) {
                        c.delete();
                    }
                }
            } catch (IOException | InvalidSyntaxException e) {
                throw new VmException("vm '" + name + "' stopped, but its stored definition could not be deleted: "
                        + e.getMessage(), e);
            }
        }
    }

    private Configuration[] storedDefinitions() throws IOException, InvalidSyntaxException {
        Configuration[] cs = configAdmin.listConfigurations(
                "(" + ConfigurationAdmin.SERVICE_FACTORYPID + "=" + ConfigMapping.FACTORY_PID + ")");
        return cs == null ? new Configuration[0] : cs;
    }

    @Override
    public List<PartInfo> parts() {
        return parts.infos();
    }

    /**
     * Stores a changed definition (after a swap) so it survives a restart. Asynchronous: the
     * caller holds the VM's lock, and the store notifies the VM again.
     *
     * @param config the new definition
     */
    void persist(VmConfig config) {
        if (configAdmin == null) {
            return;
        }
        control.execute(() -> {
            try {
                for (Configuration c : storedDefinitions()) {
                    Dictionary<String, Object> p = c.getProperties();
                    if (p != null && config.name().equals(ConfigMapping.fromProperties(toMap(p), c.getPid()).name())) {
                        Dictionary<String, Object> next = ConfigMapping.toProperties(config);
                        // keep properties we do not own (e.g. the file a definition came from)
                        for (java.util.Enumeration<String> e = p.keys(); e.hasMoreElements(); ) {
                            String k = e.nextElement();
                            if (next.get(k) == null) {
                                next.put(k, p.get(k));
                            }
                        }
                        c.update(next);
                    }
                }
            } catch (IOException | InvalidSyntaxException | RuntimeException e) {
                LOG.warn("vm '{}': could not store the changed definition: {}", config.name(), e.getMessage());
            }
        });
    }

    private void forget(String name) {
        VmImpl vm = vms.remove(name);
        if (vm != null) {
            parts.removeListener(vm);
        }
        nameByPid.values().removeIf(name::equals);
    }

    // ---- VmRegistry (configuration-driven) ------------------------------------------------------

    @Override
    public void configured(String pid, Map<String, ?> props) {
        VmConfig config;
        try {
            config = ConfigMapping.fromProperties(props, pid);
            config.validate();
        } catch (VmException e) {
            LOG.error("VM definition {} refused: {}", pid, e.getMessage());
            throw e;
        }
        String previous = nameByPid.get(pid);
        if (previous != null && !previous.equals(config.name())) {
            LOG.error("VM definition {}: renaming vm '{}' to '{}' is not supported", pid, previous, config.name());
            throw new VmException("vm '" + previous + "' cannot be renamed to '" + config.name() + "'");
        }
        VmImpl existing = vms.get(config.name());
        if (existing != null) {
            if (previous == null) {
                String owner = nameByPid.entrySet().stream().filter(e -> e.getValue().equals(config.name()))
                        .map(Map.Entry::getKey).findFirst().orElse("?");
                LOG.error("VM definition {} refused: vm '{}' is already defined by {}", pid, config.name(), owner);
                throw new VmException("vm '" + config.name() + "' is already defined");
            }
            try {
                existing.reconfigure(config);
            } catch (VmException e) {
                LOG.error("vm '{}': configuration change not applied: {}", config.name(), e.getMessage());
            }
            return;
        }
        VmImpl vm = new VmImpl(this, parts, config);
        nameByPid.put(pid, config.name());
        vms.put(config.name(), vm);
        parts.addListener(vm);
        LOG.info("vm '{}' defined ({})", config.name(), pid);
        if (config.autostart()) {
            control.execute(vm::autostart);
        }
    }

    @Override
    public void unconfigured(String pid, boolean deleted) {
        String name = nameByPid.get(pid);
        if (name == null) {
            return;
        }
        VmImpl vm = vms.get(name);
        if (vm != null) {
            vm.shutdown(deleted ? "definition deleted" : "platform stopping");
        }
        forget(name);
    }
}
