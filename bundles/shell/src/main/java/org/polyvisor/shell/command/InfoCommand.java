package org.polyvisor.shell.command;

import java.util.List;
import java.io.PrintStream;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.vm.DeviceInfo;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.DeviceSpec;
import org.polyvisor.vm.PartInfo;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConfig;
import org.polyvisor.vm.VmException;
import org.polyvisor.vm.VmState;
import org.polyvisor.vm.VmStatus;

/**
 * {@code vm:info}: a VM's configuration and status, its devices with the resources they occupy,
 * and, when its vCPUs are stopped (paused, stopped, crashed), their registers.
 */
@Command(scope = "vm", name = "info", description = "Shows a VM's configuration, status, devices and (when paused) vCPU registers.")
@Service
public class InfoCommand extends VmCommandSupport {

    @Argument(index = 0, name = "name", description = "The VM", required = true)
    @Completion(VmNameCompleter.class)
    String name;


    @Argument(index = 1, name = "options", description = "Options may also follow the VM name", multiValued = true)
    List<String> trailing;

    @Option(name = "--no-format", description = "Plain output without table borders (for scripts)")
    boolean noFormat;

    @Override
    public Object execute() throws Exception {
        TrailingOptions.apply(this, trailing);
        Vm vm = getExisting(name);
        VmConfig c = vm.config();
        VmStatus s = vm.status();
        PrintStream out = System.out;

        ShellTable general = new ShellTable().noHeaders();
        general.column("Property");
        general.column("Value");
        general.addRow().addContent("Name", vm.name());
        general.addRow().addContent("State", s.describe());
        general.addRow().addContent("Uptime", Formats.duration(s.uptime()));
        general.addRow().addContent("CPU", c.cpu());
        general.addRow().addContent("CPU model", c.cpuModel().isEmpty() ? "default (of the CPU strategy)" : c.cpuModel());
        general.addRow().addContent("MMU", Formats.orDash(c.mmu()));
        String inUse = mmuInUse(c, vmManager.parts());
        if (inUse != null) {
            general.addRow().addContent("MMU in use", inUse);
        }
        if (!c.options().isEmpty()) {
            general.addRow().addContent("Part options", String.join(", ", c.options().entrySet().stream()
                    .map(e -> e.getKey() + "=" + e.getValue()).toList()));
        }
        general.addRow().addContent("IRQ chip", Formats.orDash(c.irqchip()));
        general.addRow().addContent("Devices", c.devices().isEmpty() ? "-"
                : String.join(", ", c.devices().stream().map(DeviceSpec::toString).toList()));
        general.addRow().addContent("Memory", VmConfig.formatSize(c.memoryBytes()));
        general.addRow().addContent("vCPUs", c.vcpus());
        general.addRow().addContent("Firmware", Formats.orDash(c.firmware()));
        general.addRow().addContent("Kernel", Formats.orDash(c.kernel()));
        general.addRow().addContent("Initrd", Formats.orDash(c.initrd()));
        general.addRow().addContent("Command line", Formats.orDash(c.cmdline()));
        general.addRow().addContent("Clock", c.clock().name().toLowerCase(java.util.Locale.ROOT));
        general.addRow().addContent("Autostart", c.autostart());
        general.addRow().addContent("Console output", Formats.count(vm.console().totalOutput()) + " bytes");
        general.addRow().addContent("Log output", Formats.count(vm.log().totalOutput()) + " bytes (vm:console --log)");
        general.print(out, !noFormat);

        out.println();
        out.println("Devices");
        ShellTable devices = new ShellTable();
        devices.column("Instance");
        devices.column("Model");
        devices.column("Resources");
        devices.emptyTableText(s.state() == VmState.RUNNING || s.state() == VmState.PAUSED
                ? "no devices" : "not assembled (the VM is " + s.state().label() + ")");
        for (DeviceInfo d : vm.devices()) {
            devices.addRow().addContent(d.instance(), d.model(), String.join(", ", d.resources()));
        }
        devices.print(out, !noFormat);

        if (s.state() == VmState.PAUSED || s.state() == VmState.CRASHED || s.state() == VmState.STOPPED) {
            for (int i = 0; i < c.vcpus(); i++) {
                CpuState cpu;
                try {
                    cpu = vm.cpuState(i);
                } catch (VmException e) {
                    continue; // never started: nothing to show
                }
                out.println();
                out.println("vCPU " + i + " (" + s.state().label() + ")");
                printRegisters(out, cpu);
            }
        }
        return null;
    }

    /**
     * Says what translates guest memory when the VM's CPU strategy does it itself: a hardware-assisted
     * strategy reports it as its host feature {@code guest-mmu} (for KVM: the host's KVM with EPT, NPT
     * or shadow paging), and a software MMU named in the configuration then only waits for a swap.
     *
     * @param c     the VM's configuration
     * @param parts the registered parts
     * @return the text, or null when the configured MMU (or none) is what translates
     */
    static String mmuInUse(VmConfig c, List<PartInfo> parts) {
        for (PartInfo p : parts) {
            if (p.kind() == PartKind.CPU && p.name().equals(c.cpu())) {
                String f = p.hostFeatures().get("guest-mmu");
                if (f == null) {
                    return null;
                }
                return f + (c.mmu().isEmpty() ? "" : " (mmu '" + c.mmu() + "' is used after a swap to a software engine)");
            }
        }
        return null;
    }

    static void printRegisters(PrintStream out, CpuState s) {
        String[] gpr = {"EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI"};
        StringBuilder sb = new StringBuilder("  ");
        for (int i = 0; i < 8; i++) {
            sb.append(String.format("%-3s %s  ", gpr[i], Formats.hex(s.gpr(i))));
            if (i == 3) {
                sb.append(System.lineSeparator()).append("  ");
            }
        }
        out.println(sb.toString().stripTrailing());
        out.printf("  EIP %s  EFLAGS %s  CS:EIP %s  %s mode  %s%n", Formats.hex(s.rip()), Formats.hex(s.rflags()),
                s.location(), s.protectedMode() ? "protected" : "real", s.activity().name().toLowerCase(java.util.Locale.ROOT));
        String[] seg = {"ES", "CS", "SS", "DS", "FS", "GS"};
        for (int i = 0; i < seg.length; i++) {
            var r = s.segment(i);
            out.printf("  %-4s %04x  base %s  limit %08x  attr %05x%n", seg[i], r.selector(), Formats.hex(r.base()),
                    r.limit(), r.attributes());
        }
        out.printf("  LDTR %04x  TR %04x  GDTR %s/%04x  IDTR %s/%04x%n", s.ldtr().selector(), s.tr().selector(),
                Formats.hex(s.gdtr().base()), s.gdtr().limit(), Formats.hex(s.idtr().base()), s.idtr().limit());
        out.printf("  CR0 %s  CR2 %s  CR3 %s  CR4 %s  EFER %s%n", Formats.hex(s.cr0()), Formats.hex(s.cr2()),
                Formats.hex(s.cr3()), Formats.hex(s.cr4()), Formats.hex(s.efer()));
        out.printf("  TSC %d%n", s.tsc());
    }
}
