package org.polyvisor.shell.command;

import java.util.EnumSet;
import java.util.Set;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.VmState;

/** Completes the names of VMs that can be started (defined, stopped or crashed). */
@Service
public class StartableVmCompleter extends Completers.VmNames {

    @Override
    protected Set<VmState> states() {
        return EnumSet.of(VmState.DEFINED, VmState.STOPPED, VmState.CRASHED);
    }
}
