package org.polyvisor.core.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/** The metatype of a VM definition (factory PID {@code org.polyvisor.vm}). */
@ObjectClassDefinition(id = ConfigMapping.FACTORY_PID, name = "Polyvisor virtual machine",
        description = "One virtual machine: the parts it is assembled from and what it boots.")
@interface VmDefinition {

    @AttributeDefinition(name = "Name", description = "Unique VM name: letters, digits, '.', '_' and '-'.")
    String name();

    @AttributeDefinition(name = "CPU strategy", description = "How guest instructions run, e.g. interpreter.")
    String cpu() default "interpreter";

    @AttributeDefinition(name = "CPU model", required = false,
            description = "The processor the guest sees (CPUID, MSRs): a built-in model of the CPU strategy, e.g. "
                    + "default, pentium-pro, pentium2, pentium3; empty for the strategy's default.")
    String cpu_model() default "";

    @AttributeDefinition(name = "CPU vendor", required = false,
            description = "Overrides the model's 12-character vendor string, e.g. GenuineIntel.")
    String cpu_vendor() default "";

    @AttributeDefinition(name = "CPU family", required = false, description = "Overrides the model's family.")
    String cpu_family() default "";

    @AttributeDefinition(name = "CPU model number", required = false,
            description = "Overrides the model number (CPUID leaf 1 EAX bits 7:4 and 19:16).")
    String cpu_model$_$number() default "";

    @AttributeDefinition(name = "CPU stepping", required = false, description = "Overrides the stepping (0 to 15).")
    String cpu_stepping() default "";

    @AttributeDefinition(name = "CPU brand string", required = false,
            description = "Overrides the brand string (CPUID 0x80000002-4, Linux's \"model name\"): at most 47 "
                    + "characters, no commas.")
    String cpu_brand() default "";

    @AttributeDefinition(name = "CPU features", required = false,
            description = "Edits the model's feature flags: +name adds, -name removes, e.g. +pse36,-sep. "
                    + "Features the engine does not implement are refused.")
    String cpu_features() default "";

    @AttributeDefinition(name = "MMU strategy", required = false,
            description = "Memory virtualisation (shadow, slat); empty for the engine's own page walk.")
    String mmu() default "";

    @AttributeDefinition(name = "Interrupt controller", required = false,
            description = "Interrupt controller strategy, e.g. pic; empty for none.")
    String irqchip() default "";

    @AttributeDefinition(name = "Devices", required = false,
            description = "Comma-separated device models with options, e.g. uart16550, debug-exit(port=0xf4).")
    String devices() default "";

    @AttributeDefinition(name = "Memory", description = "Guest RAM, e.g. 16M or 1G (1M to 3G).")
    String memory() default "64M";

    @AttributeDefinition(name = "vCPUs", description = "Number of virtual CPUs (1 to 64).")
    int vcpus() default 1;

    @AttributeDefinition(name = "Firmware", required = false,
            description = "Firmware ROM image mapped at the reset vector; relative to the Karaf home.")
    String firmware() default "";

    @AttributeDefinition(name = "Kernel", required = false, description = "Kernel image (Linux bzImage, multiboot).")
    String kernel() default "";

    @AttributeDefinition(name = "Initrd", required = false, description = "Initial RAM disk for the kernel.")
    String initrd() default "";

    @AttributeDefinition(name = "Command line", required = false, description = "Kernel command line.")
    String cmdline() default "";

    @AttributeDefinition(name = "Clock", description = "How virtual time runs.", options = {
        @Option(label = "With the host clock", value = "realtime"),
        @Option(label = "From retired instructions (reproducible)", value = "deterministic")})
    String clock() default "realtime";

    @AttributeDefinition(name = "Autostart", description = "Start the VM when it is defined and when the platform starts.")
    boolean autostart() default false;
}
