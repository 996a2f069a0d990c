package org.polyvisor.cpu.interpreter;

/** {@link ProtectedModeTest} on the binary-translation engine. */
@BtEngines.On(threshold = 1, maxBlock = 1)
class BtProtectedModeTest extends ProtectedModeTest {
}
