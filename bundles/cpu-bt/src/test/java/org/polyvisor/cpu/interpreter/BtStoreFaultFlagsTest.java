package org.polyvisor.cpu.interpreter;

/** {@link StoreFaultFlagsTest} on the binary-translation engine. */
@BtEngines.On(threshold = 1, maxBlock = 1)
class BtStoreFaultFlagsTest extends StoreFaultFlagsTest {
}
