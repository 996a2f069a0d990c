package org.polyvisor.tools;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Manifest;
import javax.xml.parsers.DocumentBuilderFactory;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.irq.IrqChipStrategy;
import org.polyvisor.mmu.MmuStrategy;
import org.polyvisor.part.Part;
import org.polyvisor.part.PartKind;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Finds the part providers of the bundles on the class path the way Declarative Services would:
 * from each bundle's {@code Service-Component} descriptors, instantiating the components that
 * provide a part service and need nothing injected. This lets tools run the real parts without an
 * OSGi framework and without naming any bundle's internal classes.
 */
public final class PartLoader {

    /** A part found on the class path. */
    public record Found(PartKind kind, Part part) {
    }

    private PartLoader() {
    }

    /**
     * Loads every part component on the class path.
     *
     * @param loader the class loader to search
     * @return the parts, in class-path order
     * @throws IOException if a descriptor cannot be read
     */
    public static List<Found> load(ClassLoader loader) throws IOException {
        List<Found> out = new ArrayList<>();
        for (Object o : components(loader, iface -> kindOf(iface) != null)) {
            out.add((Found) o);
        }
        return out;
    }

    /**
     * Loads every boot loader component on the class path.
     *
     * @param loader the class loader to search
     * @return the boot loaders, in class-path order
     * @throws IOException if a descriptor cannot be read
     */
    public static List<BootLoader> bootLoaders(ClassLoader loader) throws IOException {
        List<BootLoader> out = new ArrayList<>();
        for (Object o : components(loader, iface -> iface.equals(BootLoader.class.getName()))) {
            out.add((BootLoader) o);
        }
        return out;
    }

    /**
     * A VM manager with every part and boot loader found on a class path registered.
     *
     * @param loader the class loader to search
     * @return the manager (deactivate it when done)
     * @throws IOException if a descriptor cannot be read
     */
    public static org.polyvisor.core.internal.VmManagerImpl manager(ClassLoader loader) throws IOException {
        org.polyvisor.core.internal.VmManagerImpl manager = new org.polyvisor.core.internal.VmManagerImpl();
        for (Found f : load(loader)) {
            manager.addPart(f.kind(), f.part());
        }
        for (BootLoader l : bootLoaders(loader)) {
            manager.registerBootLoader(l);
        }
        return manager;
    }

    /** Instantiates the components providing an interface the filter accepts: parts as {@link Found}. */
    private static List<Object> components(ClassLoader loader, java.util.function.Predicate<String> provides)
            throws IOException {
        List<Object> out = new ArrayList<>();
        Enumeration<URL> manifests = loader.getResources("META-INF/MANIFEST.MF");
        while (manifests.hasMoreElements()) {
            URL url = manifests.nextElement();
            Manifest mf;
            try (InputStream in = url.openStream()) {
                mf = new Manifest(in);
            }
            String components = mf.getMainAttributes().getValue("Service-Component");
            if (components == null) {
                continue;
            }
            String base = url.toString().substring(0, url.toString().length() - "META-INF/MANIFEST.MF".length());
            for (String path : components.split(",")) {
                URL xml = new URL(base + path.trim());
                try (InputStream in = xml.openStream()) {
                    Object f = component(loader, in, provides);
                    if (f != null) {
                        out.add(f);
                    }
                } catch (ReflectiveOperationException | javax.xml.parsers.ParserConfigurationException
                         | org.xml.sax.SAXException e) {
                    throw new IOException("cannot load component " + xml + ": " + e, e);
                }
            }
        }
        return out;
    }

    private static Object component(ClassLoader loader, InputStream in, java.util.function.Predicate<String> wanted)
            throws ReflectiveOperationException,
            javax.xml.parsers.ParserConfigurationException, org.xml.sax.SAXException, IOException {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document doc = f.newDocumentBuilder().parse(in);
        Element root = doc.getDocumentElement();
        if ("require".equals(root.getAttribute("configuration-policy"))) {
            return null;
        }
        NodeList refs = doc.getElementsByTagNameNS("*", "reference");
        for (int i = 0; i < refs.getLength(); i++) {
            String card = ((Element) refs.item(i)).getAttribute("cardinality");
            if (card.isEmpty() || card.startsWith("1")) {
                return null; // needs a service injected: not a self-contained part
            }
        }
        NodeList impl = doc.getElementsByTagNameNS("*", "implementation");
        NodeList provides = doc.getElementsByTagNameNS("*", "provide");
        if (impl.getLength() == 0) {
            return null;
        }
        for (int i = 0; i < provides.getLength(); i++) {
            String iface = ((Element) provides.item(i)).getAttribute("interface");
            if (wanted.test(iface)) {
                Class<?> c = loader.loadClass(((Element) impl.item(0)).getAttribute("class"));
                var ctor = c.getDeclaredConstructor();
                ctor.setAccessible(true);
                Object instance = ctor.newInstance();
                PartKind kind = kindOf(iface);
                return kind == null ? instance : new Found(kind, (Part) instance);
            }
        }
        return null;
    }

    private static PartKind kindOf(String iface) {
        if (iface.equals(CpuStrategy.class.getName())) {
            return PartKind.CPU;
        } else if (iface.equals(MmuStrategy.class.getName())) {
            return PartKind.MMU;
        } else if (iface.equals(IrqChipStrategy.class.getName())) {
            return PartKind.IRQCHIP;
        } else if (iface.equals(DeviceModel.class.getName())) {
            return PartKind.DEVICE;
        }
        return null;
    }
}
