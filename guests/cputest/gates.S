# Polyvisor CPU test kernel: gates and privilege (SDM Vol. 3A, 5.8 and 6.12).
# Interrupt vs trap gates (IF), gate DPL (#GP(vector*8+2)), not-present gates (#NP), IDT
# limit, ring 3 -> ring 0 interrupts with the stack switch from the TSS, call gates (16- and
# 32-bit, same privilege and to an inner ring with parameters copied from the caller's stack),
# RETF to an outer ring with the data-segment nulling rule, IRET to ring 3, conforming code
# segments, and a double fault (#NP while delivering #NP).
        .include "common.inc"

        .equ    SEL_GATE32, 0x38                # call gates and segments of these tests
        .equ    SEL_GATE16, 0x40
        .equ    SEL_GATE32_R3, 0x48             # DPL 3, 2 parameters, to CODE0
        .equ    SEL_GATE16_R3, 0x50             # DPL 3, 1 parameter, 16-bit, to CODE0_ROM
        .equ    SEL_CONFORMING0, 0x58           # conforming code, DPL 0
        .equ    SEL_CODE0_NC, 0x60              # a second non-conforming DPL 0 code segment
        .equ    SEL_DATA3_ALT, 0x68             # another DPL 3 data segment
        .equ    SEL_CODE3_ROM, 0x73             # DPL 3 code, base ROM_BASE, limit 0xFFFF (16-bit offsets)

        .text
        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "gates"
        .text

# ---- interrupt gate clears IF, trap gate keeps it; IRET restores it ----
        TEST    t_int_trap_if, "interrupt gate clears IF, trap gate keeps it, IRET restores"
t_int_trap_if:
        IDT_SLOT 0x50, %edi
        movl    $CODE0, %eax
        movl    $h_record_flags, %ebx
        movl    $ACC_INT_GATE32, %edx
        call    make_gate
        IDT_SLOT 0x51, %edi
        movl    $ACC_TRAP_GATE32, %edx
        call    make_gate
        sti
        int     $0x50
        pushfl
        popl    %ecx
        cli
        EXPECT_EQ var0, $0, 1                   # IF in the interrupt-gate handler
        testl   $EFL_IF, %ecx
        jz      1f
        sti
        int     $0x51
        cli
        EXPECT_EQ var0, $EFL_IF, 2              # IF in the trap-gate handler
        xorl    %eax, %eax
        ret
1:      FAIL    3
h_record_flags:
        pushfl
        popl    var0
        andl    $EFL_IF, var0
        iretl

# ---- gate DPL < CPL for INT n from ring 3: #GP(vector * 8 + 2) ----
        TEST    t_gate_dpl, "INT n through a DPL 0 gate from ring 3: #GP(vector*8+2)"
t_gate_dpl:
        IDT_SLOT 0x50, %edi
        movl    $CODE0, %eax
        movl    $h_record_flags, %ebx
        movl    $ACC_INT_GATE32, %edx
        call    make_gate
        TRY     1f
        movl    $r3_int50, %ebx
        movl    $STACK3, %ecx
        xorl    %edx, %edx
        call    enter_ring3
1:      EXPECT_FAULT 13, 0x50*8+2, 1
        EXPECT_EQ fault_cs, $CODE3, 3
        EXPECT_EQ fault_eip, $r3_int50, 4
        EXPECT_EQ fault_ss, $DATA3, 5
        EXPECT_EQ fault_esp, $STACK3, 6
        xorl    %eax, %eax
        ret
r3_int50:
        int     $0x50
        BACK_TO_RING0

# ---- not-present gate: #NP(vector * 8 + 2); vector beyond the IDT limit: #GP(vector * 8 + 2) ----
        TEST    t_gate_np_limit, "not-present gate #NP, vector beyond IDT limit #GP"
t_gate_np_limit:
        IDT_SLOT 0x52, %edi
        movl    $CODE0, %eax
        movl    $h_record_flags, %ebx
        movl    $ACC_INT_GATE32 & 0x7F, %edx    # P = 0
        call    make_gate
        TRY     1f
        int     $0x52
        FAIL    1
1:      EXPECT_FAULT 11, 0x52*8+2, 2
        movw    $0x80 * 8 - 1, var0             # IDT limit: vectors 0-0x7F
        movl    $IDT, var0 + 2
        lidtl   var0
        TRY     2f
        int     $0x90
        FAIL    4
2:      EXPECT_FAULT 13, 0x90*8+2, 5
        xorl    %eax, %eax
        ret

# ---- ring 3 -> ring 0 through a DPL 3 interrupt gate: stack from TSS.ESP0, frame ----
        TEST    t_ring3_int_frame, "INT from ring 3: stack switch to TSS ESP0, frame, IRET back"
t_ring3_int_frame:
        IDT_SLOT 0x53, %edi
        movl    $CODE0, %eax
        movl    $h_ring0_frame, %ebx
        movl    $ACC_INT_GATE32 | DPL3, %edx
        call    make_gate
        movl    $0, var5
        TRY     1f
        movl    $r3_int53, %ebx
        movl    $STACK3 - 0x10, %ecx
        xorl    %edx, %edx
        call    enter_ring3
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var0, $STACK0_TSS-20, 2     # ESP in the handler
        EXPECT_EQ var1, $r3_int53_next, 3       # saved EIP
        EXPECT_EQ var2, $CODE3, 4               # saved CS
        EXPECT_EQ var3, $STACK3-0x10, 5       # saved ESP
        EXPECT_EQ var4, $DATA3, 6               # saved SS
        EXPECT_EQ var5, $0x1234, 7              # ring 3 went on after the IRET
        EXPECT_EQ var6, $DATA0, 8               # SS in the handler (TSS SS0)
        EXPECT_EQ fault_cs, $CODE3, 9
        xorl    %eax, %eax
        ret
r3_int53:
        int     $0x53
r3_int53_next:
        movl    $0x1234, %ss:var5
        BACK_TO_RING0
h_ring0_frame:
        movl    %esp, %ss:var0
        pushl   %eax
        movl    4(%esp), %eax
        movl    %eax, %ss:var1
        movl    8(%esp), %eax
        movl    %eax, %ss:var2
        movl    16(%esp), %eax
        movl    %eax, %ss:var3
        movl    20(%esp), %eax
        movl    %eax, %ss:var4
        movw    %ss, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var6
        popl    %eax
        iretl

# ---- call gates at the same privilege: 32-bit and 16-bit ----
        TEST    t_call_gate_same, "call gates (32- and 16-bit) at the same privilege"
t_call_gate_same:
        GDT_SLOT SEL_GATE32, %edi
        movl    $CODE0, %eax
        movl    $cg_target32, %ebx
        movl    $ACC_CALL_GATE32, %edx
        call    make_gate
        GDT_SLOT SEL_GATE16, %edi
        movl    $CODE0_ROM, %eax
        movl    $cg_target16 - ROM_BASE, %ebx
        movl    $ACC_CALL_GATE16, %edx
        call    make_gate
        movl    %esp, %esi
        lcall   $SEL_GATE32, $0x12345678        # the offset is ignored
cg_ret32:
        EXPECT_EQ var0, $CODE0, 1               # pushed CS
        EXPECT_EQ var1, $cg_ret32, 2            # pushed EIP
        leal    -8(%esi), %eax
        EXPECT_EQ var2, %eax, 3                 # ESP in the target
        EXPECT_EQ var3, $CODE0, 4               # CS in the target
        ljmpl   $CODE0_ROM, $3f - ROM_BASE      # a 16-bit gate returns to a 16-bit IP: call from the ROM segment
3:      lcall   $SEL_GATE16, $0
cg_ret16:
        ljmpl   $CODE0, $4f
4:
        EXPECT_EQ var0, $CODE0_ROM, 5           # pushed CS (16 bits): the caller's
        movl    $cg_ret16, %eax
        andl    $0xFFFF, %eax
        EXPECT_EQ var1, %eax, 6                 # pushed IP (16 bits)
        leal    -4(%esi), %eax
        EXPECT_EQ var2, %eax, 7
        EXPECT_EQ var3, $CODE0_ROM, 8
        xorl    %eax, %eax
        ret
cg_target32:
        movl    4(%esp), %eax
        movl    %eax, var0
        movl    (%esp), %eax
        movl    %eax, var1
        movl    %esp, var2
        movw    %cs, %ax
        movzwl  %ax, %eax
        movl    %eax, var3
        lret
cg_target16:
        movzwl  2(%esp), %eax
        movl    %eax, var0
        movzwl  (%esp), %eax
        movl    %eax, var1
        movl    %esp, var2
        movw    %cs, %ax
        movzwl  %ax, %eax
        movl    %eax, var3
        lretw

# ---- 32-bit call gate from ring 3 to ring 0 with 2 parameters; RETF 8 back; segment nulling ----
        TEST    t_call_gate_inner32, "32-bit call gate ring 3 -> 0, 2 parameters, RETF 8, DS/ES nulled"
t_call_gate_inner32:
        GDT_SLOT SEL_GATE32_R3, %edi
        movl    $CODE0, %eax
        movl    $cg_inner32, %ebx
        movl    $ACC_CALL_GATE32 | DPL3 | (2 << 8), %edx
        call    make_gate
        GDT_SLOT SEL_DATA3_ALT, %edi
        xorl    %ebx, %ebx
        movl    $0xFFFFFFFF, %ecx
        movl    $ACC_DATA3 | FLAG_32, %edx
        call    make_seg
        TRY     1f
        movl    $r3_call32, %ebx
        movl    $STACK3, %ecx
        xorl    %edx, %edx
        call    enter_ring3
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var0, $r3_call32_ret, 2       # [ESP] return EIP
        EXPECT_EQ var1, $CODE3, 3               # [ESP+4] CS
        EXPECT_EQ var2, $0x2222, 4              # [ESP+8] parameter pushed last
        EXPECT_EQ var3, $0x1111, 5              # [ESP+12] parameter pushed first
        EXPECT_EQ var4, $STACK3-8, 6          # [ESP+16] caller's ESP
        EXPECT_EQ var5, $DATA3, 7               # [ESP+20] caller's SS
        EXPECT_EQ var6, $STACK0_TSS-24, 8     # ESP in the target
        EXPECT_EQ var7, $CODE0, 9               # CS (CPL 0) in the target
        EXPECT_EQ var8, $STACK3, 10             # ring-3 ESP after RETF 8
        EXPECT_EQ var9, $0, 11                  # DS after RETF to ring 3 (was DATA0): null
        EXPECT_EQ var10, $0, 12                 # ES (was DATA0): null
        EXPECT_EQ var11, $SEL_DATA3_ALT|3, 13 # FS (DPL 3 data): kept
        xorl    %eax, %eax
        ret
r3_call32:
        pushl   $0x1111
        pushl   $0x2222
        lcall   $SEL_GATE32_R3 | 3, $0
r3_call32_ret:
        movl    %esp, %ss:var8
        movw    %ds, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var9
        movw    %es, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var10
        movw    %fs, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var11
        BACK_TO_RING0
cg_inner32:
        movl    %esp, %ss:var6
        movw    $DATA0, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    $SEL_DATA3_ALT | 3, %ax
        movw    %ax, %fs
        movl    (%esp), %eax
        movl    %eax, var0
        movl    4(%esp), %eax
        movl    %eax, var1
        movl    8(%esp), %eax
        movl    %eax, var2
        movl    12(%esp), %eax
        movl    %eax, var3
        movl    16(%esp), %eax
        movl    %eax, var4
        movl    20(%esp), %eax
        movl    %eax, var5
        movw    %cs, %ax
        movzwl  %ax, %eax
        movl    %eax, var7
        lret    $8

# ---- 16-bit call gate from ring 3 to ring 0 with 1 word parameter; RETF 2 ----
        TEST    t_call_gate_inner16, "16-bit call gate ring 3 -> 0, 1 parameter, 16-bit frame, RETF 2"
t_call_gate_inner16:
        GDT_SLOT SEL_GATE16_R3, %edi
        movl    $CODE0_ROM, %eax
        movl    $cg_inner16 - ROM_BASE, %ebx
        movl    $ACC_CALL_GATE16 | DPL3 | (1 << 8), %edx
        call    make_gate
        GDT_SLOT SEL_CODE3_ROM, %edi
        movl    $ROM_BASE, %ebx
        movl    $0xFFFF, %ecx
        movl    $ACC_CODE3 | FLAG_32, %edx
        call    make_seg
        TRY     1f
        movw    $DATA3, %ax
        movw    %ax, %ds
        movw    %ax, %es
        pushl   $DATA3
        pushl   $0x7F00                         # 16-bit frames carry SP only: keep ESP < 64 KiB
        pushl   $2
        pushl   $SEL_CODE3_ROM                  # and IP only: run in a segment based at the ROM
        pushl   $r3_call16 - ROM_BASE
        iretl
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        movl    $r3_call16_ret, %eax
        andl    $0xFFFF, %eax
        EXPECT_EQ var0, %eax, 2                 # IP
        EXPECT_EQ var1, $SEL_CODE3_ROM, 3       # CS
        EXPECT_EQ var2, $0xBEEF, 4              # the parameter
        EXPECT_EQ var3, $0x7F00-2, 5          # caller's SP
        EXPECT_EQ var4, $DATA3, 6               # caller's SS
        EXPECT_EQ var6, $STACK0_TSS-10, 7     # ESP in the target
        EXPECT_EQ var8, $0x7F00, 8              # ring-3 ESP after RETF 2
        xorl    %eax, %eax
        ret
r3_call16:
        pushw   $0xBEEF
        lcall   $SEL_GATE16_R3 | 3, $0
r3_call16_ret:
        movl    %esp, %ss:var8
        BACK_TO_RING0
cg_inner16:
        movl    %esp, %ss:var6
        movw    $DATA0, %ax
        movw    %ax, %ds
        movzwl  (%esp), %eax
        movl    %eax, var0
        movzwl  2(%esp), %eax
        movl    %eax, var1
        movzwl  4(%esp), %eax
        movl    %eax, var2
        movzwl  6(%esp), %eax
        movl    %eax, var3
        movzwl  8(%esp), %eax
        movl    %eax, var4
        lretw   $2

# ---- conforming code: a far call from ring 3 keeps CPL 3; direct calls to other rings #GP ----
        TEST    t_conforming, "conforming code keeps CPL; direct far calls across rings #GP(selector)"
t_conforming:
        GDT_SLOT SEL_CONFORMING0, %edi
        xorl    %ebx, %ebx
        movl    $0xFFFFFFFF, %ecx
        movl    $ACC_CONFORMING0 | FLAG_32, %edx
        call    make_seg
        GDT_SLOT SEL_CODE0_NC, %edi
        movl    $ACC_CODE0 | FLAG_32, %edx
        call    make_seg
        movl    $0, var0
        TRY     1f
        movl    $r3_conforming, %ebx
        movl    $STACK3, %ecx
        xorl    %edx, %edx
        call    enter_ring3
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var0, $SEL_CONFORMING0|3, 2 # CS in conforming code called from ring 3: RPL = CPL = 3
        EXPECT_EQ var1, $CODE3, 3               # CS back in ring 3
        # ring 3 -> non-conforming DPL 0 code directly: #GP(selector)
        TRY     2f
        movl    $r3_call_nc, %ebx
        movl    $STACK3, %ecx
        xorl    %edx, %edx
        call    enter_ring3
2:      EXPECT_FAULT 13, SEL_CODE0_NC, 4
        # ring 0 -> DPL 3 non-conforming code directly: #GP(selector)
        TRY     3f
        ljmp    $CODE3, $r3_call_nc
3:      EXPECT_FAULT 13, CODE3&0xFFFC, 6
        xorl    %eax, %eax
        ret
r3_conforming:
        lcall   $SEL_CONFORMING0, $conf_target
        movw    %cs, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var1
        BACK_TO_RING0
conf_target:
        movw    %cs, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var0
        lret
r3_call_nc:
        lcall   $SEL_CODE0_NC, $conf_target
        BACK_TO_RING0

# ---- IRET to ring 3 nulls DS/ES holding DPL 0 segments ----
        TEST    t_iret_outer_nulls, "IRET to ring 3 nulls DS/ES/FS/GS with DPL < 3"
t_iret_outer_nulls:
        TRY     1f
        movw    $DATA0, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    $DATA3, %ax
        movw    %ax, %gs
        pushl   $DATA3
        pushl   $STACK3
        pushl   $2
        pushl   $CODE3
        pushl   $r3_segs
        iretl
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var0, $0, 2
        EXPECT_EQ var1, $0, 3
        EXPECT_EQ var2, $0, 4
        EXPECT_EQ var3, $DATA3, 5
        xorl    %eax, %eax
        ret
r3_segs:
        movw    %ds, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var0
        movw    %es, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var1
        movw    %fs, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var2
        movw    %gs, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var3
        BACK_TO_RING0

# ---- double fault: #NP while delivering #NP (contributory + contributory) ----
        TEST    t_double_fault, "double fault: #NP while delivering #NP gives #DF(0)"
t_double_fault:
        IDT_SLOT 11, %edi                       # #NP's own gate not present
        andb    $0x7F, 5(%edi)
        IDT_SLOT 0x52, %edi
        movl    $CODE0, %eax
        movl    $h_record_flags, %ebx
        movl    $ACC_INT_GATE32 & 0x7F, %edx
        call    make_gate
        TRY     1f
        int     $0x52
        FAIL    1
1:      EXPECT_FAULT 8, 0, 2
        xorl    %eax, %eax
        ret
