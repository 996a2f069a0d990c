package org.polyvisor.cpu;

/**
 * Why {@link CpuEngine#run(long)} returned: the events the VMM must act on.
 *
 * <p>Port I/O and MMIO do not end a run: engines dispatch them on the vCPU thread through the
 * buses in {@link VcpuContext} at the point of access (as a KVM userspace VMM handles
 * {@code KVM_EXIT_IO} inside its run loop), and the buses count them as exits by reason. What
 * remains here is what changes the vCPU's schedule.
 */
public sealed interface Exit permits Exit.Halted, Exit.Shutdown, Exit.BudgetSpent, Exit.Requested,
        Exit.InterruptWindow, Exit.Hypercall, Exit.EngineFault {

    /**
     * Returns a stable reason name for statistics, e.g. {@code hlt}.
     *
     * @return the reason
     */
    String reason();

    /** The guest executed HLT; the vCPU sleeps until an interrupt (or a timer) wakes it. */
    record Halted() implements Exit {
        @Override
        public String reason() {
            return "hlt";
        }
    }

    /**
     * The processor shut down (triple fault, or an exception it cannot deliver). The VM is
     * crashed unless the guest asked for it (for example by a triple fault to reset).
     *
     * @param cause    what happened
     * @param location CS:IP of the instruction that led to it, e.g. {@code 0008:00001234}
     * @param detail   further explanation (the exceptions involved)
     */
    record Shutdown(Cause cause, String location, String detail) implements Exit {
        @Override
        public String reason() {
            return "shutdown";
        }

        /**
         * Returns the message shown as the VM's state detail, e.g.
         * {@code triple fault at 0008:00001234}.
         *
         * @return the message
         */
        public String message() {
            String base = cause.text + " at " + location;
            return detail == null || detail.isEmpty() ? base : base + " (" + detail + ")";
        }

        /** Shutdown causes. */
        public enum Cause {
            /** An exception occurred while delivering a double fault. */
            TRIPLE_FAULT("triple fault"),
            /** The engine met something it cannot execute and cannot turn into a guest exception. */
            UNSUPPORTED("unsupported instruction");

            private final String text;

            Cause(String text) {
                this.text = text;
            }
        }
    }

    /** The instruction budget given to {@link CpuEngine#run(long)} is used up. */
    record BudgetSpent() implements Exit {
        @Override
        public String reason() {
            return "budget";
        }
    }

    /** {@link CpuEngine#requestExit()} was called (pause, swap, timer, interrupt kick). */
    record Requested() implements Exit {
        @Override
        public String reason() {
            return "request";
        }
    }

    /** The guest can now take an interrupt the engine could not inject earlier. */
    record InterruptWindow() implements Exit {
        @Override
        public String reason() {
            return "interrupt-window";
        }
    }

    /**
     * The guest made a hypercall the engine does not handle itself.
     *
     * @param number the hypercall number
     */
    record Hypercall(long number) implements Exit {
        @Override
        public String reason() {
            return "hypercall";
        }
    }

    /**
     * The engine failed for a host reason (not the guest's fault); the VM is crashed with this
     * message, and the state exported afterwards is the last consistent one.
     *
     * @param message what failed, with context
     */
    record EngineFault(String message) implements Exit {
        @Override
        public String reason() {
            return "engine-fault";
        }
    }
}
