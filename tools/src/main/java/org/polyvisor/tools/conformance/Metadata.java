package org.polyvisor.tools.conformance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A vector folder's {@code metadata.json} (SingleStepTests format): per opcode (and per ModRM.reg
 * for groups) the status and the AND mask that removes the flags the processor leaves undefined.
 */
final class Metadata {

    /** No metadata: nothing masked. */
    static final Metadata NONE = new Metadata(Map.of(), "none");

    private final Map<String, Object> opcodes;
    private final String cpu;

    private Metadata(Map<String, Object> opcodes, String cpu) {
        this.opcodes = opcodes;
        this.cpu = cpu;
    }

    /**
     * Reads {@code metadata.json} from a folder, or returns {@link #NONE} if there is none.
     *
     * @param folder the vector folder
     * @return the metadata
     * @throws IOException if the file exists but cannot be read or parsed
     */
    @SuppressWarnings("unchecked")
    static Metadata read(Path folder) throws IOException {
        Path p = folder.resolve("metadata.json");
        if (!Files.isRegularFile(p)) {
            return NONE;
        }
        try {
            Map<String, Object> m = (Map<String, Object>) Json.parse(Files.readString(p, StandardCharsets.UTF_8));
            Object ops = m.get("opcodes");
            return new Metadata(ops instanceof Map ? (Map<String, Object>) ops : Map.of(), String.valueOf(m.get("cpu")));
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new IOException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    /** @return the processor the vectors were captured on, as the metadata names it */
    String cpu() {
        return cpu;
    }

    /**
     * Returns the entry for an instruction: the opcode's, or its ModRM.reg member for a group.
     *
     * @param opcode the opcode byte
     * @param modrm  the byte after it
     * @return the entry, or an empty map
     */
    @SuppressWarnings("unchecked")
    Map<String, Object> entry(int opcode, int modrm) {
        Object e = opcodes.get(String.format("%02X", opcode));
        if (!(e instanceof Map)) {
            return Map.of();
        }
        Map<String, Object> m = (Map<String, Object>) e;
        Object reg = m.get("reg");
        if (reg instanceof Map && modrm >= 0) {
            Object r = ((Map<String, Object>) reg).get(String.valueOf((modrm >> 3) & 7));
            return r instanceof Map ? (Map<String, Object>) r : Map.of();
        }
        return m;
    }

    /**
     * Returns the undefined-flags AND mask of an instruction ({@code flags-mask}, 0xFFFF if none).
     *
     * @param opcode the opcode byte
     * @param modrm  the byte after it
     * @return the mask
     */
    int flagsMask(int opcode, int modrm) {
        Object v = entry(opcode, modrm).get("flags-mask");
        return v instanceof Long l ? l.intValue() & 0xFFFF : 0xFFFF;
    }
}
