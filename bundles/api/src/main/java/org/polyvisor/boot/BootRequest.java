package org.polyvisor.boot;

import java.util.List;
import java.util.Objects;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.memory.GuestMemory;

/**
 * What a boot loader is asked to load, and where.
 *
 * @param vmName     the VM's name, for messages
 * @param kernel     the kernel image
 * @param initrds    the initial RAM disks (Linux: concatenated, as the kernel accepts several cpio
 *                   archives back to back) or Multiboot modules, in order; may be empty
 * @param cmdline    the kernel command line
 * @param memory     the VM's guest memory, laid out and zeroed (firmware ROM, if any, already mapped)
 * @param resetState the boot vCPU's power-on state (CPU model signature in EDX), to start from
 * @param vcpus      the number of vCPUs of the VM
 * @param apic       whether the VM's interrupt controller gives each vCPU a local APIC (at
 *                   0xFEE00000, APIC ID = vCPU index) and has an IOAPIC (ID 0 at 0xFEC00000, ISA
 *                   IRQ 0 on pin 2, other ISA IRQs on the pin of their number): then the loader,
 *                   playing the firmware's part, describes them to the kernel (an Intel MP table)
 */
public record BootRequest(String vmName, BootImage kernel, List<BootImage> initrds, String cmdline,
                          GuestMemory memory, CpuState resetState, int vcpus, boolean apic) {

    /** Validates the fields and copies the list. */
    public BootRequest {
        Objects.requireNonNull(vmName, "vmName");
        Objects.requireNonNull(kernel, "kernel");
        initrds = initrds == null ? List.of() : List.copyOf(initrds);
        cmdline = cmdline == null ? "" : cmdline;
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(resetState, "resetState");
    }

    /**
     * A request for a VM without local APICs (as before the {@code apic} component existed).
     *
     * @param vmName     the VM's name
     * @param kernel     the kernel image
     * @param initrds    initial RAM disks or modules
     * @param cmdline    the command line
     * @param memory     the guest memory
     * @param resetState the boot vCPU's power-on state
     * @param vcpus      the number of vCPUs
     */
    public BootRequest(String vmName, BootImage kernel, List<BootImage> initrds, String cmdline, GuestMemory memory,
                       CpuState resetState, int vcpus) {
        this(vmName, kernel, initrds, cmdline, memory, resetState, vcpus, false);
    }

    /**
     * Parses the configured {@code initrd} value: a comma-separated list, each item a path
     * optionally followed by blank-separated arguments (QEMU's {@code -initrd} syntax for
     * Multiboot modules: {@code "mod1.bin arg1,mod2.bin"}).
     *
     * @param initrd the configured value, may be empty
     * @return the items as {path, args} pairs, in order
     */
    public static List<String[]> parseInitrdList(String initrd) {
        if (initrd == null || initrd.isBlank()) {
            return List.of();
        }
        java.util.ArrayList<String[]> out = new java.util.ArrayList<>();
        for (String item : initrd.split(",")) {
            String t = item.trim();
            if (t.isEmpty()) {
                continue;
            }
            int sp = indexOfBlank(t);
            out.add(sp < 0 ? new String[] {t, ""} : new String[] {t.substring(0, sp), t.substring(sp + 1).trim()});
        }
        return out;
    }

    private static int indexOfBlank(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isWhitespace(s.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Returns a message prefix naming the VM and the kernel, e.g. {@code vm 'a': kernel 'bz': }.
     *
     * @return the prefix
     */
    public String who() {
        return "vm '" + vmName + "': kernel '" + kernel.path() + "': ";
    }
}
