package org.polyvisor.kvm;

/**
 * Why {@code KVM_RUN} returned: one record per {@code KVM_EXIT_*} reason (Documentation/virt/kvm/
 * api.rst, "struct kvm_run"). Data that must be answered (an IN, an MMIO read) is answered through
 * the {@link VcpuFd} before the next run.
 */
public sealed interface KvmExit {

    /** KVM_EXIT_UNKNOWN. */
    int UNKNOWN = 0;
    /** KVM_EXIT_EXCEPTION. */
    int EXCEPTION = 1;
    /** KVM_EXIT_IO. */
    int IO = 2;
    /** KVM_EXIT_HYPERCALL. */
    int HYPERCALL = 3;
    /** KVM_EXIT_DEBUG. */
    int DEBUG = 4;
    /** KVM_EXIT_HLT. */
    int HLT = 5;
    /** KVM_EXIT_MMIO. */
    int MMIO = 6;
    /** KVM_EXIT_IRQ_WINDOW_OPEN. */
    int IRQ_WINDOW_OPEN = 7;
    /** KVM_EXIT_SHUTDOWN. */
    int SHUTDOWN = 8;
    /** KVM_EXIT_FAIL_ENTRY. */
    int FAIL_ENTRY = 9;
    /** KVM_EXIT_INTR. */
    int INTR = 10;
    /** KVM_EXIT_INTERNAL_ERROR. */
    int INTERNAL_ERROR = 17;
    /** KVM_EXIT_SYSTEM_EVENT. */
    int SYSTEM_EVENT = 24;

    /**
     * Returns the kernel's exit reason number.
     *
     * @return KVM_EXIT_*
     */
    int reason();

    /**
     * Returns the kernel's name for the reason, e.g. {@code KVM_EXIT_IO}.
     *
     * @return the name
     */
    default String name() {
        return nameOf(reason());
    }

    /**
     * Names an exit reason number.
     *
     * @param reason KVM_EXIT_*
     * @return its name, or {@code KVM_EXIT_<n>}
     */
    static String nameOf(int reason) {
        return switch (reason) {
            case UNKNOWN -> "KVM_EXIT_UNKNOWN";
            case EXCEPTION -> "KVM_EXIT_EXCEPTION";
            case IO -> "KVM_EXIT_IO";
            case HYPERCALL -> "KVM_EXIT_HYPERCALL";
            case DEBUG -> "KVM_EXIT_DEBUG";
            case HLT -> "KVM_EXIT_HLT";
            case MMIO -> "KVM_EXIT_MMIO";
            case IRQ_WINDOW_OPEN -> "KVM_EXIT_IRQ_WINDOW_OPEN";
            case SHUTDOWN -> "KVM_EXIT_SHUTDOWN";
            case FAIL_ENTRY -> "KVM_EXIT_FAIL_ENTRY";
            case INTR -> "KVM_EXIT_INTR";
            case 11 -> "KVM_EXIT_SET_TPR";
            case 12 -> "KVM_EXIT_TPR_ACCESS";
            case 16 -> "KVM_EXIT_NMI";
            case INTERNAL_ERROR -> "KVM_EXIT_INTERNAL_ERROR";
            case SYSTEM_EVENT -> "KVM_EXIT_SYSTEM_EVENT";
            case 26 -> "KVM_EXIT_IOAPIC_EOI";
            case 29 -> "KVM_EXIT_X86_RDMSR";
            case 30 -> "KVM_EXIT_X86_WRMSR";
            case 33 -> "KVM_EXIT_X86_BUS_LOCK";
            case 37 -> "KVM_EXIT_NOTIFY";
            case 39 -> "KVM_EXIT_MEMORY_FAULT";
            default -> "KVM_EXIT_" + reason;
        };
    }

    /**
     * KVM_EXIT_UNKNOWN: the hardware exited for a reason KVM did not handle.
     *
     * @param hardwareExitReason the VMX/SVM exit code
     */
    record Unknown(long hardwareExitReason) implements KvmExit {
        @Override
        public int reason() {
            return UNKNOWN;
        }
    }

    /**
     * KVM_EXIT_EXCEPTION.
     *
     * @param vector    the exception
     * @param errorCode its error code
     */
    record Exception(int vector, int errorCode) implements KvmExit {
        @Override
        public int reason() {
            return EXCEPTION;
        }
    }

    /**
     * KVM_EXIT_IO: port I/O. For an IN the data must be written with
     * {@link VcpuFd#setIoData(Io, int, int)} before the next run.
     *
     * @param out        true for OUT/OUTS
     * @param size       1, 2 or 4
     * @param port       the port
     * @param count      repetitions (string I/O)
     * @param dataOffset offset of the data in the kvm_run page
     */
    record Io(boolean out, int size, int port, int count, int dataOffset) implements KvmExit {
        @Override
        public int reason() {
            return IO;
        }
    }

    /**
     * KVM_EXIT_HYPERCALL.
     *
     * @param nr   the hypercall number
     * @param args its arguments (six)
     */
    record Hypercall(long nr, long[] args) implements KvmExit {
        @Override
        public int reason() {
            return HYPERCALL;
        }
    }

    /**
     * KVM_EXIT_DEBUG.
     *
     * @param exception the debug exception (1 or 3)
     * @param pc        the guest RIP
     * @param dr6       DR6
     * @param dr7       DR7
     */
    record Debug(int exception, long pc, long dr6, long dr7) implements KvmExit {
        @Override
        public int reason() {
            return DEBUG;
        }
    }

    /** KVM_EXIT_HLT: the guest halted (only without an in-kernel local APIC). */
    record Hlt() implements KvmExit {
        @Override
        public int reason() {
            return HLT;
        }
    }

    /**
     * KVM_EXIT_MMIO: an access to guest-physical memory no slot backs (or a write to a read-only
     * slot). A read must be answered with {@link VcpuFd#setMmioData(long)} before the next run.
     *
     * @param address guest-physical address
     * @param length  1, 2, 4 or 8
     * @param write   true for a write
     * @param data    the value written (little-endian, {@code length} bytes), 0 for a read
     */
    record Mmio(long address, int length, boolean write, long data) implements KvmExit {
        @Override
        public int reason() {
            return MMIO;
        }
    }

    /** KVM_EXIT_IRQ_WINDOW_OPEN: the guest can take an interrupt now. */
    record IrqWindowOpen() implements KvmExit {
        @Override
        public int reason() {
            return IRQ_WINDOW_OPEN;
        }
    }

    /** KVM_EXIT_SHUTDOWN: the processor shut down (triple fault). */
    record Shutdown() implements KvmExit {
        @Override
        public int reason() {
            return SHUTDOWN;
        }
    }

    /**
     * KVM_EXIT_FAIL_ENTRY: VM entry failed (invalid guest state).
     *
     * @param hardwareEntryFailureReason the VMX/SVM failure code
     * @param cpu                        the host CPU
     */
    record FailEntry(long hardwareEntryFailureReason, int cpu) implements KvmExit {
        @Override
        public int reason() {
            return FAIL_ENTRY;
        }
    }

    /** KVM_EXIT_INTR: KVM_RUN returned because of a signal or {@code immediate_exit} (EINTR). */
    record Intr() implements KvmExit {
        @Override
        public int reason() {
            return INTR;
        }
    }

    /**
     * KVM_EXIT_INTERNAL_ERROR: KVM could not go on (e.g. its emulator failed).
     *
     * @param suberror KVM_INTERNAL_ERROR_* (1 emulation, 2 simultaneous exceptions, 3 delivery
     *                 event, 4 unexpected exit reason)
     * @param data     the extra words KVM gave
     */
    record InternalError(int suberror, long[] data) implements KvmExit {
        @Override
        public int reason() {
            return INTERNAL_ERROR;
        }

        /**
         * Describes the error, e.g. {@code "emulation failure"}.
         *
         * @return the description with the data words
         */
        public String describe() {
            String what = switch (suberror) {
                case 1 -> "emulation failure";
                case 2 -> "simultaneous exceptions";
                case 3 -> "error during event delivery";
                case 4 -> "unexpected exit reason";
                default -> "suberror " + suberror;
            };
            StringBuilder sb = new StringBuilder(what);
            if (data.length > 0) {
                sb.append(" [");
                for (int i = 0; i < data.length; i++) {
                    sb.append(i == 0 ? "" : " ").append(String.format("%x", data[i]));
                }
                sb.append(']');
            }
            return sb.toString();
        }
    }

    /**
     * KVM_EXIT_SYSTEM_EVENT: shutdown, reset or crash asked by the guest through KVM.
     *
     * @param type 1 shutdown, 2 reset, 3 crash, ...
     * @param data extra words
     */
    record SystemEvent(int type, long[] data) implements KvmExit {
        @Override
        public int reason() {
            return SYSTEM_EVENT;
        }
    }

    /**
     * Any other exit reason this binding does not decode.
     *
     * @param reason KVM_EXIT_*
     */
    record Other(int reason) implements KvmExit {
    }
}
