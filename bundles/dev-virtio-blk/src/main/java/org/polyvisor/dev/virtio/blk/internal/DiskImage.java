package org.polyvisor.dev.virtio.blk.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashSet;
import java.util.Set;

/**
 * A raw disk image file, opened safely: the last path component must be a regular file, not a
 * symbolic link (opened with {@code NOFOLLOW_LINKS}, so it cannot be swapped for one between the
 * check and the open), a whole number of 512-byte sectors, and locked (shared when read-only,
 * exclusive otherwise) so two VMs cannot write one image. Accesses never go beyond the size found
 * at open, so the file never grows.
 */
final class DiskImage implements AutoCloseable {

    /** Sector size of virtio-blk addressing (5.2.6: "sector ... 512 bytes"). */
    static final int SECTOR = 512;

    private final Path path;
    private final boolean readOnly;
    private final FileChannel channel;
    private final FileLock lock;
    private final long size;

    private DiskImage(Path path, boolean readOnly, FileChannel channel, FileLock lock, long size) {
        this.path = path;
        this.readOnly = readOnly;
        this.channel = channel;
        this.lock = lock;
        this.size = size;
    }

    /**
     * Resolves an image path as the core resolves firmware: absolute as given, relative against
     * {@code karaf.home} when set.
     *
     * @param text the configured path
     * @return the path
     */
    static Path resolve(String text) {
        Path p = Path.of(text);
        String home = System.getProperty("karaf.home");
        if (!p.isAbsolute() && home != null) {
            p = Path.of(home).resolve(p);
        }
        return p.toAbsolutePath().normalize();
    }

    /**
     * Opens an image.
     *
     * @param who      the device, for messages
     * @param text     the configured path
     * @param readOnly whether to open read-only
     * @return the image
     * @throws IllegalArgumentException with a clear reason if the image cannot be used
     */
    static DiskImage open(String who, String text, boolean readOnly) {
        Path p = resolve(text);
        String what = who + ": image '" + text + "'" + (text.equals(p.toString()) ? "" : " (" + p + ")");
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(what + " not found");
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " cannot be examined: " + e.getMessage(), e);
        }
        if (attrs.isSymbolicLink()) {
            throw new IllegalArgumentException(what + " is a symbolic link; give the path of the image itself");
        }
        if (!attrs.isRegularFile()) {
            throw new IllegalArgumentException(what + " is not a regular file");
        }
        Set<OpenOption> opts = new HashSet<>();
        opts.add(StandardOpenOption.READ);
        opts.add(LinkOption.NOFOLLOW_LINKS);
        if (!readOnly) {
            opts.add(StandardOpenOption.WRITE);
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(p, opts);
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(what + " is not " + (readOnly ? "readable" : "readable and writable")
                    + " (permission denied)" + (readOnly ? "" : "; add readonly=on to use it read-only"));
        } catch (FileSystemException e) {
            throw new IllegalArgumentException(what + " cannot be opened: " + e.getReason(), e);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " cannot be opened: " + e.getMessage(), e);
        }
        try {
            long size = ch.size();
            if (size == 0) {
                throw new IllegalArgumentException(what + " is empty");
            }
            if (size % SECTOR != 0) {
                throw new IllegalArgumentException(what + " is " + size + " bytes, not a whole number of "
                        + SECTOR + "-byte sectors (truncated?)");
            }
            FileLock lock;
            try {
                lock = ch.tryLock(0, Long.MAX_VALUE, readOnly);
            } catch (OverlappingFileLockException e) {
                throw new IllegalArgumentException(what + " is in use by another VM of this runtime");
            }
            if (lock == null) {
                throw new IllegalArgumentException(what + " is in use by another process");
            }
            return new DiskImage(p, readOnly, ch, lock, size);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new IllegalArgumentException(what + " cannot be used: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing more to release
        }
    }

    Path path() {
        return path;
    }

    boolean readOnly() {
        return readOnly;
    }

    /** Returns the size in bytes found at open. */
    long size() {
        return size;
    }

    /** Returns the capacity in sectors. */
    long sectors() {
        return size / SECTOR;
    }

    /**
     * Reads exactly {@code buf.remaining()} bytes at {@code offset}.
     *
     * @throws IOException if the file ended early (it shrank) or the read failed
     */
    void read(long offset, ByteBuffer buf) throws IOException {
        checkRange(offset, buf.remaining());
        while (buf.hasRemaining()) {
            int n = channel.read(buf, offset);
            if (n < 0) {
                throw new IOException("image " + path + " ended at " + offset + " (shrunk while in use?)");
            }
            offset += n;
        }
    }

    /**
     * Writes all of {@code buf} at {@code offset}, within the image.
     *
     * @throws IOException if the write failed
     */
    void write(long offset, ByteBuffer buf) throws IOException {
        if (readOnly) {
            throw new IOException("image " + path + " is read-only");
        }
        checkRange(offset, buf.remaining());
        while (buf.hasRemaining()) {
            offset += channel.write(buf, offset);
        }
    }

    private void checkRange(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IOException("access 0x" + Long.toHexString(offset) + "+0x" + Long.toHexString(length)
                    + " outside the image of " + size + " bytes");
        }
    }

    /** Forces written data to the storage device. */
    void flush() throws IOException {
        if (!readOnly) {
            channel.force(false);
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // closing the channel releases it anyway
        }
        closeQuietly(channel);
    }
}
