package org.polyvisor.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * The predefined demo VM boots by itself; swapping its CPU strategy, and taking the strategy's
 * bundle away and back, keep the guest's counter going without a gap or a repeat.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HotSwapIT extends PolyvisorTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(60);

    private Vm runningDemo() throws InterruptedException {
        await("the predefined demo VM", WAIT, () -> vmManager.get("demo").isPresent());
        Vm vm = vmManager.get("demo").get();
        VmStatus s = vm.awaitState(WAIT, VmState.RUNNING);
        assertEquals("autostart: " + s.describe(), VmState.RUNNING, s.state());
        return vm;
    }

    @Test
    public void demoBootsAndCountsThroughASwapAndABundleRestart() throws Exception {
        Vm vm = runningDemo();
        await("the demo banner", WAIT, () -> output(vm).contains("Polyvisor demo guest"));
        awaitCountAbove(vm, 1, WAIT);

        // swap the engine while the guest runs
        int beforeSwap = lastCount(vm);
        String out = executeOk("vm:swap demo --cpu interpreter");
        assertTrue(out, out.contains("cpu interpreter -> interpreter"));
        assertEquals(VmState.RUNNING, vm.status().state());
        awaitCountAbove(vm, beforeSwap + 1, WAIT);
        assertConsecutive(output(vm));

        // take the engine's bundle away: the VM pauses, saying what it waits for
        Bundle interpreter = bundle("org.polyvisor.cpu-interpreter");
        interpreter.stop();
        try {
            VmStatus paused = vm.awaitState(WAIT, VmState.PAUSED);
            assertEquals(paused.describe(), VmState.PAUSED, paused.state());
            assertTrue(paused.describe(), paused.detail().contains("interpreter"));
            String list = executeOk("vm:list --no-format");
            assertTrue(list, list.contains("paused"));
            int whilePaused = lastCount(vm);
            Thread.sleep(1500);
            assertEquals("the guest must not run without its engine", whilePaused, lastCount(vm));
        } finally {
            interpreter.start();
        }
        VmStatus resumed = vm.awaitState(WAIT, VmState.RUNNING);
        assertEquals(resumed.describe(), VmState.RUNNING, resumed.state());
        int afterRestart = lastCount(vm);
        awaitCountAbove(vm, afterRestart + 1, WAIT);
        assertConsecutive(output(vm));

        String stats = executeOk("vm:stats --no-format demo");
        assertTrue(stats, stats.contains("Instructions retired"));
        String console = executeOk("vm:console --timeout 2 --no-input demo");
        assertTrue(console, console.contains("count: "));
        assertConsecutive(console);
    }

    @Test
    public void swapToAnUnknownStrategyIsRefusedAndTheVmKeepsRunning() throws Exception {
        Vm vm = runningDemo();
        String out = execute("vm:swap demo --cpu warp-drive");
        assertTrue(out, out.contains("ERROR: "));
        assertTrue(out, out.contains("warp-drive"));
        assertEquals(VmState.RUNNING, vm.status().state());
        assertEquals("interpreter", vm.config().cpu());
        int before = lastCount(vm);
        awaitCountAbove(vm, before, WAIT);
    }

    @Test
    public void consoleTypesIntoTheGuestAndReturnsOnceItAnswers() throws Exception {
        runningDemo();
        long t0 = System.nanoTime();
        String out = executeWithInput("vm:console --tail 0 --timeout 60 --until typed-through demo", "typed-through\n");
        assertTrue(out, out.contains("typed-through")); // the demo guest echoes what it reads from COM1
        assertTrue("--until returns once the text is shown, not after --timeout",
                System.nanoTime() - t0 < java.util.concurrent.TimeUnit.SECONDS.toNanos(50));
    }
}
