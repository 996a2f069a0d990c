package org.polyvisor.shell.command;

import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.Vm;

/** {@code vm:destroy}: stops VMs if needed and removes their definitions. */
@Command(scope = "vm", name = "destroy", description = "Stops VMs if needed and deletes their definitions (their configuration).")
@Service
public class DestroyCommand extends MultiVmCommandSupport {

    @Argument(index = 0, name = "names", description = "The VMs to destroy", required = true, multiValued = true)
    @Completion(VmNameCompleter.class)
    List<String> names;

    @Override
    protected List<String> names() {
        return names;
    }

    @Override
    protected String apply(Vm vm) {
        vmManager.destroy(vm.name());
        return "destroyed";
    }

    @Override
    protected String verb() {
        return "destroy";
    }
}
