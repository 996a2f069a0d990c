package org.polyvisor.shell.command;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A named starting point for {@code vm:create --preset NAME}: the parts, memory, command line and
 * the images of a guest that {@code guests/fetch} brings into its cache folder. Options given on
 * the command line take precedence over the preset's values.
 *
 * @param name        what {@code --preset} takes
 * @param description one line for the help text
 * @param cpu         CPU strategy
 * @param irqchip     interrupt controller
 * @param devices     device list, as {@code --devices} takes it
 * @param memory      RAM size, as {@code --memory} takes it
 * @param kernel      kernel image, a file name in the guest cache
 * @param initrd      initial RAM disk, a file name in the guest cache
 * @param cmdline     kernel command line
 */
record Preset(String name, String description, String cpu, String irqchip, String devices, String memory,
        String kernel, String initrd, String cmdline) {

    /** System property naming the guest cache folder, for installations outside the source tree. */
    static final String CACHE_PROPERTY = "polyvisor.guests.cache";

    /**
     * Debian's i386 "686" kernel with the busybox initramfs of {@code guests/fetch}: a shell on
     * COM1. The PC devices Linux probes at boot: the 8259 pair, the PIT (its clock event source
     * until the TSC is calibrated), the RTC, the i8042 (keyboard controller; also the reset line
     * {@code reboot} uses) and the 16550 UART for the console.
     */
    static final Preset LINUX_I386 = new Preset("linux-i386",
            "Debian's i386 kernel with a busybox initramfs (guests/fetch), shell on COM1",
            "interpreter", "pic", "uart16550, pit8254, rtc, i8042", "128M",
            "vmlinuz-686", "initramfs-686.cpio.gz", "console=ttyS0 earlyprintk=serial nokaslr");

    /** Every preset, by name. */
    static final List<Preset> ALL = List.of(LINUX_I386);

    /**
     * Finds a preset.
     *
     * @param name its name
     * @return the preset
     * @throws CommandFailure naming the presets there are
     */
    static Preset named(String name) {
        for (Preset p : ALL) {
            if (p.name.equals(name.trim())) {
                return p;
            }
        }
        throw new CommandFailure("unknown preset '" + name + "': the presets are "
                + ALL.stream().map(Preset::name).collect(Collectors.joining(", ")));
    }

    /**
     * The folders where fetched guest images may be, in the order they are tried: the folder the
     * system property {@value #CACHE_PROPERTY} names, {@code guests/cache} in the installation,
     * and {@code guests/cache} of the source tree that {@code ./polyvisor} installs into
     * {@code run/polyvisor}.
     *
     * @param karafHome   the installation, or null
     * @param cacheOption the value of {@value #CACHE_PROPERTY}, or null
     * @return the candidate folders, absolute
     */
    static List<Path> cacheFolders(String karafHome, String cacheOption) {
        Set<Path> folders = new LinkedHashSet<>();
        if (cacheOption != null && !cacheOption.isBlank()) {
            folders.add(Paths.get(cacheOption).toAbsolutePath().normalize());
        }
        if (karafHome != null && !karafHome.isBlank()) {
            Path home = Paths.get(karafHome).toAbsolutePath();
            folders.add(home.resolve("guests/cache").normalize());
            folders.add(home.resolve("../../guests/cache").normalize());
        }
        return new ArrayList<>(folders);
    }

    /**
     * Finds one of the preset's images in the cache folders.
     *
     * @param file    the image's file name
     * @param folders where to look
     * @return the absolute path of the first regular, non-empty file found
     * @throws CommandFailure saying where it looked and to run {@code guests/fetch}
     */
    Path image(String file, List<Path> folders) {
        for (Path f : folders) {
            Path p = f.resolve(file);
            try {
                if (Files.isRegularFile(p) && Files.size(p) > 0) {
                    return p;
                }
            } catch (java.io.IOException e) {
                // unreadable: try the next folder
            }
        }
        throw new CommandFailure("preset " + name + " needs the guest image " + file + ", which has not been fetched "
                + "(looked in " + folders.stream().map(Path::toString).collect(Collectors.joining(", "))
                + "): run guests/fetch in the Polyvisor source tree (it downloads Debian's kernel and busybox), "
                + "or point -D" + CACHE_PROPERTY + "=DIR at a folder holding " + kernel + " and " + initrd);
    }
}
