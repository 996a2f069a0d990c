package org.polyvisor.shell.command;

import java.util.List;
import java.util.Set;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.PartInfo;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmManager;
import org.polyvisor.vm.VmState;

/** Support classes of the completers; the registered completers are top-level classes. */
final class Completers {

    private Completers() {
    }

    /** Completes the names of VMs in some states. */
    abstract static class VmNames implements Completer {

        @Reference
        protected VmManager vmManager;

        /** @return the states whose VMs are offered */
        protected abstract Set<VmState> states();

        @Override
        public int complete(Session session, CommandLine commandLine, List<String> candidates) {
            StringsCompleter delegate = new StringsCompleter();
            Set<VmState> states = states();
            for (Vm vm : vmManager.list()) {
                if (states.contains(vm.status().state())) {
                    delegate.getStrings().add(vm.name());
                }
            }
            return delegate.complete(session, commandLine, candidates);
        }
    }

    /** Completes the names of the available parts of one kind. */
    abstract static class PartNames implements Completer {

        @Reference
        protected VmManager vmManager;

        /** @return the kind offered */
        protected abstract PartKind kind();

        @Override
        public int complete(Session session, CommandLine commandLine, List<String> candidates) {
            StringsCompleter delegate = new StringsCompleter();
            for (PartInfo part : vmManager.parts()) {
                if (part.kind() == kind() && part.availability().available()) {
                    delegate.getStrings().add(part.name());
                }
            }
            return delegate.complete(session, commandLine, candidates);
        }
    }

}
