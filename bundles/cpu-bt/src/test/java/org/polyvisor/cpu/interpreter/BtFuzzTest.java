package org.polyvisor.cpu.interpreter;

/** {@link FuzzTest} on the binary-translation engine. */
@BtEngines.On(threshold = 2, maxBlock = 40)
class BtFuzzTest extends FuzzTest {
}
