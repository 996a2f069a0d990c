package org.polyvisor.core.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PanicCommandLineTest {

    @Test
    void onlyANonZeroPanicTimeoutMakesLinuxRebootItself() {
        assertFalse(VmImpl.rebootsAfterPanic("console=ttyS0 nokaslr"));
        assertFalse(VmImpl.rebootsAfterPanic(""));
        assertFalse(VmImpl.rebootsAfterPanic(null));
        assertFalse(VmImpl.rebootsAfterPanic("console=ttyS0 panic=0"));
        assertFalse(VmImpl.rebootsAfterPanic("oops=panic kpanic=5"));
        assertTrue(VmImpl.rebootsAfterPanic("panic=5 console=ttyS0"));
        assertTrue(VmImpl.rebootsAfterPanic("console=ttyS0 panic=-1"));
        assertFalse(VmImpl.rebootsAfterPanic("panic=10 panic=0")); // the last one counts
    }
}
