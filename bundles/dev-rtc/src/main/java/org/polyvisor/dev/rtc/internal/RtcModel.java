package org.polyvisor.dev.rtc.internal;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.part.Availability;
import org.polyvisor.time.ClockMode;

/**
 * The {@code rtc} device model: the PC's MC146818 real-time clock with its CMOS NVRAM at ports
 * 0x70/0x71 and IRQ 8.
 *
 * <p>Options: {@code base} — the guest's time when the VM clock reads 0: {@code now} (host wall
 * time at VM start, the default in a realtime VM), or an ISO-8601 UTC date-time such as
 * {@code 2024-01-01T00:00:00} (the default in a deterministic VM is {@code 2020-01-01T00:00:00},
 * so a run is reproducible); {@code cpus} — the value of CMOS byte 0x5f (vCPUs - 1, as QEMU sets
 * it for SeaBIOS), default 1.
 */
@Component(service = DeviceModel.class, property = "polyvisor.name=" + RtcModel.NAME)
public final class RtcModel implements DeviceModel {

    /** The model name users put in a VM's {@code devices} list. */
    static final String NAME = "rtc";

    /** The base of a deterministic VM without a {@code base} option. */
    static final long DETERMINISTIC_BASE = LocalDateTime.of(2020, 1, 1, 0, 0).toEpochSecond(ZoneOffset.UTC);

    /** Creates the model; DS calls this. */
    public RtcModel() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "MC146818 RTC + CMOS NVRAM (ports 0x70/0x71, IRQ 8), time from the VM clock, memory-size bytes";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Device create(DeviceContext context) {
        String who = NAME + " '" + context.instanceName() + "'";
        Map<String, String> o = context.options();
        for (String k : o.keySet()) {
            if (!k.equals("base") && !k.equals("cpus")) {
                throw new IllegalArgumentException(who + ": unknown option '" + k + "' (known: base, cpus)");
            }
        }
        String base = o.getOrDefault("base", context.clock().mode() == ClockMode.DETERMINISTIC ? "" : "now").trim();
        long baseSeconds;
        if (base.isEmpty()) {
            baseSeconds = DETERMINISTIC_BASE;
        } else if (base.equalsIgnoreCase("now")) {
            baseSeconds = Instant.now().getEpochSecond();
        } else {
            try {
                baseSeconds = LocalDateTime.parse(base).toEpochSecond(ZoneOffset.UTC);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException(who + ": option base='" + base
                        + "' is neither 'now' nor a date-time like 2024-01-01T00:00:00", e);
            }
        }
        int year = LocalDateTime.ofEpochSecond(baseSeconds, 0, ZoneOffset.UTC).getYear();
        if (year < 1900 || year > 2199) {
            throw new IllegalArgumentException(who + ": option base='" + base + "' must lie in 1900..2199");
        }
        int cpus;
        try {
            cpus = Integer.parseInt(o.getOrDefault("cpus", "1").trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(who + ": option cpus='" + o.get("cpus") + "' is not a number", e);
        }
        if (cpus < 1 || cpus > 256) {
            throw new IllegalArgumentException(who + ": option cpus=" + cpus + " must be 1..256");
        }
        return new Rtc(context, baseSeconds, cpus);
    }
}
