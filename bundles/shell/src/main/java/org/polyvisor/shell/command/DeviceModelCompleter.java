package org.polyvisor.shell.command;

import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.part.PartKind;

/** Completes the names of the available device models. */
@Service
public class DeviceModelCompleter extends Completers.PartNames {

    @Override
    protected PartKind kind() {
        return PartKind.DEVICE;
    }
}
