package org.polyvisor.shell.command;

import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.Vm;

/** {@code vm:pause}: Pauses running VMs at an instruction boundary, keeping all their state. */
@Command(scope = "vm", name = "pause", description = "Pauses running VMs at an instruction boundary, keeping all their state.")
@Service
public class PauseCommand extends MultiVmCommandSupport {

    @Argument(index = 0, name = "names", description = "The VMs to pause", required = true, multiValued = true)
    @Completion(RunningVmCompleter.class)
    List<String> names;

    @Override
    protected List<String> names() {
        return names;
    }

    @Override
    protected String apply(Vm vm) {
        vm.pause();
        return vm.status().describe();
    }

    @Override
    protected String verb() {
        return "pause";
    }
}
