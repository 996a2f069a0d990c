package org.polyvisor.shell.command;

import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.Vm;

/** {@code vm:resume}: Resumes paused VMs. */
@Command(scope = "vm", name = "resume", description = "Resumes paused VMs.")
@Service
public class ResumeCommand extends MultiVmCommandSupport {

    @Argument(index = 0, name = "names", description = "The VMs to resume", required = true, multiValued = true)
    @Completion(PausedVmCompleter.class)
    List<String> names;

    @Override
    protected List<String> names() {
        return names;
    }

    @Override
    protected String apply(Vm vm) {
        vm.resume();
        return vm.status().describe();
    }

    @Override
    protected String verb() {
        return "resume";
    }
}
