package org.polyvisor.shell.command;

import java.util.ArrayList;
import java.util.List;
import org.polyvisor.vm.Vm;

/**
 * Base of the commands that act on several VMs at once ({@code vm:start a b c}): each VM is
 * handled in turn, and the failures are collected and reported together at the end, so one bad
 * name does not stop the others.
 */
public abstract class MultiVmCommandSupport extends VmCommandSupport {

    /** @return the VM names given on the command line */
    protected abstract List<String> names();

    /**
     * Applies the operation to one VM.
     *
     * @param vm the VM
     * @return what to print on success, e.g. {@code started}
     */
    protected abstract String apply(Vm vm);

    /** @return the verb for the summary of failures, e.g. {@code start} */
    protected abstract String verb();

    @Override
    public Object execute() throws Exception {
        List<String> failures = new ArrayList<>();
        for (String name : names()) {
            try {
                Vm vm = getExisting(name);
                String done = apply(vm);
                System.out.println("vm '" + name + "': " + done);
            } catch (RuntimeException e) {
                failures.add(Messages.describe(name, e));
            }
        }
        if (!failures.isEmpty()) {
            throw new CommandFailure(Messages.summary("cannot " + verb(), failures));
        }
        return null;
    }
}
