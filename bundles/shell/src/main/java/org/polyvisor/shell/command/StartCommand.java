package org.polyvisor.shell.command;

import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.Vm;

/** {@code vm:start}: powers VMs on. */
@Command(scope = "vm", name = "start", description = "Starts VMs from power-on (defined, stopped or crashed ones).")
@Service
public class StartCommand extends MultiVmCommandSupport {

    @Argument(index = 0, name = "names", description = "The VMs to start", required = true, multiValued = true)
    @Completion(StartableVmCompleter.class)
    List<String> names;

    @Override
    protected List<String> names() {
        return names;
    }

    @Override
    protected String apply(Vm vm) {
        vm.start();
        return vm.status().describe();
    }

    @Override
    protected String verb() {
        return "start";
    }
}
