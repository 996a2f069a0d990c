package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.BitSet;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.polyvisor.mmu.DirtyPageLog;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

class DirtyCommandTest {

    /** A log over a fixed set of written pages: what collect returns, and whether it is on. */
    private static final class Log implements DirtyPageLog {
        boolean on;
        BitSet written = new BitSet();

        @Override
        public void start() {
            on = true;
        }

        @Override
        public void stop() {
            on = false;
        }

        @Override
        public boolean active() {
            return on;
        }

        @Override
        public BitSet collect() {
            BitSet out = written;
            written = new BitSet();
            return out;
        }
    }

    private static Vm vm(String mmu, VmState state, DirtyPageLog log) {
        VmConfig config = VmConfig.builder("g1").mmu(mmu).firmware("x.rom").build();
        return (Vm) Proxy.newProxyInstance(Vm.class.getClassLoader(), new Class<?>[] {Vm.class}, (p, m, a) -> switch (m.getName()) {
            case "name" -> "g1";
            case "config" -> config;
            case "status" -> new VmStatus(state, "", java.time.Duration.ZERO, java.util.OptionalInt.empty());
            case "dirtyLog" -> Optional.ofNullable(log);
            default -> throw new UnsupportedOperationException(m.getName());
        });
    }

    @Test
    void startCollectStatusStop() {
        Log log = new Log();
        Vm vm = vm("slat", VmState.RUNNING, log);
        assertEquals("vm 'g1': dirty-page logging off", DirtyCommand.run(vm, DirtyCommand.parse("status")));
        assertTrue(DirtyCommand.run(vm, DirtyCommand.parse("Start")).contains("started"));
        log.written.set(0x100, 0x104);
        log.written.set(0x200);
        assertEquals("vm 'g1': 5 dirty pages (0x100000-0x103fff, 0x200000-0x200fff)",
                DirtyCommand.run(vm, DirtyCommand.Action.COLLECT));
        assertEquals("vm 'g1': 0 dirty pages (none)", DirtyCommand.run(vm, DirtyCommand.Action.COLLECT));
        assertEquals("vm 'g1': dirty-page logging on", DirtyCommand.run(vm, DirtyCommand.Action.STATUS));
        DirtyCommand.run(vm, DirtyCommand.Action.STOP);
        CommandFailure e = assertThrows(CommandFailure.class, () -> DirtyCommand.run(vm, DirtyCommand.Action.COLLECT));
        assertTrue(e.getMessage().contains("not started"), e.getMessage());
    }

    @Test
    void anMmuWithoutALogOrAStoppedVmIsRefusedWithTheReason() {
        CommandFailure e = assertThrows(CommandFailure.class,
                () -> DirtyCommand.run(vm("shadow", VmState.RUNNING, null), DirtyCommand.Action.START));
        assertTrue(e.getMessage().contains("its MMU (shadow) keeps none") && e.getMessage().contains("--mmu slat"),
                e.getMessage());
        e = assertThrows(CommandFailure.class, () -> DirtyCommand.run(vm("slat", VmState.STOPPED, null),
                DirtyCommand.Action.START));
        assertTrue(e.getMessage().contains("it is stopped"), e.getMessage());
        e = assertThrows(CommandFailure.class, () -> DirtyCommand.parse("flush"));
        assertTrue(e.getMessage().contains("unknown action 'flush'"), e.getMessage());
    }

    @Test
    void longListsAreShortened() {
        BitSet b = new BitSet();
        for (int i = 0; i < 20; i++) {
            b.set(i * 2);
        }
        assertTrue(DirtyCommand.ranges(b).endsWith(", ... 12 more ranges"), DirtyCommand.ranges(b));
    }
}
