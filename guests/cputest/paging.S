# Polyvisor CPU test kernel: paging faults (SDM Vol. 3A, 4.3, 4.6, 4.7, 4.8).
# Not-present PTE and PDE, writes to read-only pages with CR0.WP clear and set, user
# accesses to supervisor pages (PTE and PDE level), the exact #PF error codes and CR2,
# accessed and dirty bits, 4 MiB pages (CR4.PSE), INVLPG, and a #PF while delivering a #PF
# (the IDT's #PF gate on a not-present page) giving a double fault.
        .include "common.inc"

        .equ    NP_PAGE, 0x00200000             # PTE not present
        .equ    RO_SUP, 0x00201000              # present, read-only, supervisor
        .equ    RW_SUP, 0x00202000              # present, writable, supervisor
        .equ    RO_USER, 0x00203000             # present, read-only, user
        .equ    AD_PAGE, 0x00204000             # writable, user, A and D clear
        .equ    NP_PDE, 0x00800000              # PDE 2 not present
        .equ    BIG, 0x00400000                 # PDE 1: a 4 MiB page at physical 0
        .equ    SUP_PDE, 0x00C00000             # PDE 3 supervisor, its PTEs user
        .equ    PT_SUP, PAGING + 0x2000
        .equ    IDT2, 0x0003FF90                # an IDT whose #PF gate (0x70) is on page 0x40000
        .equ    IDT2_HOLE, 0x00040000
        .equ    PF_EXEC, 0                      # error code bits
        .equ    PF_P, 1
        .equ    PF_W, 2
        .equ    PF_U, 4

        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "paging"
        .text

# setup: identity paging with the special pages above.
setup:
        call    identity_paging
        movl    $0, PT_LOW + (NP_PAGE >> 12) * 4
        movl    $RO_SUP | 0x1, PT_LOW + (RO_SUP >> 12) * 4
        movl    $RW_SUP | 0x3, PT_LOW + (RW_SUP >> 12) * 4
        movl    $RO_USER | 0x5, PT_LOW + (RO_USER >> 12) * 4
        movl    $AD_PAGE | 0x7, PT_LOW + (AD_PAGE >> 12) * 4
        movl    $0x12345678, RO_USER            # WP = 0: the supervisor may write a read-only page
        movl    %cr3, %eax
        movl    %eax, %cr3
        ret

        TEST    t_not_present, "not-present page: #PF error 0 (read) / 2 (write), CR2, saved EIP"
t_not_present:
        call    setup
        TRY     1f
pf_insn1:
        movl    NP_PAGE + 0x123, %eax
        FAIL    1
1:      EXPECT_FAULT 14,0,2
        EXPECT_EQ fault_cr2, $NP_PAGE+0x123, 4
        EXPECT_EQ fault_eip, $pf_insn1, 5
        TRY     2f
        movl    %eax, NP_PAGE + 0xFFC
        FAIL    6
2:      EXPECT_FAULT 14,PF_W,7
        EXPECT_EQ fault_cr2, $NP_PAGE+0xFFC, 9
        TRY     3f
        movl    NP_PDE + 0x10, %eax
        FAIL    10
3:      EXPECT_FAULT 14,0,11
        EXPECT_EQ fault_cr2, $NP_PDE+0x10, 13
        xorl    %eax, %eax
        ret

        TEST    t_write_protect, "supervisor write to a read-only page: allowed with WP=0, #PF 3 with WP=1"
t_write_protect:
        call    setup
        movl    $0xABCD, RO_SUP + 8             # WP = 0: the supervisor may write
        EXPECT_EQ RO_SUP+8, $0xABCD, 1
        movl    %cr0, %eax
        orl     $CR0_WP, %eax
        movl    %eax, %cr0
        TRY     1f
        movl    $0x1111, RO_SUP + 8
        FAIL    2
1:      EXPECT_FAULT 14,PF_P|PF_W,3
        EXPECT_EQ fault_cr2, $RO_SUP+8, 5
        EXPECT_EQ RO_SUP+8, $0xABCD, 6          # not written
        xorl    %eax, %eax
        ret

        TEST    t_user_access, "user accesses: supervisor page #PF 5/7, read-only user page #PF 7, absent #PF 4/6"
t_user_access:
        call    setup
        # PDE 3: supervisor, its table maps user pages.
        movl    $PT_SUP, %edi
        movl    $0x7, %eax
        movl    $1024, %ecx
1:      stosl
        addl    $0x1000, %eax
        loop    1b
        movl    $PT_SUP | 0x3, PD1 + 3 * 4
        movl    %cr3, %eax
        movl    %eax, %cr3
        movl    $r3_access_0, %ebx
        call    ring3_probe
        EXPECT_FAULT 14,PF_P|PF_U,1             # read of a supervisor page
        EXPECT_EQ fault_cr2, $RW_SUP, 3
        movl    $r3_access_1, %ebx
        call    ring3_probe
        EXPECT_FAULT 14,PF_P|PF_W|PF_U,4        # write to a read-only user page
        EXPECT_EQ fault_cr2, $RO_USER, 6
        movl    $r3_access_2, %ebx
        call    ring3_probe
        EXPECT_FAULT 14,PF_U,7                  # read of a not-present page
        movl    $r3_access_3, %ebx
        call    ring3_probe
        EXPECT_FAULT 14,PF_W|PF_U,9             # write to a not-present page
        movl    $r3_access_4, %ebx
        call    ring3_probe
        EXPECT_FAULT 14,PF_P|PF_W|PF_U,11       # write to a read-only supervisor page
        movl    $r3_access_5, %ebx
        call    ring3_probe
        EXPECT_FAULT 14,PF_P|PF_U,13            # user PTE under a supervisor PDE
        EXPECT_EQ fault_cr2, $SUP_PDE+0x10, 15
        EXPECT_EQ fault_cs, $CODE3, 16
        movl    $r3_access_ok, %ebx
        call    ring3_probe
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 17 # a user page reads fine
        EXPECT_EQ var0, $0x12345678, 18
        xorl    %eax, %eax
        ret

# ring3_probe: EBX = ring-3 code; returns after it faults or leaves (fault_* tell which).
ring3_probe:
        TRY     1f
        movl    $STACK3, %ecx
        xorl    %edx, %edx
        call    enter_ring3
1:      ret

r3_access_0:                                    # read a supervisor page: P|U
        movl    RW_SUP, %eax
        BACK_TO_RING0
r3_access_1:
        movl    %eax, RO_USER
        BACK_TO_RING0
r3_access_2:
        movl    NP_PAGE, %eax
        BACK_TO_RING0
r3_access_3:
        movl    %eax, NP_PAGE
        BACK_TO_RING0
r3_access_4:
        movl    %eax, RO_SUP
        BACK_TO_RING0
r3_access_5:                                    # user PTE under a supervisor PDE
        movl    SUP_PDE + 0x10, %eax
        BACK_TO_RING0
r3_access_ok:
        movl    RO_USER, %eax
        movl    %eax, %ss:var0
        BACK_TO_RING0

        TEST    t_accessed_dirty, "accessed and dirty bits: A on read, D on write, PDE A"
t_accessed_dirty:
        call    setup
        andl    $~0x20, PD1                     # PDE 0: A clear
        movl    %cr3, %eax
        movl    %eax, %cr3
        movl    AD_PAGE, %eax
        movl    PT_LOW + (AD_PAGE >> 12) * 4, %eax
        andl    $0x60, %eax
        EXPECT_EQ %eax, $0x20, 1                # A set, D clear after a read
        movl    PD1, %eax
        andl    $0x20, %eax
        EXPECT_EQ %eax, $0x20, 2                # PDE A set
        movl    $1, AD_PAGE
        movl    PT_LOW + (AD_PAGE >> 12) * 4, %eax
        andl    $0x60, %eax
        EXPECT_EQ %eax, $0x60, 3                # D set after a write
        xorl    %eax, %eax
        ret

        TEST    t_pse, "4 MiB pages (CR4.PSE): mapping, D bit in the PDE, write protection"
t_pse:
        call    setup
        movl    %cr4, %eax
        orl     $CR4_PSE, %eax
        movl    %eax, %cr4
        movl    $0x00000083, PD1 + 4            # PDE 1: 4 MiB page at 0, writable, supervisor
        movl    %cr3, %eax
        movl    %eax, %cr3
        movl    $0x5EED, var0
        EXPECT_EQ BIG+var0, $0x5EED, 1          # the alias reads the same memory
        movl    $0x600D, BIG + var1
        EXPECT_EQ var1, $0x600D, 2
        movl    PD1 + 4, %eax
        andl    $0x60, %eax
        EXPECT_EQ %eax, $0x60, 3                # A and D in the PDE
        movl    $0x00000081, PD1 + 4            # read-only now
        movl    %cr0, %eax
        orl     $CR0_WP, %eax
        movl    %eax, %cr0
        invlpg  BIG + var1
        TRY     1f
        movl    $0, BIG + var1
        FAIL    4
1:      EXPECT_FAULT 14,PF_P|PF_W,5
        EXPECT_EQ fault_cr2, $BIG+var1, 7
        xorl    %eax, %eax
        ret

        TEST    t_invlpg, "INVLPG: a page made not-present faults after INVLPG"
t_invlpg:
        call    setup
        movl    AD_PAGE, %eax                   # (now likely cached)
        movl    $0, PT_LOW + (AD_PAGE >> 12) * 4
        invlpg  AD_PAGE
        TRY     1f
        movl    AD_PAGE + 4, %eax
        FAIL    1
1:      EXPECT_FAULT 14,0,2
        EXPECT_EQ fault_cr2, $AD_PAGE+4, 4
        xorl    %eax, %eax
        ret

        TEST    t_pf_double_fault, "#PF while delivering #PF (IDT gate on an absent page): #DF(0), CR2"
t_pf_double_fault:
        call    setup
        movl    $0, PT_LOW + (IDT2_HOLE >> 12) * 4
        movl    $IDT, %esi                      # gates 0-13 below the hole, 14 and up in it
        movl    $IDT2, %edi
        movl    $14 * 2, %ecx
        rep movsl
        movl    %cr3, %eax
        movl    %eax, %cr3
        movw    $0x7FF, var0
        movl    $IDT2, var0 + 2
        lidtl   var0
        TRY     1f
        movl    NP_PAGE, %eax
        FAIL    1
1:      EXPECT_FAULT 8,0,2
        EXPECT_EQ fault_cr2, $IDT2_HOLE, 4      # the second #PF: reading gate 14
        xorl    %eax, %eax
        ret
