package org.polyvisor.shell.command;

import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.part.PartKind;

/** Completes the names of the available interrupt-controller strategies. */
@Service
public class IrqChipStrategyCompleter extends Completers.PartNames {

    @Override
    protected PartKind kind() {
        return PartKind.IRQCHIP;
    }
}
