package org.polyvisor.core.internal;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;

class FirmwareImageCheckTest {

    @Test
    void truncatedFirmwareIsRefusedWholeBlocksAreTaken(@TempDir Path dir) throws Exception {
        byte[] image = new byte[0x2_0000];
        image[image.length - 16] = (byte) 0xEA; // JMP FAR at the reset vector, as a real firmware has
        Path whole = Files.write(dir.resolve("bios.bin"), image);
        Machine.checkImages(VmConfig.builder("ok").memory(16L << 20).firmware(whole.toString()).build());

        Path cut = Files.write(dir.resolve("cut.bin"), new byte[0x2_0000 - 4096]);
        VmException e = assertThrows(VmException.class,
                () -> Machine.checkImages(VmConfig.builder("cut").memory(16L << 20).firmware(cut.toString()).build()));
        assertTrue(e.getMessage().contains("is 126976 bytes, not a whole number of 64 KiB blocks"), e.getMessage());
    }
}
