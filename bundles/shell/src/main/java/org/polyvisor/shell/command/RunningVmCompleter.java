package org.polyvisor.shell.command;

import java.util.EnumSet;
import java.util.Set;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.VmState;

/** Completes the names of running VMs. */
@Service
public class RunningVmCompleter extends Completers.VmNames {

    @Override
    protected Set<VmState> states() {
        return EnumSet.of(VmState.RUNNING);
    }
}
