# Polyvisor CPU test kernel: virtual-8086 mode (SDM Vol. 3A, chapter 20), without VME.
# Entry by IRET and by a task switch, real-mode style segments, IOPL-sensitive instructions
# (CLI, STI, PUSHF, POPF, INT n) raising #GP(0) to a ring-0 monitor that emulates and IRETs
# back, INT n with IOPL 3 to a ring-0 handler (the frame with ES/DS/FS/GS, null data
# segments in the handler, IRET back to virtual-8086 mode), IRET inside virtual-8086 mode
# (IOPL unchanged), and the I/O permission bitmap applying even with IOPL 3.
        .include "common.inc"

        .equ    V86_SP, 0x7000                  # SS:SP = 0000:7000
        .equ    LOW_VARS, 0x0600                # what virtual-8086 code stores (DS = 0 or 0x50:0x100)
        .equ    SEL_TSS_V, 0x38
        .equ    TSS_V, TSS_AREA

        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "v86"
        .text

# enter_v86: EBX = linear address of the code (in the ROM), EDX = extra EFLAGS (IOPL).
# IRET to virtual-8086 mode: CS = F000, IP = EBX - ROM_BASE, SS:SP = 0:7000, DS = ES = FS = GS = 0.
enter_v86:
        pushl   $0                              # GS
        pushl   $0                              # FS
        pushl   $0                              # DS
        pushl   $0                              # ES
        pushl   $0                              # SS
        pushl   $V86_SP                         # ESP
        orl     $EFL_VM | 2, %edx
        pushl   %edx                            # EFLAGS
        pushl   $ROM_SEG                        # CS
        subl    $ROM_BASE, %ebx
        pushl   %ebx                            # EIP
        iretl

clear_low_vars:
        movl    $LOW_VARS, %edi
        movl    $0x40 / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        movl    $0, 0x500
        ret

# ---- entering by IRET, segments, leaving by INT n (IOPL 3) ----
        TEST    t_v86_enter, "IRET to virtual-8086 mode: real-mode segments, INT n out pushes ES/DS/FS/GS"
t_v86_enter:
        call    clear_low_vars
        TRY     1f
        movl    $v86_basic, %ebx
        movl    $EFL_IOPL3, %edx
        call    enter_v86
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        movzwl  LOW_VARS, %eax
        EXPECT_EQ %eax, $ROM_SEG, 2             # CS seen in virtual-8086 mode
        movzwl  LOW_VARS + 2, %eax
        EXPECT_EQ %eax, $0, 3                   # SS
        movzwl  LOW_VARS + 4, %eax
        andl    $0x3000, %eax
        EXPECT_EQ %eax, $EFL_IOPL3, 4           # PUSHF shows IOPL
        movzwl  0x500, %eax
        EXPECT_EQ %eax, $0xA5A5, 5              # ES = 0x50 wrote linear 0x500
        EXPECT_EQ fault_cs, $ROM_SEG, 6
        EXPECT_EQ fault_eip, $v86_basic_end-ROM_BASE, 7
        movl    fault_eflags, %eax
        andl    $EFL_VM, %eax
        EXPECT_EQ %eax, $EFL_VM, 8
        EXPECT_EQ fault_esp, $V86_SP, 9
        EXPECT_EQ fault_ss, $0, 10
        EXPECT_EQ fault_v86, $0x50, 11          # ES pushed
        EXPECT_EQ fault_v86+4, $0, 12           # DS pushed
        EXPECT_EQ fault_ds, $0, 13              # DS in the ring-0 handler: null
        EXPECT_EQ fault_handler_esp, $STACK0_TSS-36, 14   # 9 dwords from TSS ESP0
        xorl    %eax, %eax
        ret

# ---- IOPL-sensitive instructions with IOPL 0: #GP(0) to the monitor ----
        TEST    t_v86_sensitive, "IOPL 0: CLI/PUSHF/STI/POPF/INT n raise #GP(0) to the ring-0 monitor"
t_v86_sensitive:
        call    clear_low_vars
        IDT_SLOT 13, %edi
        movl    $CODE0, %eax
        movl    $h_monitor, %ebx
        movl    $ACC_INT_GATE32, %edx
        call    make_gate
        movl    $0, var0                        # count
        movl    $0, var1                        # opcodes, shifted in
        movl    $0, var2                        # error codes, or-ed
        movl    $0xFFFF, var3                   # DS at the monitor's entry
        TRY     1f
        movl    $v86_sensitive, %ebx
        xorl    %edx, %edx
        call    enter_v86
1:      EXPECT_EQ var0, $4, 1
        EXPECT_EQ var1, $0xFA9CFB9D, 2          # CLI, PUSHF, STI, POPF
        EXPECT_EQ var2, $0, 3
        EXPECT_EQ var3, $0, 4
        EXPECT_FAULT 13,0,5                     # INT 0x40 with IOPL 0: #GP(0)
        EXPECT_EQ fault_eip, $v86_sensitive_int-ROM_BASE, 7
        EXPECT_EQ fault_cs, $ROM_SEG, 8
        movzwl  LOW_VARS, %eax
        EXPECT_EQ %eax, $0x77, 9                # the code went on between the faults
        xorl    %eax, %eax
        ret

# The monitor: #GP from virtual-8086 mode. Emulates CLI/STI/PUSHF/POPF by skipping them
# (counted, opcode recorded); anything else goes to the usual exception path.
h_monitor:
        pushl   %eax
        pushl   %ebx
        movw    %ds, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var3
        movw    $DATA0, %ax
        movw    %ax, %ds
        movl    16(%esp), %eax                  # CS (after EBX, EAX, error code, EIP)
        shll    $4, %eax
        addl    12(%esp), %eax                  # + IP
        movzbl  (%eax), %eax
        cmpb    $0xFA, %al
        je      1f
        cmpb    $0xFB, %al
        je      1f
        cmpb    $0x9C, %al
        je      1f
        cmpb    $0x9D, %al
        je      1f
        popl    %ebx
        popl    %eax
        jmp     exc_stub_13                     # error code still on the stack
1:      incl    var0
        shll    $8, var1
        orl     %eax, var1
        movl    8(%esp), %eax
        orl     %eax, var2
        incl    12(%esp)                        # skip the one-byte instruction
        popl    %ebx
        popl    %eax
        addl    $4, %esp                        # the error code
        iretl

# ---- INT n with IOPL 3: to ring 0 and IRET back to virtual-8086 mode ----
        TEST    t_v86_int_roundtrip, "INT n from virtual-8086 mode (IOPL 3) to ring 0 and IRET back"
t_v86_int_roundtrip:
        call    clear_low_vars
        IDT_SLOT 0x41, %edi
        movl    $CODE0, %eax
        movl    $h_v86_int, %ebx
        movl    $ACC_INT_GATE32 | DPL3, %edx
        call    make_gate
        movl    $0xFFFF, var0
        TRY     1f
        movl    $v86_roundtrip, %ebx
        movl    $EFL_IOPL3, %edx
        call    enter_v86
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var0, $0, 2                   # DS null in the ring-0 handler
        EXPECT_EQ var1, $0x1234, 3              # ES pushed
        EXPECT_EQ var2, $0x0050, 4              # DS pushed
        EXPECT_EQ var3, $0x2345, 5              # FS pushed
        EXPECT_EQ var4, $0x3456, 6              # GS pushed
        movl    var5, %eax
        andl    $EFL_VM, %eax
        EXPECT_EQ %eax, $EFL_VM, 7              # EFLAGS pushed with VM
        EXPECT_EQ var6, $STACK0_TSS-36, 8       # ESP in the handler
        EXPECT_EQ var7, $CODE0, 9               # CS in the handler
        movzwl  LOW_VARS, %eax
        EXPECT_EQ %eax, $0x1234, 10             # ES back in virtual-8086 mode
        movzwl  LOW_VARS + 2, %eax
        EXPECT_EQ %eax, $0x2345, 11             # FS
        movzwl  LOW_VARS + 4, %eax
        EXPECT_EQ %eax, $0x3456, 12             # GS
        movzwl  LOW_VARS + 6, %eax
        EXPECT_EQ %eax, $0x0050, 13             # DS
        movzwl  LOW_VARS + 8, %eax
        EXPECT_EQ %eax, $0x4242, 14             # BX set by the handler
        movzwl  LOW_VARS + 10, %eax
        EXPECT_EQ %eax, $ROM_SEG, 15            # CS
        xorl    %eax, %eax
        ret
h_v86_int:
        movw    %ds, %ax
        movzwl  %ax, %eax
        movl    %eax, %ss:var0
        movw    $DATA0, %ax
        movw    %ax, %ds
        movl    20(%esp), %eax
        movl    %eax, var1
        movl    24(%esp), %eax
        movl    %eax, var2
        movl    28(%esp), %eax
        movl    %eax, var3
        movl    32(%esp), %eax
        movl    %eax, var4
        movl    8(%esp), %eax
        movl    %eax, var5
        movl    %esp, var6
        movw    %cs, %ax
        movzwl  %ax, %eax
        movl    %eax, var7
        movw    $0x4242, %bx
        iretl

# ---- IRET inside virtual-8086 mode (IOPL 3): IOPL and VM stay ----
        TEST    t_v86_iret_inside, "IRET in virtual-8086 mode with IOPL 3 keeps IOPL and VM"
t_v86_iret_inside:
        call    clear_low_vars
        TRY     1f
        movl    $v86_iret, %ebx
        movl    $EFL_IOPL3, %edx
        call    enter_v86
1:      EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        movzwl  LOW_VARS, %eax
        andl    $0x3200, %eax
        EXPECT_EQ %eax, $0x3200, 2              # IOPL 3 kept, IF 1 loaded
        movl    fault_eflags, %eax
        andl    $EFL_VM, %eax
        EXPECT_EQ %eax, $EFL_VM, 3
        EXPECT_EQ fault_eip, $v86_iret_end-ROM_BASE, 4
        xorl    %eax, %eax
        ret

# ---- I/O permission bitmap in virtual-8086 mode (IOPL 3 does not bypass it) ----
        TEST    t_v86_io_bitmap, "I/O bitmap in virtual-8086 mode: allowed port works, denied port #GP(0)"
t_v86_io_bitmap:
        call    clear_low_vars
        andb    $~(1 << (COM1_SCRATCH & 7)), IOPB + (COM1_SCRATCH >> 3)   # allow the UART scratch register only
        TRY     1f
        movl    $v86_io, %ebx
        movl    $EFL_IOPL3, %edx
        call    enter_v86
1:      EXPECT_FAULT 13,0,1
        EXPECT_EQ fault_eip, $v86_io_denied-ROM_BASE, 3
        movzbl  LOW_VARS, %eax
        EXPECT_EQ %eax, $0x5A, 4                # written and read back through port 0x3FF
        xorl    %eax, %eax
        ret

# ---- entering virtual-8086 mode by a task switch ----
        TEST    t_v86_task, "task switch into a virtual-8086 task (EFLAGS.VM in the TSS), INT n to its ring 0"
t_v86_task:
        call    clear_low_vars
        movl    $TSS_V, %edi
        movl    $0, %ebx
        movl    $STACK_TASK2, %ecx
        call    init_tss32
        movl    $v86_task - ROM_BASE, TSS_V + TSS_EIP
        movl    $EFL_VM | EFL_IOPL3 | 2, TSS_V + TSS_EFLAGS
        movl    $V86_SP, TSS_V + TSS_ESP
        movl    $ROM_SEG, TSS_V + TSS_CS
        movl    $0, TSS_V + TSS_SS
        movl    $0, TSS_V + TSS_DS
        movl    $0x50, TSS_V + TSS_ES
        movl    $0, TSS_V + TSS_FS
        movl    $0, TSS_V + TSS_GS
        GDT_SLOT SEL_TSS_V, %edi
        movl    $TSS_V, %ebx
        movl    $0x67, %ecx
        movl    $ACC_TSS32, %edx
        call    make_seg
        IDT_SLOT 0x42, %edi
        movl    $CODE0, %eax
        movl    $h_v86_task, %ebx
        movl    $ACC_INT_GATE32 | DPL3, %edx
        call    make_gate
        ljmp    $SEL_TSS_V, $0
        EXPECT_EQ var0, $SEL_TSS_V, 1           # TR in the handler
        EXPECT_EQ var1, $ROM_SEG, 2             # CS pushed
        movl    var2, %eax
        andl    $EFL_VM, %eax
        EXPECT_EQ %eax, $EFL_VM, 3
        EXPECT_EQ var3, $STACK_TASK2-36, 4      # the task's ESP0
        EXPECT_EQ var4, $0x50, 5                # ES pushed (from the TSS)
        movzwl  LOW_VARS, %eax
        EXPECT_EQ %eax, $ROM_SEG, 6
        movzwl  0x500, %eax
        EXPECT_EQ %eax, $0xBEEF, 7              # ES:0 = linear 0x500
        xorl    %eax, %eax
        ret
h_v86_task:
        movw    $DATA0, %ax
        movw    %ax, %ds
        str     %ax
        movzwl  %ax, %eax
        movl    %eax, var0
        movl    4(%esp), %eax
        movl    %eax, var1
        movl    8(%esp), %eax
        movl    %eax, var2
        movl    %esp, var3
        movl    20(%esp), %eax
        movl    %eax, var4
        ljmp    $TSS_SEL, $0                    # back to the runner's task (available: it JMPed)

# ---------------------------------------------------------------------------------------
# Virtual-8086 code (16-bit, runs at F000:IP from the ROM).
        .code16
v86_basic:
        movw    %cs, %ax
        movw    %ax, LOW_VARS
        movw    %ss, %ax
        movw    %ax, LOW_VARS + 2
        pushfw
        popw    %ax
        movw    %ax, LOW_VARS + 4
        movw    $0x0050, %ax
        movw    %ax, %es
        movw    $0xA5A5, %es:0
        int     $RETURN_VECTOR
v86_basic_end:

v86_sensitive:
        cli
        pushfw
        sti
        popfw
        movw    $0x77, LOW_VARS
v86_sensitive_int:
        int     $RETURN_VECTOR

v86_roundtrip:
        movw    $0x0050, %ax
        movw    %ax, %ds
        movw    $0x1234, %ax
        movw    %ax, %es
        movw    $0x2345, %ax
        movw    %ax, %fs
        movw    $0x3456, %ax
        movw    %ax, %gs
        int     $0x41
        movw    %es, 0x100                      # DS = 0x50: linear 0x600
        movw    %fs, 0x102
        movw    %gs, 0x104
        movw    %ds, 0x106
        movw    %bx, 0x108
        movw    %cs, 0x10A
        int     $RETURN_VECTOR

v86_iret:
        pushw   $0x0202                         # FLAGS: IF = 1, IOPL = 0
        pushw   %cs
        call    1f
1:      popw    %ax
        addw    $2f - 1b, %ax
        pushw   %ax
        iret                                    # 16-bit IRET within virtual-8086 mode
2:      pushfw
        popw    %ax
        movw    %ax, LOW_VARS
        int     $RETURN_VECTOR
v86_iret_end:

v86_io:
        movw    $COM1_SCRATCH, %dx
        movb    $0x5A, %al
        outb    %al, %dx
        movb    $0, %al
        inb     %dx, %al
        movb    %al, LOW_VARS
        movw    $COM1_SCRATCH - 1, %dx
v86_io_denied:
        inb     %dx, %al
        int     $RETURN_VECTOR

v86_task:
        movw    %cs, %ax
        movw    %ax, LOW_VARS
        movw    $0xBEEF, %es:0
        int     $0x42
        .code32
