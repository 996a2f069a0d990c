package org.polyvisor.shell.command;

import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmManager;

/**
 * Base of the {@code vm:*} commands: holds the {@link VmManager} and finds VMs by name with a
 * clear message when there is none.
 */
public abstract class VmCommandSupport implements Action {

    @Reference
    protected VmManager vmManager;

    /**
     * Finds a VM or fails with a message that names the VMs there are.
     *
     * @param name the VM name
     * @return the VM
     * @throws VmException if no VM has that name
     */
    protected Vm getExisting(String name) {
        return vmManager.get(name).orElseThrow(() -> new VmException(noSuchVm(name)));
    }

    /**
     * Builds the message for an unknown VM name.
     *
     * @param name the name asked for
     * @return e.g. {@code no VM named 'dmeo' (defined: demo, test)}
     */
    protected String noSuchVm(String name) {
        String known = vmManager.list().stream().map(Vm::name).collect(Collectors.joining(", "));
        return "no VM named '" + name + "'" + (known.isEmpty() ? " (no VMs are defined)" : " (defined: " + known + ")");
    }
}
