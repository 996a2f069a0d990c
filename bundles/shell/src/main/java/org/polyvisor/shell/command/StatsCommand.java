package org.polyvisor.shell.command;

import java.util.List;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmStats;

/** {@code vm:stats}: instructions retired, exits by reason, time by state and per-part counters. */
@Command(scope = "vm", name = "stats", description = "Shows a VM's statistics: instructions retired, exits by reason, time by state, per-part counters.")
@Service
public class StatsCommand extends VmCommandSupport {

    @Argument(index = 0, name = "name", description = "The VM", required = true)
    @Completion(VmNameCompleter.class)
    String name;


    @Argument(index = 1, name = "options", description = "Options may also follow the VM name", multiValued = true)
    List<String> trailing;

    @Option(name = "--no-format", description = "Plain output without table borders (for scripts)")
    boolean noFormat;

    @Override
    public Object execute() throws Exception {
        TrailingOptions.apply(this, trailing);
        Vm vm = getExisting(name);
        VmStats stats = vm.stats();
        PrintStream out = System.out;

        Duration running = stats.timeByState().get("running");
        ShellTable summary = new ShellTable().noHeaders();
        summary.column("Counter");
        summary.column("Value");
        summary.addRow().addContent("State", vm.status().describe());
        summary.addRow().addContent("Instructions retired", Formats.count(stats.instructionsRetired()));
        summary.addRow().addContent("Instructions per second (running)", Formats.rate(stats.instructionsRetired(), running));
        summary.addRow().addContent("Exits", Formats.count(stats.exitsByReason().values().stream().mapToLong(Long::longValue).sum()));
        summary.print(out, !noFormat);

        out.println();
        ShellTable exits = new ShellTable();
        exits.column("Exit reason");
        exits.column("Count").alignRight();
        exits.emptyTableText("no exits");
        stats.exitsByReason().forEach((reason, n) -> exits.addRow().addContent(reason, Formats.count(n)));
        exits.print(out, !noFormat);

        out.println();
        ShellTable times = new ShellTable();
        times.column("vCPU state");
        times.column("Time").alignRight();
        times.emptyTableText("no time recorded");
        stats.timeByState().forEach((state, d) -> times.addRow().addContent(state, Formats.duration(d)));
        times.print(out, !noFormat);

        out.println();
        ShellTable parts = new ShellTable();
        parts.column("Part");
        parts.column("Counter");
        parts.column("Value").alignRight();
        parts.emptyTableText("no part counters");
        for (Map.Entry<String, Map<String, Long>> part : stats.parts().entrySet()) {
            part.getValue().forEach((counter, v) -> parts.addRow().addContent(part.getKey(), counter, Formats.count(v)));
        }
        parts.print(out, !noFormat);
        return null;
    }
}
