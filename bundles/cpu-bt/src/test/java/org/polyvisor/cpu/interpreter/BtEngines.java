package org.polyvisor.cpu.interpreter;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.polyvisor.cpu.bt.internal.BinaryTranslationStrategy;
import org.polyvisor.cpu.interpreter.internal.InterpreterStrategy;

/**
 * Points the interpreter's engine tests at the binary-translation engine: with {@link On} on a
 * subclass of an interpreter test, {@link TestMachine} builds {@code binary-translation} engines that
 * translate an address after {@code threshold} executions into blocks of at most {@code maxBlock}
 * instructions (1 and 1 make every single-stepped instruction run as translated code).
 */
final class BtEngines implements BeforeAllCallback, AfterAllCallback {

    /** Runs the annotated test class on the binary-translation engine. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @ExtendWith(BtEngines.class)
    @interface On {
        int threshold();

        int maxBlock();
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        On on = context.getRequiredTestClass().getAnnotation(On.class);
        System.setProperty("polyvisor.bt.threshold", Integer.toString(on.threshold()));
        System.setProperty("polyvisor.bt.maxBlock", Integer.toString(on.maxBlock()));
        TestMachine.engines = c -> new BinaryTranslationStrategy().createEngine(c);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        System.clearProperty("polyvisor.bt.threshold");
        System.clearProperty("polyvisor.bt.maxBlock");
        TestMachine.engines = c -> new InterpreterStrategy().createEngine(c);
    }
}
