# Polyvisor CPU test kernel: hardware task switching (SDM Vol. 3A, chapter 7).
# Far JMP and CALL to a TSS and through task gates (GDT and IDT), IRET with NT back along the
# link, busy bits, NT, CR0.TS, the saved state in the old TSS, exceptions through a task gate
# with the error code pushed on the new task's stack, a double fault through a task gate
# surviving a kernel stack overflow into a guard page, a 16-bit TSS, CR3 and LDT loaded from the TSS, nested tasks,
# and the #GP/#TS/#NP checks with their error codes.
        .include "common.inc"

        .equ    SEL_TSS_B, 0x38
        .equ    SEL_TSS_C, 0x40
        .equ    SEL_TSS16, 0x48
        .equ    SEL_TASK_GATE_B, 0x50
        .equ    SEL_TSS_DF, 0x58
        .equ    SEL_TSS_SMALL, 0x60
        .equ    SEL_TSS_NP, 0x68
        .equ    SEL_LDT, 0x70
        .equ    SEL_TSS_E, 0x78
        .equ    GUARD_PAGE, 0x0005F000          # not present in t_double_fault_task
        .equ    TSS_B, TSS_AREA + 0x000
        .equ    TSS_C, TSS_AREA + 0x100
        .equ    TSS_16, TSS_AREA + 0x200
        .equ    TSS_DF, TSS_AREA + 0x300
        .equ    TSS_E, TSS_AREA + 0x400
        .equ    LDT_BASE, SCRATCH
        .equ    MAGIC, 0xCAFEBABE
        .equ    MAGIC_PHYS, 0x00050000
        .equ    PD2, PAGING + 0x2000
        .equ    PT_ALIAS, PAGING + 0x3000

        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "tasks"
        .text

# tss_desc: EAX = selector, EBX = base, ECX = limit, EDX = access. Clobbers EDI.
tss_desc:
        movl    %eax, %edi
        andl    $0xFFF8, %edi
        addl    $GDT, %edi
        jmp     make_seg

# access byte of a GDT descriptor into EAX: EAX = selector
access_byte:
        andl    $0xFFF8, %eax
        movzbl  GDT + 5(%eax), %eax
        ret

# ---- JMP to a TSS and back ----
        TEST    t_jmp_tss, "JMP to a TSS: busy bits, no NT, CR0.TS, state saved and restored"
t_jmp_tss:
        movl    $TSS_B, %edi
        movl    $task_b_jmp, %ebx
        movl    $STACK_TASK1, %ecx
        call    init_tss32
        movl    $SEL_TSS_B, %eax
        movl    $TSS_B, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        call    tss_desc
        movl    $0x11112222, %ebx
        movl    $0x33334444, %esi
        pushl   %ebp
        movl    $0x55556666, %ebp
        ljmp    $SEL_TSS_B, $0
        movl    %ebp, %eax
        popl    %ebp
        EXPECT_EQ %eax, $0x55556666, 1
        EXPECT_EQ %ebx, $0x11112222, 2
        EXPECT_EQ %esi, $0x33334444, 3
        EXPECT_EQ var0, $SEL_TSS_B, 4           # TR in B
        EXPECT_EQ var1, $0, 5                   # NT in B (a JMP does not nest)
        EXPECT_EQ var2, $ACC_TSS32, 6           # A available while B runs
        EXPECT_EQ var3, $ACC_TSS32|2, 7       # B busy
        EXPECT_EQ var4, $CR0_TS, 8              # CR0.TS set by the switch
        movl    $SEL_TSS_B, %eax
        call    access_byte
        EXPECT_EQ %eax, $ACC_TSS32, 9           # B available again
        movl    $TSS_SEL, %eax
        call    access_byte
        EXPECT_EQ %eax, $ACC_TSS32|2, 10      # A busy again
        EXPECT_EQ TSS_B+TSS_EIP, $task_b_jmp_after, 11
        EXPECT_EQ TSS_B+TSS_EBX, $0x7777, 12  # B's registers saved in B's TSS
        EXPECT_EQ TSS_MAIN+TSS_LINK, $0, 13
        str     %ax
        movzwl  %ax, %eax
        EXPECT_EQ %eax, $TSS_SEL, 14
        xorl    %eax, %eax
        ret
task_b_jmp:
        call    record_task
        movl    $0x7777, %ebx
        ljmp    $TSS_SEL, $0
task_b_jmp_after:
        jmp     task_b_jmp_after

# record_task: var0 = TR, var1 = NT, var2/var3 = access bytes of TSS_SEL / SEL_TSS_B, var4 = CR0.TS,
# var5 = TSS_B link.
record_task:
        pushl   %eax
        str     %ax
        movzwl  %ax, %eax
        movl    %eax, var0
        pushfl
        popl    %eax
        andl    $EFL_NT, %eax
        movl    %eax, var1
        movl    $TSS_SEL, %eax
        call    access_byte
        movl    %eax, var2
        movl    $SEL_TSS_B, %eax
        call    access_byte
        movl    %eax, var3
        movl    %cr0, %eax
        andl    $CR0_TS, %eax
        movl    %eax, var4
        movzwl  TSS_B + TSS_LINK, %eax
        movl    %eax, var5
        popl    %eax
        ret

# ---- CALL to a TSS, IRET back ----
        TEST    t_call_tss, "CALL to a TSS: NT and back link, IRET returns and frees the task"
t_call_tss:
        call    setup_b_call
        lcall   $SEL_TSS_B, $0
        EXPECT_EQ var0, $SEL_TSS_B, 1
        EXPECT_EQ var1, $EFL_NT, 2              # NT set in the called task
        EXPECT_EQ var2, $ACC_TSS32|2, 3         # the caller stays busy
        EXPECT_EQ var3, $ACC_TSS32|2, 4
        EXPECT_EQ var5, $TSS_SEL, 5             # back link
        movl    $SEL_TSS_B, %eax
        call    access_byte
        EXPECT_EQ %eax, $ACC_TSS32, 6           # IRET made B available
        pushfl
        popl    %eax
        andl    $EFL_NT, %eax
        EXPECT_EQ %eax, $0, 7                   # the caller's NT unchanged (0)
        movl    TSS_B + TSS_EFLAGS, %eax
        andl    $EFL_NT, %eax
        EXPECT_EQ %eax, $0, 8                   # IRET cleared NT in B's saved EFLAGS
        EXPECT_EQ TSS_B+TSS_EIP, $task_b_call_after, 9
        xorl    %eax, %eax
        ret
setup_b_call:
        movl    $TSS_B, %edi
        movl    $task_b_call, %ebx
        movl    $STACK_TASK1, %ecx
        call    init_tss32
        movl    $SEL_TSS_B, %eax
        movl    $TSS_B, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        jmp     tss_desc
task_b_call:
        call    record_task
        iretl
task_b_call_after:
        jmp     task_b_call

# ---- busy and malformed TSSs ----
        TEST    t_tss_checks, "busy TSS #GP(sel), short TSS #TS(sel), absent TSS #NP(sel), IRET to free TSS #TS"
t_tss_checks:
        TRY     1f
        ljmp    $TSS_SEL, $0                    # the current task: busy
        FAIL    1
1:      EXPECT_FAULT 13,TSS_SEL,2
        TRY     2f
        lcall   $TSS_SEL, $0
        FAIL    4
2:      EXPECT_FAULT 13,TSS_SEL,5
        movl    $SEL_TSS_SMALL, %eax
        movl    $TSS_C, %ebx
        movl    $0x50, %ecx                     # a 32-bit TSS needs a limit of at least 0x67
        movl    $ACC_TSS32, %edx
        call    tss_desc
        TRY     3f
        ljmp    $SEL_TSS_SMALL, $0
        FAIL    7
3:      EXPECT_FAULT 10,SEL_TSS_SMALL,8
        movl    $SEL_TSS_NP, %eax
        movl    $TSS_C, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32 & 0x7F, %edx
        call    tss_desc
        TRY     4f
        ljmp    $SEL_TSS_NP, $0
        FAIL    10
4:      EXPECT_FAULT 11,SEL_TSS_NP,11
        call    setup_b_call                    # an available TSS as the back link: IRET #TS(link)
        movw    $SEL_TSS_B, TSS_MAIN + TSS_LINK
        TRY     5f
        pushfl
        orl     $EFL_NT, (%esp)
        popfl
        iretl
        FAIL    13
5:      EXPECT_FAULT 10,SEL_TSS_B,14
        xorl    %eax, %eax
        ret

# ---- task gates: in the GDT (CALL) and in the IDT (INT n); gate DPL ----
        TEST    t_task_gates, "task gate: CALL through the GDT, INT n through the IDT, gate DPL #GP"
t_task_gates:
        call    setup_b_call
        GDT_SLOT SEL_TASK_GATE_B, %edi
        movl    $SEL_TSS_B, %eax
        xorl    %ebx, %ebx
        movl    $ACC_TASK_GATE, %edx
        call    make_gate
        lcall   $SEL_TASK_GATE_B, $0
        EXPECT_EQ var0, $SEL_TSS_B, 1
        EXPECT_EQ var1, $EFL_NT, 2
        EXPECT_EQ var5, $TSS_SEL, 3
        call    setup_b_call
        movl    $0, var0
        IDT_SLOT 0x55, %edi
        movl    $SEL_TSS_B, %eax
        xorl    %ebx, %ebx
        movl    $ACC_TASK_GATE, %edx
        call    make_gate
        int     $0x55
        EXPECT_EQ var0, $SEL_TSS_B, 4
        EXPECT_EQ var1, $EFL_NT, 5
        EXPECT_EQ var5, $TSS_SEL, 6
        movl    $SEL_TSS_B, %eax
        call    access_byte
        EXPECT_EQ %eax, $ACC_TSS32, 7
        TRY     1f                              # ring 3 -> DPL 0 task gate: #GP(gate)
        movl    $r3_call_gate_b, %ebx
        movl    $STACK3, %ecx
        xorl    %edx, %edx
        call    enter_ring3
1:      EXPECT_FAULT 13,SEL_TASK_GATE_B,8
        xorl    %eax, %eax
        ret
r3_call_gate_b:
        lcall   $SEL_TASK_GATE_B | 3, $0
        BACK_TO_RING0

# ---- an exception through a task gate: error code on the new task's stack ----
        TEST    t_exception_task_gate, "#GP through a task gate: error code pushed in the new task, saved EIP"
t_exception_task_gate:
        movl    $TSS_C, %edi
        movl    $task_c_gp, %ebx
        movl    $STACK_TASK2, %ecx
        call    init_tss32
        movl    $SEL_TSS_C, %eax
        movl    $TSS_C, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        call    tss_desc
        IDT_SLOT 13, %edi
        movl    $SEL_TSS_C, %eax
        xorl    %ebx, %ebx
        movl    $ACC_TASK_GATE, %edx
        call    make_gate
        movw    $0x7F8, %ax                     # an empty GDT slot: #GP(0x7F8)
gp_fault_insn:
        movw    %ax, %ds
        FAIL    1
gp_recover:
        EXPECT_EQ var0, $0x7F8, 2               # the error code, on task C's stack
        EXPECT_EQ var1, $STACK_TASK2-4, 3       # ... just below its initial ESP
        EXPECT_EQ var2, $gp_fault_insn, 4       # A's saved EIP: the faulting instruction
        EXPECT_EQ var3, $TSS_SEL, 5             # back link
        EXPECT_EQ var4, $EFL_NT, 6
        movw    %ds, %ax
        movzwl  %ax, %eax
        EXPECT_EQ %eax, $DATA0, 7               # DS as it was before the faulting load
        xorl    %eax, %eax
        ret
task_c_gp:
        movl    (%esp), %eax
        movl    %eax, var0
        movl    %esp, var1
        movl    TSS_MAIN + TSS_EIP, %eax
        movl    %eax, var2
        movzwl  TSS_C + TSS_LINK, %eax
        movl    %eax, var3
        pushfl
        popl    %eax
        andl    $EFL_NT, %eax
        movl    %eax, var4
        movl    $gp_recover, TSS_MAIN + TSS_EIP # resume A after the faulting instruction
        addl    $4, %esp
        iretl
        jmp     task_c_gp

# ---- stack overflow into a guard page: #PF while delivering #PF -> #DF through a task gate ----
# (A segment-limit overflow would do as well on hardware, but QEMU TCG does not check data
# segment limits; the guard page is what kernels use.)
        TEST    t_double_fault_task, "stack overflow into a guard page: #DF through a task gate"
t_double_fault_task:
        call    identity_paging
        movl    $0, PT_LOW + (GUARD_PAGE >> 12) * 4     # the guard page below the stack
        movl    %cr3, %eax
        movl    %eax, %cr3
        movl    $TSS_DF, %edi
        movl    $task_df, %ebx
        movl    $STACK_TASK3, %ecx
        call    init_tss32
        movl    $SEL_TSS_DF, %eax
        movl    $TSS_DF, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        call    tss_desc
        IDT_SLOT 8, %edi
        movl    $SEL_TSS_DF, %eax
        xorl    %ebx, %ebx
        movl    $ACC_TASK_GATE, %edx
        call    make_gate
        movl    %esp, var6
        movl    $GUARD_PAGE + 0x1008, %esp
        pushl   $1
        pushl   $2
df_fault_insn:
        pushl   $3                              # into the guard page: #PF, and again delivering it
        movl    var6, %esp
        FAIL    1
df_recover:
        EXPECT_EQ var0, $0, 2                   # #DF error code 0 on the DF task's stack
        EXPECT_EQ var1, $STACK_TASK3-4, 3
        EXPECT_EQ var2, $TSS_SEL, 4             # back link
        EXPECT_EQ var3, $GUARD_PAGE+0x1000, 5   # A's saved ESP (before the faulting push)
        EXPECT_EQ var4, $GUARD_PAGE+0xFFC, 6    # CR2: the second #PF's address
        EXPECT_EQ var5, $df_fault_insn, 7       # A's saved EIP
        xorl    %eax, %eax
        ret

task_df:
        movl    (%esp), %eax
        movl    %eax, var0
        movl    %esp, var1
        movzwl  TSS_DF + TSS_LINK, %eax
        movl    %eax, var2
        movl    TSS_MAIN + TSS_ESP, %eax
        movl    %eax, var3
        movl    %cr2, %eax
        movl    %eax, var4
        movl    TSS_MAIN + TSS_EIP, %eax
        movl    %eax, var5
        movl    var6, %eax                      # repair A: a good stack, resume at df_recover
        movl    %eax, TSS_MAIN + TSS_ESP
        movl    $df_recover, TSS_MAIN + TSS_EIP
        addl    $4, %esp
        iretl
        jmp     task_df

# ---- a 16-bit TSS ----
        TEST    t_tss16, "16-bit TSS: CALL loads IP/FLAGS/AX/segments, IRET saves the 16-bit state"
t_tss16:
        movl    $TSS_16, %edi
        movl    $0x2C / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        movl    $task16 - ROM_BASE, %eax                 # (a 32-bit field: as cannot relocate 16 bits)
        movw    %ax, TSS_16 + 0x0E                       # IP
        movw    $2, TSS_16 + 0x10                        # FLAGS
        movw    $0x1234, TSS_16 + 0x12                   # AX
        movw    $0x5678, TSS_16 + 0x18                   # BX
        movw    $0x7C00, TSS_16 + 0x1A                   # SP
        movw    $DATA0, TSS_16 + 0x22                    # ES
        movw    $CODE0_ROM, TSS_16 + 0x24                # CS: based at the ROM (16-bit IP)
        movw    $DATA0, TSS_16 + 0x26                    # SS
        movw    $DATA0, TSS_16 + 0x28                    # DS
        movl    $SEL_TSS16, %eax
        movl    $TSS_16, %ebx
        movl    $0x2B, %ecx
        movl    $ACC_TSS16, %edx
        call    tss_desc
        movl    $0xAAAA5555, %ebx
        lcall   $SEL_TSS16, $0
        EXPECT_EQ %ebx, $0xAAAA5555, 1          # the caller's 32-bit state came back
        EXPECT_EQ var0, $0x1234, 2              # AX loaded from the 16-bit TSS
        EXPECT_EQ var1, $CODE0_ROM, 3
        EXPECT_EQ var2, $EFL_NT, 4
        EXPECT_EQ var3, $TSS_SEL, 5             # back link
        EXPECT_EQ var4, $0x5678, 6              # BX
        movzwl  TSS_16 + 0x0E, %eax
        EXPECT_EQ %eax, $task16_after-ROM_BASE, 7   # IP saved as 16 bits
        movzwl  TSS_16 + 0x12, %eax
        EXPECT_EQ %eax, $0x4321, 8              # AX saved
        movl    $SEL_TSS16, %eax
        call    access_byte
        EXPECT_EQ %eax, $ACC_TSS16, 9
        xorl    %eax, %eax
        ret
task16:                                         # runs in CODE0_ROM; no stack use (SP's high word is undefined)
        movzwl  %ax, %eax
        movl    %eax, var0
        movw    %cs, %ax
        movzwl  %ax, %eax
        movl    %eax, var1
        pushfl                                  # (ESP's high word: the 16-bit TSS leaves it undefined)
        popl    %eax
        andl    $EFL_NT, %eax
        movl    %eax, var2
        movzwl  TSS_16, %eax
        movl    %eax, var3
        movzwl  %bx, %eax
        movl    %eax, var4
        movw    $0x4321, %ax
        iretl
task16_after:
        jmp     task16_after

# ---- CR3 and LDT from the TSS ----
        TEST    t_cr3_ldt, "task switch loads CR3 (paging on) and LDTR from the TSS, restores them"
t_cr3_ldt:
        # PD1: identity 0-4 MiB. PD2: the same, plus linear 4 MiB -> MAGIC_PHYS.
        call    identity_paging
        movl    $PT_LOW | 0x07, PD2
        movl    $PT_ALIAS | 0x07, PD2 + 4
        movl    $MAGIC_PHYS | 0x07, PT_ALIAS
        movl    $MAGIC, MAGIC_PHYS
        # LDT with one data segment at MAGIC_PHYS.
        movl    $LDT_BASE, %edi
        movl    $MAGIC_PHYS, %ebx
        movl    $0xFFFF, %ecx
        movl    $ACC_DATA0 | FLAG_32, %edx
        call    make_seg
        GDT_SLOT SEL_LDT, %edi
        movl    $LDT_BASE, %ebx
        movl    $0x7, %ecx
        movl    $ACC_LDT, %edx
        call    make_seg
        movl    $TSS_E, %edi
        movl    $task_e, %ebx
        movl    $STACK_TASK1, %ecx
        call    init_tss32
        movl    $PD2, TSS_E + TSS_CR3
        movl    $SEL_LDT, TSS_E + TSS_LDT
        movl    $0x04, TSS_E + TSS_DS           # LDT entry 0
        movl    $SEL_TSS_E, %eax
        movl    $TSS_E, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        call    tss_desc
        lcall   $SEL_TSS_E, $0
        EXPECT_EQ var0, $MAGIC, 1               # through the LDT segment
        EXPECT_EQ var1, $MAGIC, 2               # through the new CR3's alias
        EXPECT_EQ var2, $PD2, 3
        EXPECT_EQ var3, $SEL_LDT, 4
        EXPECT_EQ var4, $0x04, 5                # DS selector in E
        movl    %cr3, %eax
        EXPECT_EQ %eax, $PD1, 6
        sldt    %ax
        movzwl  %ax, %eax
        EXPECT_EQ %eax, $0, 7
        xorl    %eax, %eax
        ret
task_e:
        movl    %ds:0, %eax
        movl    %eax, %es:var0
        movl    %es:0x400000, %eax
        movl    %eax, %es:var1
        movl    %cr3, %eax
        movl    %eax, %es:var2
        sldt    %ax
        movzwl  %ax, %eax
        movl    %eax, %es:var3
        movw    %ds, %ax
        movzwl  %ax, %eax
        movl    %eax, %es:var4
        iretl
        jmp     task_e

# ---- nested tasks: A calls B, B calls C, IRETs unwind the chain ----
        TEST    t_nested, "nested tasks: A -> B -> C by CALL, IRET unwinds along the back links"
t_nested:
        movl    $TSS_B, %edi
        movl    $task_b_nest, %ebx
        movl    $STACK_TASK1, %ecx
        call    init_tss32
        movl    $SEL_TSS_B, %eax
        movl    $TSS_B, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        call    tss_desc
        movl    $TSS_C, %edi
        movl    $task_c_nest, %ebx
        movl    $STACK_TASK2, %ecx
        call    init_tss32
        movl    $SEL_TSS_C, %eax
        movl    $TSS_C, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        call    tss_desc
        movl    $0, var7
        lcall   $SEL_TSS_B, $0
        EXPECT_EQ var6, $SEL_TSS_B, 1           # C's back link
        EXPECT_EQ var5, $TSS_SEL, 2             # B's back link
        EXPECT_EQ var7, $2, 3                   # B resumed after C returned
        EXPECT_EQ var8, $ACC_TSS32|2, 4         # B busy while C ran
        movl    $SEL_TSS_C, %eax
        call    access_byte
        EXPECT_EQ %eax, $ACC_TSS32, 5
        xorl    %eax, %eax
        ret
task_b_nest:
        movl    $1, var7
        lcall   $SEL_TSS_C, $0
        incl    var7
        movzwl  TSS_B + TSS_LINK, %eax
        movl    %eax, var5
        iretl
task_c_nest:
        movzwl  TSS_C + TSS_LINK, %eax
        movl    %eax, var6
        movl    $SEL_TSS_B, %eax
        call    access_byte
        movl    %eax, var8
        iretl
