# Polyvisor CPU test kernel: the processor's identity and events (SDM Vol. 2A CPUID, RDTSC,
# SYSENTER/SYSEXIT; Vol. 3A 2.5 CR4, 6.7.1 NMI, 10.6 ICR).
# CPUID's vendor, signature, features and brand string (printed, for the host to compare with
# the VM's configured CPU model), CR4 accepting a feature bit exactly when CPUID reports the
# feature (VME/PVI, TSD, DE, PSE, PAE, MCE, PGE), RDTSC counting up and CR4.TSD, SYSEXIT to
# ring 3 and SYSENTER back (or #UD without SEP), and NMIs sent to itself through the local
# APIC (so this ROM needs a local APIC at 0xFEE00000): delivered through vector 2, the second
# held back until the handler's IRET.
        .include "common.inc"

        .equ    APIC_ID, 0xFEE00020             # local APIC ID in bits 31:24
        .equ    APIC_SVR, 0xFEE000F0            # bit 8: APIC software enable
        .equ    APIC_ICR_LO, 0xFEE00300         # writing it sends the IPI
        .equ    APIC_ICR_HI, 0xFEE00310         # destination APIC ID in bits 31:24
        .equ    ICR_NMI, 0x00004400             # NMI delivery, level assert, physical, no shorthand
        .equ    NMI_VECTOR, 2
        .equ    MSR_SYSENTER_CS, 0x174
        .equ    MSR_SYSENTER_ESP, 0x175
        .equ    MSR_SYSENTER_EIP, 0x176
        .equ    CPUID_EDX_SEP, 1 << 11
        .equ    CPUID_EDX_TSC, 1 << 4
        .equ    CR4_TSD, 0x4
        .equ    BRAND, SCRATCH                  # 48 bytes of brand string + NUL
        .equ    SPIN, 2000000                   # iterations to wait for an NMI

        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "cpu"
msg_vendor:     .asciz "CPUID vendor="
msg_sig:        .asciz " signature="
msg_edx:        .asciz " edx="
msg_ecx:        .asciz " ecx="
msg_ext:        .asciz " max-extended="
msg_brand:      .asciz "CPUID brand="
        .p2align 2
# CR4 bits and the leaf 1 EDX feature that makes each valid.
cr4_table:
        .long   0x001, 1 << 1                   # VME: VME
        .long   0x002, 1 << 1                   # PVI: VME
        .long   0x004, 1 << 4                   # TSD: TSC
        .long   0x008, 1 << 2                   # DE: DE
        .long   0x010, 1 << 3                   # PSE: PSE
        .long   0x020, 1 << 6                   # PAE: PAE
        .long   0x040, 1 << 7                   # MCE: MCE
        .long   0x080, 1 << 13                  # PGE: PGE
cr4_table_end:
        .text

# cpuid_edx: EDX of leaf 1 in EAX. Clobbers EBX, ECX, EDX.
cpuid_edx:
        movl    $1, %eax
        cpuid
        movl    %edx, %eax
        ret

        TEST    t_cpuid, "CPUID: vendor, signature, features and brand string, consistent (printed)"
t_cpuid:
        xorl    %eax, %eax
        cpuid
        cmpl    $1, %eax                        # basic leaves: at least leaf 1
        jae     5f
        FAIL    1
5:
        movl    %ebx, BRAND                     # the vendor string: EBX, EDX, ECX
        movl    %edx, BRAND + 4
        movl    %ecx, BRAND + 8
        movb    $0, BRAND + 12
        movl    $msg_vendor, %esi
        call    puts
        movl    $BRAND, %esi
        call    puts
        movl    $1, %eax
        cpuid
        movl    %eax, var0
        movl    %edx, var1
        movl    %ecx, var2
        movl    $msg_sig, %esi
        call    puts
        movl    var0, %eax
        call    put_hex
        movl    $msg_edx, %esi
        call    puts
        movl    var1, %eax
        call    put_hex
        movl    $msg_ecx, %esi
        call    puts
        movl    var2, %eax
        call    put_hex
        movl    $0x80000000, %eax
        cpuid
        movl    %eax, var3
        movl    $msg_ext, %esi
        call    puts
        movl    var3, %eax
        call    put_hex
        call    put_crlf
        movl    var0, %eax
        shrl    $8, %eax
        andl    $0xF, %eax
        cmpl    $0, %eax
        jne     1f
        FAIL    2                               # family 0
1:      cmpl    $0x80000004, var3
        jb      3f                              # no brand string
        movl    $BRAND, %edi
        movl    $0x80000002, %esi
2:      movl    %esi, %eax
        cpuid
        movl    %eax, (%edi)
        movl    %ebx, 4(%edi)
        movl    %ecx, 8(%edi)
        movl    %edx, 12(%edi)
        addl    $16, %edi
        incl    %esi
        cmpl    $0x80000004, %esi
        jbe     2b
        movb    $0, BRAND + 48
        cmpb    $0, BRAND
        jne     4f
        FAIL    3                               # brand leaves reported but the string is empty
4:      movl    $msg_brand, %esi
        call    puts
        movl    $BRAND, %esi
        call    puts
        call    put_crlf
3:      xorl    %eax, %eax
        ret

        TEST    t_cr4_features, "CR4 takes VME, PVI, TSD, DE, PSE, PAE, MCE, PGE where CPUID reports the feature"
t_cr4_features:
        xorl    %eax, %eax
        jmp     cr4_check

        TEST    t_cr4_reserved, "CR4.VME, PVI, TSD, DE, PSE, PAE, MCE, PGE #GP(0) where CPUID does not report the feature"
t_cr4_reserved:
        movl    $1, %eax
        # fall through

# cr4_check: EAX = 0 checks the bits of reported features, 1 those of the others. Each is set
# alone (paging is off, so none changes what runs here) and CR4 cleared again. Keeps EBP (the
# runner's test pointer).
cr4_check:
        movl    %eax, var1
        call    cpuid_edx
        movl    %eax, var0
        movl    $cr4_table, %esi
1:      cmpl    $cr4_table_end, %esi
        jae     9f
        movl    4(%esi), %eax
        testl   %eax, var0
        setz    %al
        movzbl  %al, %eax
        cmpl    var1, %eax                      # 0: reported, 1: not reported
        jne     3f                              # the other test's bit
        movl    (%esi), %eax
        TRY     2f
        movl    %eax, %cr4                      # #GP(0) if the bit is reserved
        movl    $0, recover_eip
        xorl    %eax, %eax
        movl    %eax, %cr4
        cmpl    $0, var1
        je      3f
        movl    (%esi), %eax                    # accepted though CPUID does not report it
        orl     $0x100, %eax
        jmp     test_fail
2:      cmpl    $0, var1
        jne     4f
        movl    (%esi), %eax                    # refused though CPUID reports it
        orl     $0x400, %eax
        jmp     test_fail
4:      EXPECT_FAULT 13, 0, 0x200
3:      addl    $8, %esi
        jmp     1b
9:      xorl    %eax, %eax
        ret

        TEST    t_rdtsc, "RDTSC counts up; CR4.TSD makes it #GP(0) in ring 3"
t_rdtsc:
        call    cpuid_edx
        testl   $CPUID_EDX_TSC, %eax
        jnz     1f
        TRY     2f
        rdtsc
        FAIL    1
2:      EXPECT_FAULT 6, 0, 2                    # no TSC reported: #UD
        xorl    %eax, %eax
        ret
1:      rdtsc
        movl    %eax, var0
        movl    %edx, var1
        movl    $1000, %ecx
3:      loop    3b
        rdtsc
        cmpl    var1, %edx                      # 64-bit compare: later > earlier
        ja      4f
        jb      5f
        cmpl    var0, %eax
        ja      4f
5:      FAIL    4
4:      movl    $CR4_TSD, %eax
        movl    %eax, %cr4
        TRY     6f
        movl    $7f, %ebx
        movl    $STACK3, %ecx
        xorl    %edx, %edx
        call    enter_ring3
7:      rdtsc                                   # ring 3 with CR4.TSD
        BACK_TO_RING0
6:      EXPECT_FAULT 13, 0, 5
        EXPECT_EQ fault_eip, $7b, 7
        xorl    %eax, %eax
        ret

        TEST    t_sysenter, "SYSEXIT to ring 3 and SYSENTER back: selectors, ESP and EIP from the MSRs (#UD without SEP)"
t_sysenter:
        call    cpuid_edx
        testl   $CPUID_EDX_SEP, %eax
        jnz     1f
        TRY     2f
        sysenter
        FAIL    1
2:      EXPECT_FAULT 6, 0, 2
        xorl    %eax, %eax
        ret
1:      xorl    %eax, %eax
        movl    %eax, var0
        movl    %eax, var1
        movl    %eax, var4
        movl    $MSR_SYSENTER_CS, %ecx          # CS = CODE0, SS = CODE0 + 8 = DATA0,
        movl    $CODE0, %eax                    # ring 3: CODE0 + 16 = CODE3, CODE0 + 24 = DATA3
        xorl    %edx, %edx
        wrmsr
        movl    $MSR_SYSENTER_ESP, %ecx
        movl    $STACK0_TSS, %eax
        wrmsr
        movl    $MSR_SYSENTER_EIP, %ecx
        movl    $3f, %eax
        wrmsr
        movl    %esp, var5
        movl    $4f, %edx                       # SYSEXIT: EIP = EDX, ESP = ECX
        movl    $(STACK3 - 16), %ecx
        sysexit
4:      movw    %cs, %ax                        # ring 3 (DS is still DATA0: SYSEXIT leaves it)
        movw    %ax, var0
        movw    %ss, %ax
        movw    %ax, var1
        movl    %esp, var2
        sysenter
3:      movl    %esp, var3                      # ring 0 again
        movw    %cs, %ax
        movw    %ax, var4
        movw    %ss, %ax
        movl    var5, %esp
        movzwl  %ax, %eax
        EXPECT_EQ %eax, $DATA0, 3
        EXPECT_EQ var0, $CODE3, 4
        EXPECT_EQ var1, $DATA3, 5
        EXPECT_EQ var2, $(STACK3 - 16), 6
        EXPECT_EQ var3, $STACK0_TSS, 7
        EXPECT_EQ var4, $CODE0, 8
        xorl    %eax, %eax
        ret

# send_nmi: an NMI to this processor through the local APIC's ICR. Clobbers EAX.
send_nmi:
        movl    APIC_ID, %eax
        andl    $0xFF000000, %eax
        movl    %eax, APIC_ICR_HI
        movl    $ICR_NMI, APIC_ICR_LO
        ret

# The NMI handler: var0 = NMIs taken, var1 = current depth, var2 = deepest nesting seen. The
# first sends a second NMI and waits in the handler: it must not arrive before the IRET. var3 =
# NMIs taken when the first handler left.
nmi_handler:
        pushl   %eax
        pushl   %ecx
        incl    var1
        movl    var1, %eax
        cmpl    var2, %eax
        jbe     1f
        movl    %eax, var2
1:      incl    var0
        cmpl    $1, var0
        jne     2f
        call    send_nmi
        movl    $SPIN, %ecx
3:      loop    3b
        movl    var0, %eax
        movl    %eax, var3
2:      decl    var1
        popl    %ecx
        popl    %eax
        iretl

        TEST    t_nmi, "NMI through vector 2 (APIC self NMI), blocked until IRET, the held one after it"
t_nmi:
        movl    $0, var0
        movl    $0, var1
        movl    $0, var2
        movl    $0, var3
        IDT_SLOT NMI_VECTOR, %edi
        movl    $CODE0, %eax
        movl    $nmi_handler, %ebx
        movl    $ACC_INT_GATE32, %edx
        call    make_gate
        orl     $0x100, APIC_SVR                # software enable
        call    send_nmi
        movl    $SPIN, %ecx
1:      cmpl    $2, var0
        je      2f
        loop    1b
2:      EXPECT_EQ var0, $2, 1                   # both NMIs arrived
        EXPECT_EQ var3, $1, 2                   # the second not while the first handler ran
        EXPECT_EQ var2, $1, 3                   # never nested
        EXPECT_EQ var1, $0, 4
        xorl    %eax, %eax
        ret
