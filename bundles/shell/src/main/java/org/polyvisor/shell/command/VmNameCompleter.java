package org.polyvisor.shell.command;

import java.util.EnumSet;
import java.util.Set;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.vm.VmState;

/** Completes the names of all VMs. */
@Service
public class VmNameCompleter extends Completers.VmNames {

    @Override
    protected Set<VmState> states() {
        return EnumSet.allOf(VmState.class);
    }
}
