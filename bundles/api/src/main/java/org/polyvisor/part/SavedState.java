package org.polyvisor.part;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The state of a part as a neutral, versioned plain value.
 *
 * <p>Values are only JDK types ({@code Boolean}, {@code Integer}, {@code Long}, {@code String},
 * {@code byte[]}, {@code int[]}, {@code long[]}), never classes of the bundle that saved them, so a
 * newer (or different) bundle can take over the state after the old bundle has gone. Arrays are
 * copied in and out, so a saved state cannot change once made.
 *
 * @param type    what kind of state this is, named after the hardware it models, not after the
 *                implementation (e.g. {@code uart16550}, {@code i8259-pair}), so that another
 *                implementation of the same hardware can take the state over; a restorer checks it
 * @param version the format version of {@code fields}; a restorer accepts the versions it knows
 * @param fields  the state, by field name
 */
public record SavedState(String type, int version, Map<String, Object> fields) {

    /** Validates and copies. */
    public SavedState {
        Objects.requireNonNull(type, "type");
        Map<String, Object> copy = new LinkedHashMap<>();
        fields.forEach((k, v) -> copy.put(k, copyValue(k, v)));
        fields = Collections.unmodifiableMap(copy);
    }

    private static Object copyValue(String key, Object v) {
        if (v instanceof byte[] b) {
            return b.clone();
        } else if (v instanceof int[] a) {
            return a.clone();
        } else if (v instanceof long[] a) {
            return a.clone();
        } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof String) {
            return v;
        }
        throw new IllegalArgumentException("field '" + key + "' has a type a saved state cannot hold: "
                + (v == null ? "null" : v.getClass().getName()));
    }

    /**
     * Starts building a saved state.
     *
     * @param type    the state type
     * @param version the format version
     * @return a builder
     */
    public static Builder builder(String type, int version) {
        return new Builder(type, version);
    }

    /**
     * Checks that this state is of the expected type and of a version the caller accepts.
     *
     * @param expectedType the type the restorer handles
     * @param minVersion   lowest accepted version
     * @param maxVersion   highest accepted version
     * @throws IllegalArgumentException naming the mismatch
     */
    public void require(String expectedType, int minVersion, int maxVersion) {
        if (!type.equals(expectedType)) {
            throw new IllegalArgumentException("cannot restore state of type '" + type + "' into '" + expectedType + "'");
        }
        if (version < minVersion || version > maxVersion) {
            throw new IllegalArgumentException("state '" + type + "' has version " + version
                    + "; this implementation accepts " + minVersion + ".." + maxVersion);
        }
    }

    private Object field(String name) {
        Object v = fields.get(name);
        if (v == null) {
            throw new IllegalArgumentException("state '" + type + "' v" + version + " has no field '" + name + "'");
        }
        return v;
    }

    /**
     * Returns an int field.
     *
     * @param name field name
     * @return its value
     * @throws IllegalArgumentException if missing
     */
    public int getInt(String name) {
        return ((Number) field(name)).intValue();
    }

    /**
     * Returns an int field, or a default when absent (for fields added in later versions).
     *
     * @param name field name
     * @param def  value when absent
     * @return its value
     */
    public int getInt(String name, int def) {
        Object v = fields.get(name);
        return v == null ? def : ((Number) v).intValue();
    }

    /**
     * Returns a long field.
     *
     * @param name field name
     * @return its value
     */
    public long getLong(String name) {
        return ((Number) field(name)).longValue();
    }

    /**
     * Returns a boolean field.
     *
     * @param name field name
     * @return its value
     */
    public boolean getBoolean(String name) {
        return (Boolean) field(name);
    }

    /**
     * Returns a string field.
     *
     * @param name field name
     * @return its value
     */
    public String getString(String name) {
        return (String) field(name);
    }

    /**
     * Returns a copy of a byte-array field.
     *
     * @param name field name
     * @return a copy of its value
     */
    public byte[] getBytes(String name) {
        return ((byte[]) field(name)).clone();
    }

    /**
     * Returns a copy of an int-array field.
     *
     * @param name field name
     * @return a copy of its value
     */
    public int[] getInts(String name) {
        return ((int[]) field(name)).clone();
    }

    /**
     * Returns a copy of a long-array field.
     *
     * @param name field name
     * @return a copy of its value
     */
    public long[] getLongs(String name) {
        return ((long[]) field(name)).clone();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof SavedState s) || !type.equals(s.type) || version != s.version
                || !fields.keySet().equals(s.fields.keySet())) {
            return false;
        }
        for (Map.Entry<String, Object> e : fields.entrySet()) {
            if (!Arrays.deepEquals(new Object[] {e.getValue()}, new Object[] {s.fields.get(e.getKey())})) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, version, fields.keySet());
    }

    /** Builds a {@link SavedState}. */
    public static final class Builder {
        private final String type;
        private final int version;
        private final Map<String, Object> fields = new LinkedHashMap<>();

        private Builder(String type, int version) {
            this.type = type;
            this.version = version;
        }

        /**
         * Adds a field.
         *
         * @param name  field name
         * @param value a JDK value of a supported type
         * @return this builder
         */
        public Builder put(String name, Object value) {
            fields.put(name, value);
            return this;
        }

        /**
         * Builds the value.
         *
         * @return the saved state
         */
        public SavedState build() {
            return new SavedState(type, version, fields);
        }
    }
}
