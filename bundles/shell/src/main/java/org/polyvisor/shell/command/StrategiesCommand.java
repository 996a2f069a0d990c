package org.polyvisor.shell.command;

import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.completers.StringsCompleter;
import org.apache.karaf.shell.support.table.ShellTable;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.PartInfo;

/**
 * {@code vm:strategies}: every registered CPU, MMU, interrupt-controller and device provider,
 * whether it can run on this host and why not, its bundle and the host features it probed.
 */
@Command(scope = "vm", name = "strategies", description = "Lists every registered CPU/MMU/IRQ chip/device provider with its availability on this host.")
@Service
public class StrategiesCommand extends VmCommandSupport {

    @Option(name = "--kind", aliases = "-k", description = "Only this kind: cpu, mmu, irqchip or device")
    @Completion(value = StringsCompleter.class, values = {"cpu", "mmu", "irqchip", "device"})
    String kind;

    @Option(name = "--no-format", description = "Plain output without table borders (for scripts)")
    boolean noFormat;

    @Override
    public Object execute() throws Exception {
        PartKind only;
        try {
            only = kind == null ? null : PartKind.fromKey(kind);
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage());
        }
        ShellTable table = new ShellTable();
        table.column("Kind");
        table.column("Name");
        table.column("Available");
        table.column("Reason / note").maxSize(60).wrap();
        table.column("Provider");
        table.column("Host features").maxSize(40).wrap();
        table.column("Description").maxSize(50).wrap();
        table.emptyTableText("no parts registered");
        for (PartInfo p : vmManager.parts()) {
            if (only != null && p.kind() != only) {
                continue;
            }
            table.addRow().addContent(p.kind().key(), p.name(), p.availability().available() ? "yes" : "no",
                    Formats.orDash(p.availability().reason()), p.provider(), Formats.keyValues(p.hostFeatures()),
                    Formats.orDash(p.description()));
        }
        table.print(System.out, !noFormat);
        return null;
    }
}
