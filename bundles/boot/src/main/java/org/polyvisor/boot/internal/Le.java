package org.polyvisor.boot.internal;

/** Little-endian field access on image bytes; reads past the end give 0 (callers check sizes first). */
final class Le {

    private Le() {
    }

    static int u8(byte[] b, int off) {
        return off >= 0 && off < b.length ? b[off] & 0xFF : 0;
    }

    static int u16(byte[] b, int off) {
        return u8(b, off) | u8(b, off + 1) << 8;
    }

    static long u32(byte[] b, int off) {
        return (u16(b, off) | (long) u16(b, off + 2) << 16) & 0xFFFF_FFFFL;
    }

    static long u64(byte[] b, int off) {
        return u32(b, off) | u32(b, off + 4) << 32;
    }

    static void put16(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }

    static void put32(byte[] b, int off, long v) {
        put16(b, off, (int) v);
        put16(b, off + 2, (int) (v >>> 16));
    }

    static void put64(byte[] b, int off, long v) {
        put32(b, off, v);
        put32(b, off + 4, v >>> 32);
    }

    static String hex(long v) {
        return String.format("0x%08x", v);
    }

    static String size(long bytes) {
        if (bytes >= 10L << 20) {
            return (bytes >> 20) + " MiB";
        } else if (bytes >= 10L << 10) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " bytes";
    }
}
