# Polyvisor CPU test kernel: IOPL and the I/O permission bitmap (SDM Vol. 1, 19.5 and 19.8).
# Ring 3 with IOPL 0: IN/OUT/INS/OUTS checked against the TSS bitmap (byte and word accesses,
# a word straddling two bitmap bytes, the two-byte read at the TSS limit, a map base beyond
# the limit); IOPL 3 bypasses the bitmap; ring 0 is never checked; CLI/STI at CPL 3 and POPF's
# silent IF rule.
        .include "common.inc"

        .equ    STRADDLE, 0x7F                  # a word read of ports 0x7F-0x80 (unused; 0x80 is the POST port)

        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "iobitmap"
        .text

# allow: EAX = port. Clears its bit in the bitmap.
allow:
        btrl    %eax, IOPB
        ret

# set_tss_limit: ECX = new TSS_MAIN limit. Rewrites the descriptor (available) and reloads TR.
set_tss_limit:
        pushl   %eax
        pushl   %ebx
        pushl   %edx
        pushl   %edi
        GDT_SLOT TSS_SEL, %edi
        movl    $TSS_MAIN, %ebx
        movl    $ACC_TSS32, %edx
        call    make_seg
        movw    $TSS_SEL, %ax
        ltr     %ax
        popl    %edi
        popl    %edx
        popl    %ebx
        popl    %eax
        ret

# ring3: EBX = ring-3 code, EDX = EFLAGS bits (IOPL). Returns after it faults or leaves.
ring3:
        TRY     1f
        movl    $STACK3, %ecx
        call    enter_ring3
1:      ret

        TEST    t_byte_access, "IOPL 0 ring 3: bitmap allows one port, denies its neighbour (#GP(0))"
t_byte_access:
        movl    $COM1_SCRATCH, %eax
        call    allow
        movl    $r3_out_in_scratch, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var0, $0xA7, 2                # written and read back
        movl    $r3_in_denied_setup, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_FAULT 13,0,3
        EXPECT_EQ fault_eip, $r3_in_denied, 5
        EXPECT_EQ fault_cs, $CODE3, 6
        xorl    %eax, %eax
        ret
r3_out_in_scratch:
        movw    $COM1_SCRATCH, %dx
        movb    $0xA7, %al
        outb    %al, %dx
        xorl    %eax, %eax
        inb     %dx, %al
        movl    %eax, var0
        BACK_TO_RING0
r3_in_denied_setup:
        movw    $COM1_SCRATCH - 1, %dx
r3_in_denied:
        inb     %dx, %al
        BACK_TO_RING0

        TEST    t_word_straddle, "a word access checks both ports, across two bitmap bytes"
t_word_straddle:
        movl    $STRADDLE, %eax                 # 0x7F: the last bit of a bitmap byte
        call    allow
        movl    $r3_inw_straddle, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_FAULT 13,0,1                     # 0x400 still denied
        movl    $STRADDLE + 1, %eax
        call    allow
        movl    $r3_inw_straddle, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 3
        xorl    %eax, %eax
        ret
r3_inw_straddle:
        movw    $STRADDLE, %dx
        inw     %dx, %ax
        BACK_TO_RING0

        TEST    t_limit, "the bitmap is read two bytes at a time within the TSS limit; map base beyond it"
t_limit:
        movl    $COM1_SCRATCH, %eax
        call    allow
        movl    $IOPB_OFFSET + (COM1_SCRATCH >> 3), %ecx   # the port's byte is the last in the limit
        call    set_tss_limit
        movl    $r3_out_in_scratch, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_FAULT 13,0,1                     # the second byte is beyond the limit
        movl    $IOPB_OFFSET + (COM1_SCRATCH >> 3) + 1, %ecx
        call    set_tss_limit
        movl    $r3_out_in_scratch, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 3
        movl    $TSS_MAIN_LIMIT, %ecx
        call    set_tss_limit
        movw    $0xFFF0, TSS_MAIN + TSS_IOPB    # map base beyond the limit: no port allowed
        movl    $r3_out_in_scratch, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_FAULT 13,0,4
        xorl    %eax, %eax
        ret

        TEST    t_iopl_bypass, "IOPL 3 in ring 3 and CPL 0 with IOPL 0 skip the bitmap"
t_iopl_bypass:
        movl    $r3_out_in_scratch, %ebx        # every port denied in the bitmap
        movl    $EFL_IOPL3, %edx
        call    ring3
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var0, $0xA7, 2
        movw    $COM1_SCRATCH, %dx              # ring 0, IOPL 0
        movb    $0x3C, %al
        outb    %al, %dx
        xorl    %eax, %eax
        inb     %dx, %al
        EXPECT_EQ %eax, $0x3C, 3
        xorl    %eax, %eax
        ret

        TEST    t_string_io, "INS/OUTS: allowed port works, denied port #GP(0) before any transfer"
t_string_io:
        movl    $COM1_SCRATCH, %eax
        call    allow
        movl    $0, var1
        movl    $r3_string_ok, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 1
        EXPECT_EQ var1, $0x9595, 2              # OUTSB twice then INSB into var1 (twice)
        movl    $0x11111111, var2
        movl    $r3_ins_denied, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_FAULT 13,0,3
        EXPECT_EQ var2, $0x11111111, 5          # nothing stored
        movl    $r3_outs_denied, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_FAULT 13,0,6
        xorl    %eax, %eax
        ret
r3_string_ok:
        movl    $var3, %esi
        movb    $0x95, var3
        movw    $COM1_SCRATCH, %dx
        outsb
        movl    $var1, %edi
        movl    $2, %ecx
        rep insb
        BACK_TO_RING0
r3_ins_denied:
        movl    $var2, %edi
        movw    $COM1_SCRATCH - 1, %dx
        insb
        BACK_TO_RING0
r3_outs_denied:
        movl    $var3, %esi
        movw    $COM1_SCRATCH - 1, %dx
        outsb
        BACK_TO_RING0

        TEST    t_iopl_cli, "CPL 3: CLI #GP(0) with IOPL 0, allowed with IOPL 3; POPF leaves IF alone"
t_iopl_cli:
        movl    $r3_cli, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_FAULT 13,0,1
        EXPECT_EQ fault_eip, $r3_cli, 3
        movl    $r3_cli, %ebx
        movl    $EFL_IOPL3, %edx
        call    ring3
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 4
        movl    $r3_popf, %ebx
        xorl    %edx, %edx
        call    ring3
        EXPECT_EQ fault_vec, $RETURN_VECTOR, 5
        EXPECT_EQ var0, $0, 6                   # IF still 0, no fault
        EXPECT_EQ var1, $0, 7                   # IOPL still 0
        xorl    %eax, %eax
        ret
r3_cli:
        cli
        sti
        BACK_TO_RING0
r3_popf:
        pushl   $EFL_IF | EFL_IOPL3 | 2
        popfl
        pushfl
        popl    %eax
        movl    %eax, %ecx
        andl    $EFL_IF, %eax
        movl    %eax, var0
        andl    $EFL_IOPL3, %ecx
        movl    %ecx, var1
        BACK_TO_RING0
