package org.polyvisor.core.internal;

import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.polyvisor.cpu.CpuEngine;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.CpuStrategy;
import org.polyvisor.cpu.Exit;
import org.polyvisor.cpu.VcpuContext;
import org.polyvisor.device.CharBackend;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.DeviceModel;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.part.Availability;
import org.polyvisor.part.SavedState;

/**
 * Small real parts for testing the core without a full x86 engine: a "counting CPU" whose
 * architectural state is the CpuState value itself (RAX counts retired instructions and every
 * {@code 1000} it prints the count on port 0x3F8; when RAX reaches RBX it powers off through port
 * 0xF4 or, if RCX is 1, shuts down with a triple fault), a console device and an exit device.
 */
final class ToyParts {

    static final int PRINT_EVERY = 1000;

    private ToyParts() {
    }

    /** The counting CPU strategy; {@code name} lets two of them be swapped. */
    static final class CountingCpu implements CpuStrategy {
        final String name;
        volatile Availability availability = Availability.yes();
        volatile String incompatibleMmu;
        /** RBX of new engines: the count at which the guest ends (0: never). */
        volatile long limit;
        /** RCX of new engines: 1 to end in a triple fault instead of a power-off. */
        volatile long tripleFault;
        /** Accepts CPU models starting with this (null: only the default, as the API's default method). */
        volatile String modelPrefix;
        /** The CPU model the last engine was created with. */
        volatile String modelSeen;

        CountingCpu(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String description() {
            return "counting test engine";
        }

        @Override
        public Availability availability() {
            return availability;
        }

        @Override
        public Availability compatibleWith(String mmu) {
            return mmu.equals(incompatibleMmu) ? Availability.no(name + " cannot use " + mmu) : Availability.yes();
        }

        @Override
        public Availability acceptsCpuModel(String model) {
            if (modelPrefix == null) {
                return CpuStrategy.super.acceptsCpuModel(model);
            }
            return model.startsWith(modelPrefix) ? Availability.yes() : Availability.no(name + " knows only "
                    + modelPrefix);
        }

        @Override
        public CpuEngine createEngine(VcpuContext context) {
            modelSeen = context.cpuModel();
            CountingEngine e = new CountingEngine(context);
            e.importState(e.exportState().toBuilder().gpr(CpuState.RBX, limit).gpr(CpuState.RCX, tripleFault).build());
            return e;
        }
    }

    static final class CountingEngine implements CpuEngine {
        private final VcpuContext ctx;
        private final AtomicBoolean exitRequested = new AtomicBoolean();
        private CpuState state = CpuState.powerOn(0x633);
        private long retired;
        private boolean closed;

        CountingEngine(VcpuContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public Exit run(long budget) {
            if (closed) {
                throw new IllegalStateException("engine used after close");
            }
            long rax = state.gpr(CpuState.RAX);
            long limit = state.gpr(CpuState.RBX);
            try {
                for (long i = 0; i < budget; i++) {
                    if (exitRequested.getAndSet(false)) {
                        return new Exit.Requested();
                    }
                    rax++;
                    retired++;
                    if (rax % PRINT_EVERY == 0) {
                        for (byte b : (rax / PRINT_EVERY + "\n").getBytes()) {
                            ctx.ports().write(0x3F8, 1, b);
                        }
                    }
                    if (limit != 0 && rax == limit) {
                        if (state.gpr(CpuState.RCX) == 1) {
                            return new Exit.Shutdown(Exit.Shutdown.Cause.TRIPLE_FAULT, "0008:00001234", "#GP during #DF");
                        }
                        ctx.ports().write(0xF4, 1, 0x10);
                    }
                }
                return new Exit.BudgetSpent();
            } finally {
                state = state.toBuilder().gpr(CpuState.RAX, rax).build();
            }
        }

        @Override
        public CpuState exportState() {
            return state;
        }

        @Override
        public void importState(CpuState s) {
            state = s;
        }

        @Override
        public void requestExit() {
            exitRequested.set(true);
        }

        @Override
        public long instructionsRetired() {
            return retired;
        }

        @Override
        public Map<String, Long> stats() {
            return Map.of("retired", retired);
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    /** A write-only console at 0x3F8 (one port), remembering the bytes it forwarded. */
    static final class ConsoleModel implements DeviceModel {
        volatile int instances;

        @Override
        public String name() {
            return "toy-console";
        }

        @Override
        public String description() {
            return "test console";
        }

        @Override
        public Availability availability() {
            return Availability.yes();
        }

        @Override
        public Device create(DeviceContext ctx) {
            instances++;
            CharBackend out = ctx.console().orElseThrow();
            long[] written = {0};
            Registration r = ctx.ports().map(0x3F8, 1, ctx.instanceName(), new PortDevice() {
                @Override
                public int read(int offset, int size) {
                    return 0;
                }

                @Override
                public void write(int offset, int size, int value) {
                    written[0]++;
                    out.write(value);
                }
            });
            return new Device() {
                @Override
                public String name() {
                    return ctx.instanceName();
                }

                @Override
                public void reset() {
                }

                @Override
                public SavedState saveState() {
                    return SavedState.builder("toy-console", 1).put("written", written[0]).build();
                }

                @Override
                public void restoreState(SavedState s) {
                    s.require("toy-console", 1, 1);
                    written[0] = s.getLong("written");
                }

                @Override
                public java.util.List<String> resources() {
                    return java.util.List.of("io 0x3f8");
                }

                @Override
                public Map<String, Long> stats() {
                    return Map.of("written", written[0]);
                }

                @Override
                public void close() {
                    r.close();
                }
            };
        }
    }

    /** isa-debug-exit at 0xF4. */
    static final class ExitModel implements DeviceModel {
        @Override
        public String name() {
            return "toy-exit";
        }

        @Override
        public String description() {
            return "test exit port";
        }

        @Override
        public Availability availability() {
            return Availability.yes();
        }

        @Override
        public Device create(DeviceContext ctx) {
            Registration r = ctx.ports().map(0xF4, 1, ctx.instanceName(), new PortDevice() {
                @Override
                public int read(int offset, int size) {
                    return 0xFF;
                }

                @Override
                public void write(int offset, int size, int value) {
                    ctx.control().powerOff((value << 1) | 1);
                }
            });
            return new Device() {
                @Override
                public String name() {
                    return ctx.instanceName();
                }

                @Override
                public void reset() {
                }

                @Override
                public SavedState saveState() {
                    return SavedState.builder("toy-exit", 1).build();
                }

                @Override
                public void restoreState(SavedState s) {
                }

                @Override
                public java.util.List<String> resources() {
                    return java.util.List.of("io 0xf4");
                }

                @Override
                public void close() {
                    r.close();
                }
            };
        }
    }
}
