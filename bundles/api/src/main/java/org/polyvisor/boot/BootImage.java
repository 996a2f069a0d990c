package org.polyvisor.boot;

import java.util.Objects;

/**
 * One image handed to a boot loader: a kernel, an initial RAM disk or a Multiboot module.
 *
 * <p>The bytes are shared, not copied: loaders must not modify them.
 *
 * @param path  where the image came from, for messages (and, for Multiboot, the module string)
 * @param data  the image
 * @param args  the image's own arguments (a Multiboot module's string after the path), or empty
 */
public record BootImage(String path, byte[] data, String args) {

    /** Validates the fields. */
    public BootImage {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(data, "data");
        args = args == null ? "" : args.trim();
    }

    /**
     * Returns the image size.
     *
     * @return bytes
     */
    public int size() {
        return data.length;
    }

    /**
     * Returns the string a Multiboot loader passes for this image: the path, then its arguments.
     *
     * @return {@code path} or {@code path args}
     */
    public String commandLine() {
        return args.isEmpty() ? path : path + " " + args;
    }
}
