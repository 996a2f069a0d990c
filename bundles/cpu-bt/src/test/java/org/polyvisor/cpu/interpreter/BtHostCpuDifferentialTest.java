package org.polyvisor.cpu.interpreter;

/** {@link HostCpuDifferentialTest} on the binary-translation engine. */
@BtEngines.On(threshold = 1, maxBlock = 40)
class BtHostCpuDifferentialTest extends HostCpuDifferentialTest {
}
