package org.polyvisor.dev.fwcfg.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;

/**
 * The {@code fwcfg} device model: QEMU's firmware configuration interface on ports 0x510
 * (selector), 0x511 (data) and 0x514 (DMA), so firmware such as SeaBIOS finds the RAM size, the
 * e820 map and files.
 *
 * <p>Options: {@code cpus} (FW_CFG_NB_CPUS, default the VM's vCPU count); {@code file}, {@code file2}, ...
 * {@code name:path} — a host file offered to the guest under {@code name} (e.g.
 * {@code file=opt/org.polyvisor/payload:/tmp/p.bin}), read once at creation, at most 64 MiB.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + FwCfgModel.NAME)
public final class FwCfgModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "fwcfg";

    /** Largest host file offered (a boot payload, not a disk). */
    static final long MAX_FILE = 64L << 20;

    /** Creates the model; DS calls this. */
    public FwCfgModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "QEMU fw_cfg (0x510/0x511, DMA 0x514): signature, RAM size, CPUs, etc/e820 and files";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        String who = NAME + " '" + context.instanceName() + "'";
        int cpus = context.vcpuCount();
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : context.options().entrySet()) {
            String k = e.getKey();
            String v = e.getValue().trim();
            if (k.equals("cpus")) {
                try {
                    cpus = Integer.parseInt(v);
                } catch (NumberFormatException ex) {
                    throw new IllegalArgumentException(who + ": option cpus='" + v + "' is not a number", ex);
                }
                if (cpus < 1 || cpus > 255) {
                    throw new IllegalArgumentException(who + ": option cpus=" + cpus + " must be 1..255");
                }
            } else if (k.matches("file[0-9]*")) {
                int colon = v.indexOf(':');
                if (colon <= 0 || colon == v.length() - 1) {
                    throw new IllegalArgumentException(who + ": option " + k + "='" + v + "' must be name:path");
                }
                String name = v.substring(0, colon);
                if (name.length() > FwCfg.FILE_NAME_MAX - 1) {
                    throw new IllegalArgumentException(who + ": file name '" + name + "' is longer than 55 bytes");
                }
                Path p = Path.of(v.substring(colon + 1));
                try {
                    if (!Files.isRegularFile(p) || Files.size(p) > MAX_FILE) {
                        throw new IllegalArgumentException(who + ": option " + k + ": '" + p
                                + "' is not a readable file of at most 64 MiB");
                    }
                    files.put(name, Files.readAllBytes(p));
                } catch (IOException ex) {
                    throw new IllegalArgumentException(who + ": cannot read '" + p + "': " + ex.getMessage(), ex);
                }
            } else {
                throw new IllegalArgumentException(who + ": unknown option '" + k + "' (known: cpus, file, file2, ...)");
            }
        }
        return new FwCfg(context, cpus, files);
    }
}
