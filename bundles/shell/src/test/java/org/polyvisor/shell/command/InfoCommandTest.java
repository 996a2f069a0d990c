package org.polyvisor.shell.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.polyvisor.part.Availability;
import org.polyvisor.part.PartKind;
import org.polyvisor.vm.PartInfo;
import org.polyvisor.vm.VmConfig;

class InfoCommandTest {

    private static final List<PartInfo> PARTS = List.of(
            new PartInfo(PartKind.CPU, "interpreter", "", Availability.yes(), "core", Map.of()),
            new PartInfo(PartKind.CPU, "kvm", "", Availability.yes(), "cpu-kvm",
                    Map.of("slat", "none (shadow paging)", "guest-mmu", "the host's KVM (kvm_pvm), with shadow paging")),
            new PartInfo(PartKind.MMU, "kvm", "", Availability.yes(), "other", Map.of("guest-mmu", "not a cpu")));

    private static VmConfig config(String cpu, String mmu) {
        return VmConfig.builder("v").cpu(cpu).mmu(mmu).memory(16L << 20).firmware("guests/demo.rom").build();
    }

    @Test
    void saysWhichMmuTheHostsKvmUses() {
        assertEquals("the host's KVM (kvm_pvm), with shadow paging", InfoCommand.mmuInUse(config("kvm", ""), PARTS));
        assertEquals("the host's KVM (kvm_pvm), with shadow paging (mmu 'shadow' is used after a swap to a software"
                + " engine)", InfoCommand.mmuInUse(config("kvm", "shadow"), PARTS));
    }

    @Test
    void saysNothingMoreForSoftwareEngines() {
        assertNull(InfoCommand.mmuInUse(config("interpreter", "shadow"), PARTS));
        assertNull(InfoCommand.mmuInUse(config("bt", ""), PARTS));
    }
}
