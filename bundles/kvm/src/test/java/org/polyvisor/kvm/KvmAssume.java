package org.polyvisor.kvm;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Skips a test, with the reason, where this host cannot run KVM. */
public final class KvmAssume {

    private KvmAssume() {
    }

    /** Skips unless /dev/kvm exists and opens with API version 12. */
    public static void kvmUsable() {
        assumeTrue(Files.exists(Path.of(Kvm.DEVICE)), "/dev/kvm not present");
        String problem = HostProbe.openCheck(Path.of(Kvm.DEVICE));
        assumeTrue(problem == null, problem);
    }
}
