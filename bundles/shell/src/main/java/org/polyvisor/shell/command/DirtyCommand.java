package org.polyvisor.shell.command;

import java.util.BitSet;
import java.util.Locale;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.completers.StringsCompleter;
import org.polyvisor.mmu.DirtyPageLog;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmState;

/**
 * {@code vm:dirty}: dirty-page logging through the VM's MMU (the {@code slat} nested table), as
 * snapshots and migration use it: {@code start}, {@code collect} (pages written since the previous
 * collect, and a new round), {@code status}, {@code stop}.
 */
@Command(scope = "vm", name = "dirty", description = "Dirty-page logging through the VM's MMU: start, collect (pages written since the last collect), status, stop.")
@Service
public class DirtyCommand extends VmCommandSupport {

    /** What the command can do with the log. */
    enum Action {
        START, COLLECT, STATUS, STOP
    }

    @Argument(index = 0, name = "name", description = "The VM (running or paused)", required = true)
    @Completion(ActiveVmCompleter.class)
    String name;

    @Argument(index = 1, name = "action", description = "start, collect, status or stop (default: status)")
    @Completion(value = StringsCompleter.class, values = {"start", "collect", "status", "stop"})
    String action = "status";

    @Override
    public Object execute() {
        System.out.println(run(getExisting(name), parse(action)));
        return null;
    }

    static Action parse(String text) {
        try {
            return Action.valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CommandFailure("unknown action '" + text + "': expected one of start, collect, status, stop");
        }
    }

    /**
     * Applies an action to a VM's dirty log.
     *
     * @param vm     the VM
     * @param action what to do
     * @return the line to print
     * @throws CommandFailure if the VM's MMU keeps no dirty log (not assembled, or not {@code slat})
     */
    static String run(Vm vm, Action action) {
        String mmu = vm.config().mmu().isEmpty() ? "none" : vm.config().mmu();
        VmState state = vm.status().state();
        DirtyPageLog log = vm.dirtyLog().orElseThrow(() -> new CommandFailure("vm '" + vm.name()
                + "' has no dirty-page log: " + (state == VmState.RUNNING || state == VmState.PAUSED
                ? "its MMU (" + mmu + ") keeps none; the slat nested table does (vm:swap " + vm.name() + " --mmu slat)"
                : "it is " + state.toString().toLowerCase(Locale.ROOT) + ", not running or paused")));
        switch (action) {
            case START -> {
                log.start();
                return "vm '" + vm.name() + "': dirty-page logging started (every page counts as clean)";
            }
            case STOP -> {
                log.stop();
                return "vm '" + vm.name() + "': dirty-page logging stopped";
            }
            case COLLECT -> {
                if (!log.active()) {
                    throw new CommandFailure("vm '" + vm.name() + "': dirty-page logging is not started (vm:dirty "
                            + vm.name() + " start)");
                }
                BitSet pages = log.collect();
                return "vm '" + vm.name() + "': " + pages.cardinality() + " dirty pages (" + ranges(pages) + ")";
            }
            default -> {
                return "vm '" + vm.name() + "': dirty-page logging " + (log.active() ? "on" : "off");
            }
        }
    }

    /** The first few runs of page frames, as guest-physical address ranges. */
    static String ranges(BitSet pages) {
        StringBuilder b = new StringBuilder();
        int shown = 0;
        for (int p = pages.nextSetBit(0); p >= 0 && shown < 8; shown++) {
            int end = pages.nextClearBit(p);
            b.append(shown == 0 ? "" : ", ").append(String.format("0x%x-0x%x", (long) p << 12, ((long) end << 12) - 1));
            p = pages.nextSetBit(end);
        }
        int runs = 0;
        for (int p = pages.nextSetBit(0); p >= 0; p = pages.nextSetBit(pages.nextClearBit(p))) {
            runs++;
        }
        if (runs > shown) {
            b.append(", ... ").append(runs - shown).append(" more ranges");
        }
        return b.length() == 0 ? "none" : b.toString();
    }
}
