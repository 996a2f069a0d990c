package org.polyvisor.shell.command;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;

/**
 * {@code vm:swap}: replaces parts of a running (or paused) VM: pauses it at an instruction
 * boundary, moves the part's state into a new instance of the named strategy, resumes.
 */
@Command(scope = "vm", name = "swap", description = "Replaces a part (CPU, MMU, interrupt controller) of a VM while the guest runs.",
        detailedDescription = "Example: vm:swap demo --cpu interpreter")
@Service
public class SwapCommand extends VmCommandSupport {

    @Argument(index = 0, name = "name", description = "The VM", required = true)
    @Completion(ActiveVmCompleter.class)
    String name;


    @Argument(index = 1, name = "options", description = "Options may also follow the VM name", multiValued = true)
    List<String> trailing;

    @Option(name = "--cpu", description = "New CPU strategy")
    @Completion(CpuStrategyCompleter.class)
    String cpu;

    @Option(name = "--mmu", description = "New MMU strategy")
    @Completion(MmuStrategyCompleter.class)
    String mmu;

    @Option(name = "--irqchip", description = "New interrupt-controller strategy")
    @Completion(IrqChipStrategyCompleter.class)
    String irqchip;

    @Override
    public Object execute() throws Exception {
        TrailingOptions.apply(this, trailing);
        Map<PartKind, String> swaps = new LinkedHashMap<>();
        if (cpu != null) {
            swaps.put(PartKind.CPU, cpu);
        }
        if (mmu != null) {
            swaps.put(PartKind.MMU, mmu);
        }
        if (irqchip != null) {
            swaps.put(PartKind.IRQCHIP, irqchip);
        }
        if (swaps.isEmpty()) {
            throw new CommandFailure("nothing to swap: give --cpu, --mmu or --irqchip");
        }
        Vm vm = getExisting(name);
        List<String> failures = new ArrayList<>();
        for (Map.Entry<PartKind, String> swap : swaps.entrySet()) {
            String before = current(vm.config(), swap.getKey());
            long t0 = System.nanoTime();
            try {
                vm.swap(swap.getKey(), swap.getValue());
                long micros = (System.nanoTime() - t0) / 1000;
                System.out.printf("vm '%s': %s %s -> %s (%d.%03d ms), %s%n", name, swap.getKey().key(),
                        Formats.orDash(before), swap.getValue(), micros / 1000, micros % 1000, vm.status().describe());
            } catch (RuntimeException e) {
                failures.add(Messages.describe(name, e));
            }
        }
        if (!failures.isEmpty()) {
            throw new CommandFailure(String.join(System.lineSeparator(), failures));
        }
        return null;
    }

    private static String current(VmConfig c, PartKind kind) {
        return switch (kind) {
            case CPU -> c.cpu();
            case MMU -> c.mmu();
            case IRQCHIP -> c.irqchip();
            case DEVICE -> "";
        };
    }
}
