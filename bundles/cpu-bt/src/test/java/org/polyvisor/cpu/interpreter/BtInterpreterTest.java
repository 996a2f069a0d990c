package org.polyvisor.cpu.interpreter;

/** {@link InterpreterTest} on the binary-translation engine. */
@BtEngines.On(threshold = 1, maxBlock = 1)
class BtInterpreterTest extends InterpreterTest {
}
