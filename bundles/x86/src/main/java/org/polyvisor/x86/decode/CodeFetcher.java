package org.polyvisor.x86.decode;

/**
 * Where the decoder reads instruction bytes from. The implementation maps an offset from the
 * instruction's first byte to guest memory and does the CS limit and paging checks itself, raising
 * the guest's exception ({@link org.polyvisor.x86.X86Exception}) if a byte cannot be fetched.
 */
@FunctionalInterface
public interface CodeFetcher {

    /**
     * Fetches one instruction byte.
     *
     * @param offset offset from the first byte of the instruction, 0..14
     * @return the byte, 0..255
     */
    int fetch(int offset);
}
