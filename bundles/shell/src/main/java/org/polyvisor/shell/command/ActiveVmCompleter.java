package org.polyvisor.shell.command;

import java.util.EnumSet;
import java.util.Set;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.VmState;

/** Completes the names of running or paused VMs. */
@Service
public class ActiveVmCompleter extends Completers.VmNames {

    @Override
    protected Set<VmState> states() {
        return EnumSet.of(VmState.RUNNING, VmState.PAUSED);
    }
}
