package org.polyvisor.core.internal;

import java.util.ArrayDeque;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.Exit;
import org.polyvisor.irq.InterruptSource;
import org.polyvisor.time.ClockMode;
import org.polyvisor.vm.VmException;

/**
 * One vCPU thread and the protocol that drives it, in the manner of a KVM userspace VMM:
 * the controller posts {@code run}, {@code pause}, tasks (save or replace state on this thread
 * while paused) and {@code finish}; the thread answers by parking at an instruction boundary.
 */
final class Vcpu implements Runnable {

    /** What the controller wants the thread to do. */
    private enum Target {
        RUN, PAUSE, FINISH
    }

    /** Instructions per run in realtime mode: bounds the latency of timers and requests. */
    static final long REALTIME_BUDGET = 200_000;
    /** Longest deterministic run (then timers are looked at again). */
    static final long MAX_BUDGET = 1_000_000;

    /** The vCPU whose thread is running, for "which vCPU is calling" questions of devices. */
    private static final ThreadLocal<Vcpu> CURRENT = new ThreadLocal<>();

    private final int id;
    private final Machine machine;
    private final Object lock = new Object();
    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private Target target = Target.PAUSE;
    private boolean parked;
    private boolean finished;
    private long kicks;
    private Thread thread;

    private volatile CpuEngine engine;
    private volatile long retired;
    // wall time by activity, in nanoseconds
    private volatile long runningNanos;
    private volatile long haltedNanos;
    private volatile long pausedNanos;
    private volatile boolean halted;
    /** Halted with IF clear and no INIT/SIPI waiting: only another vCPU could wake it. */
    private volatile boolean haltedForGood;
    private boolean haltRetried;

    Vcpu(int id, Machine machine, CpuEngine engine) {
        this.id = id;
        this.machine = machine;
        this.engine = engine;
    }

    int id() {
        return id;
    }

    CpuEngine engine() {
        return engine;
    }

    /**
     * Replaces the engine; only from a task running on this vCPU's thread (or before start).
     *
     * @param next the new engine, or null while its provider is away
     */
    void setEngine(CpuEngine next) {
        engine = next;
    }

    long retired() {
        return retired;
    }

    boolean halted() {
        return halted;
    }

    boolean haltedForGood() {
        return haltedForGood;
    }

    long runningNanos() {
        return runningNanos;
    }

    long haltedNanos() {
        return haltedNanos;
    }

    long pausedNanos() {
        return pausedNanos;
    }

    void start(String vmName) {
        thread = new Thread(this, "vcpu-" + id + "@" + vmName);
        thread.setDaemon(true);
        thread.start();
    }

    /** Lets the thread run the guest. */
    void resume() {
        synchronized (lock) {
            if (target == Target.PAUSE) {
                target = Target.RUN;
                lock.notifyAll();
            }
        }
    }

    /**
     * Asks the thread to stop at an instruction boundary; does not wait.
     */
    void requestPause() {
        synchronized (lock) {
            if (target == Target.RUN) {
                target = Target.PAUSE;
            }
            lock.notifyAll();
        }
        CpuEngine e = engine;
        if (e != null) {
            e.requestExit();
        }
    }

    /**
     * Waits until the thread is parked (or gone).
     *
     * @param timeoutMillis how long to wait
     * @return true if parked
     */
    boolean awaitParked(long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (lock) {
            while (!parked && !finished) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * Runs a task on this vCPU's thread while it is paused, and returns its result.
     *
     * @param task          the task
     * @param timeoutMillis how long to wait
     * @return the task's result
     * @throws VmException if the task failed or the thread did not answer
     */
    <T> T call(Callable<T> task, long timeoutMillis) {
        CompletableFuture<T> result = new CompletableFuture<>();
        synchronized (lock) {
            if (finished) {
                throw new VmException("vcpu " + id + " has ended");
            }
            tasks.add(() -> {
                try {
                    result.complete(task.call());
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            });
            lock.notifyAll();
        }
        try {
            return result.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof VmException ve) {
                throw ve;
            }
            throw new VmException("vcpu " + id + ": " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new VmException("vcpu " + id + " did not answer within " + timeoutMillis + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmException("interrupted while waiting for vcpu " + id);
        }
    }

    /**
     * Wakes a halted thread for a new interrupt; a running engine is made to exit only if it does
     * not look at interrupts by itself.
     */
    void wake() {
        synchronized (lock) {
            kicks++;
            lock.notifyAll();
        }
        CpuEngine e = engine;
        if (e != null && !e.pollsInterrupts()) {
            e.requestExit();
        }
    }

    /** Wakes the thread for a new interrupt, timer or request, and makes a running engine exit. */
    void kick() {
        synchronized (lock) {
            kicks++;
            lock.notifyAll();
        }
        CpuEngine e = engine;
        if (e != null) {
            e.requestExit();
        }
    }

    /**
     * Ends the thread and waits for it.
     *
     * @param timeoutMillis how long to wait
     * @return true if the thread ended
     */
    boolean finish(long timeoutMillis) {
        synchronized (lock) {
            target = Target.FINISH;
            lock.notifyAll();
        }
        CpuEngine e = engine;
        if (e != null) {
            e.requestExit();
        }
        if (thread == null || thread == Thread.currentThread()) {
            return true;
        }
        try {
            thread.join(timeoutMillis);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }

    /**
     * Returns the vCPU of the calling thread if it belongs to a machine.
     *
     * @param m the machine asking
     * @return its index, or -1
     */
    static int current(Machine m) {
        Vcpu v = CURRENT.get();
        return v != null && v.machine == m ? v.id : -1;
    }

    @Override
    public void run() {
        CURRENT.set(this);
        try {
            loop();
        } catch (Throwable t) {
            machine.engineFailed(this, "vcpu " + id + " failed: " + t, t);
        } finally {
            synchronized (lock) {
                finished = true;
                parked = true;
                lock.notifyAll();
            }
        }
    }

    private void loop() throws InterruptedException {
        while (true) {
            Runnable task = null;
            synchronized (lock) {
                if (target == Target.FINISH) {
                    return;
                }
                if (target == Target.PAUSE || engine == null) {
                    if (!parked) {
                        parked = true;
                        lock.notifyAll();
                    }
                    task = tasks.poll();
                    if (task == null) {
                        long t0 = System.nanoTime();
                        lock.wait();
                        pausedNanos += System.nanoTime() - t0;
                        continue;
                    }
                } else if (parked) {
                    parked = false;
                    lock.notifyAll();
                }
            }
            if (task != null) {
                task.run();
                continue;
            }
            step();
        }
    }

    private void step() throws InterruptedException {
        machine.clock().runDue();
        CpuEngine e = engine;
        long budget = budget();
        long kicksBefore;
        synchronized (lock) {
            kicksBefore = kicks;
        }
        long before = e.instructionsRetired();
        long t0 = System.nanoTime();
        Exit exit;
        try {
            exit = e.run(budget);
        } finally {
            runningNanos += System.nanoTime() - t0;
            retired += e.instructionsRetired() - before;
        }
        machine.exitCounters().increment(exit.reason());
        if (exit instanceof Exit.Halted) {
            InterruptSource src = machine.interrupts(id);
            if (!haltRetried && (src.hasInterrupt() || src.hasStartupEvent())) {
                // let the engine look at the waiting interrupt (it knows IF) or INIT/SIPI
                haltRetried = true;
                haltedForGood = false;
            } else if (haltsForGood(e, src)) {
                haltedForGood = true;
                machine.guestHaltedForGood(this);
                waitHalted(e, kicksBefore); // until the machine stops, or another vCPU wakes this one
            } else {
                haltedForGood = false;
                waitHalted(e, kicksBefore);
            }
            return;
        }
        haltRetried = false;
        haltedForGood = false;
        if (exit instanceof Exit.Shutdown s) {
            parkSelf();
            machine.guestShutdown(this, s);
        } else if (exit instanceof Exit.EngineFault f) {
            parkSelf();
            machine.engineFailed(this, f.message(), null);
        } else if (exit instanceof Exit.Hypercall h) {
            parkSelf();
            machine.engineFailed(this, "hypercall " + h.number() + " is not handled by this VM", null);
        }
        // BudgetSpent, Requested, InterruptWindow: loop, which looks at requests and timers.
    }

    /** RFLAGS.IF (SDM Vol. 3A 2.3): HLT with IF clear only ends by NMI, SMI, INIT or reset. */
    private static final long RFLAGS_IF = 1L << 9;

    private static boolean haltsForGood(CpuEngine e, InterruptSource src) {
        return (e.exportState().rflags() & RFLAGS_IF) == 0 && !src.hasStartupEvent();
    }

    private long budget() {
        VmClockImpl clock = machine.clock();
        if (clock.mode() != ClockMode.DETERMINISTIC) {
            return REALTIME_BUDGET;
        }
        long next = clock.nextDeadline();
        if (next == Long.MAX_VALUE) {
            return MAX_BUDGET;
        }
        long left = (next - clock.nanos()) / VmClockImpl.NANOS_PER_INSTRUCTION;
        return Math.max(1, Math.min(MAX_BUDGET, left));
    }

    /** Stops this thread from running the guest again until the controller decides. */
    private void parkSelf() {
        synchronized (lock) {
            if (target == Target.RUN) {
                target = Target.PAUSE;
            }
        }
    }

    /**
     * Sleeps while halted: until a kick (interrupt, request), a due timer or a command. The first
     * halt after a kick returns at once so the engine can look at the interrupt itself (it knows
     * IF); only a halt with nothing new sleeps.
     */
    private void waitHalted(CpuEngine e, long kicksBefore) throws InterruptedException {
        VmClockImpl clock = machine.clock();
        long t0 = System.nanoTime();
        halted = true;
        try {
            synchronized (lock) {
                while (target == Target.RUN && kicks == kicksBefore && tasks.isEmpty()) {
                    long next = clock.nextDeadline();
                    long now = clock.nanos();
                    if (next <= now) {
                        break; // a timer is due: run it, then let the engine look again
                    }
                    if (clock.mode() == ClockMode.DETERMINISTIC) {
                        if (machine.allHalted() && clock.skipToNextTimer()) {
                            break;
                        }
                        lock.wait(next == Long.MAX_VALUE ? 0 : 10);
                    } else if (next == Long.MAX_VALUE) {
                        lock.wait();
                    } else {
                        TimeUnit.NANOSECONDS.timedWait(lock, next - now);
                    }
                }
            }
        } finally {
            halted = false;
            haltedNanos += System.nanoTime() - t0;
        }
    }
}
