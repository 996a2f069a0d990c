package org.polyvisor.shell.command;

import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.Vm;

/** {@code vm:stop}: Stops VMs (power off without the guest's consent) and releases their parts. */
@Command(scope = "vm", name = "stop", description = "Stops VMs (power off without the guest's consent) and releases their parts.")
@Service
public class StopCommand extends MultiVmCommandSupport {

    @Argument(index = 0, name = "names", description = "The VMs to stop", required = true, multiValued = true)
    @Completion(ActiveVmCompleter.class)
    List<String> names;

    @Override
    protected List<String> names() {
        return names;
    }

    @Override
    protected String apply(Vm vm) {
        vm.stop();
        return vm.status().describe();
    }

    @Override
    protected String verb() {
        return "stop";
    }
}
