package org.polyvisor.shell.command;

import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmStatus;

/** {@code vm:list}: the defined VMs with their parts, state and uptime. */
@Command(scope = "vm", name = "list", description = "Lists the defined VMs with their parts, state and uptime.")
@Service
public class ListCommand extends VmCommandSupport {

    @Option(name = "--no-format", description = "Plain output without table borders (for scripts)")
    boolean noFormat;

    @Override
    public Object execute() throws Exception {
        ShellTable table = new ShellTable();
        table.column("Name");
        table.column("CPU");
        table.column("MMU");
        table.column("IRQ chip");
        table.column("Memory");
        table.column("vCPUs");
        table.column("State");
        table.column("Uptime");
        table.emptyTableText("no VMs defined (vm:create defines one)");
        for (Vm vm : vmManager.list()) {
            VmConfig c = vm.config();
            VmStatus s = vm.status();
            table.addRow().addContent(vm.name(), c.cpu(), Formats.orDash(c.mmu()), Formats.orDash(c.irqchip()),
                    VmConfig.formatSize(c.memoryBytes()), c.vcpus(), s.describe(), Formats.duration(s.uptime()));
        }
        table.print(System.out, !noFormat);
        return null;
    }
}
