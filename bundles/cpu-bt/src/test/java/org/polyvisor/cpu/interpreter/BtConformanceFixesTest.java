package org.polyvisor.cpu.interpreter;

/** {@link ConformanceFixesTest} on the binary-translation engine. */
@BtEngines.On(threshold = 1, maxBlock = 1)
class BtConformanceFixesTest extends ConformanceFixesTest {
}
