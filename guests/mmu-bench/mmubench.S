# Polyvisor MMU benchmark guest: a 64 KiB firmware ROM (same boot convention as guests/demo)
# that turns on 32-bit paging and runs page-table-heavy workloads, to compare MMU strategies.
#
#   WORKLOAD=0  endless: every round runs all four workloads briefly with self-checks and prints
#               "round N ok"; used to prove that swapping the MMU strategy changes nothing
#   WORKLOAD=1  ctxsw:  address-space switches (8 address spaces, CR3 reloaded 8 x ITERS times,
#               16 pages touched in each)
#   WORKLOAD=2  pfstorm: page-fault storm (1024 not-present pages written, each faulting once;
#               the #PF handler maps the page; then all unmapped and CR3 reloaded; ITERS rounds)
#   WORKLOAD=3  fork:   fork/exec-like page-table edits (64 PTEs copied read-only to a child
#               table, CR3 switch, copy-on-write faults that set RW and INVLPG, table torn down)
#   WORKLOAD=4  bigws:  a 16 MiB working set, one write per 4 KiB page, ITERS rounds (TLB misses)
# A benchmark workload prints "mmu-bench NAME done" and leaves through port 0xF4 with 0
# (exit status 1); any failed check prints "FAIL: ..." and leaves with 1 (status 3).
#
# Devices: COM1 at 0x3F8 (polled), isa-debug-exit at 0xF4. RAM: at least 64 MiB. IF stays 0.
# Paging: CR0.PG|WP, CR4.PGE; the kernel's identity map of 0-4 MiB is global.
#
# Memory (guest-physical = linear for the kernel map):
#   0x0009_F000 stack top            0x0010_0000 kernel page table (0-4 MiB, global)
#   0x0011_0000 + k*4K  page directory of address space k (k < 8)
#   0x0011_8000 page directory of the forked child
#   0x0012_0000 + k*4K  user page table of space k: 4 MiB + i*4K -> 0x40_0000 + k*64K + i*4K
#   0x0013_0000 page-fault-storm table (8-12 MiB -> 32-36 MiB frames, filled by #PF)
#   0x0014_0000 four tables mapping 16-32 MiB identically (the big working set)
#   0x0015_0000 fork parent table (12 MiB + i*4K -> 0xC0_0000 + i*4K), 0x0015_1000 child table
#   0x0000_0600 variables
        .ifndef WORKLOAD
        .equ    WORKLOAD, 0
        .endif

        .equ    ROM_SEG, 0xF000
        .equ    ROM_BASE, 0x000F0000
        .equ    CODE_SEL, 0x08
        .equ    DATA_SEL, 0x10
        .equ    COM1, 0x3F8
        .equ    EXIT_PORT, 0xF4
        .equ    STACK_TOP, 0x9F000

        .equ    KPT, 0x100000
        .equ    PD0, 0x110000
        .equ    PD_CHILD, 0x118000
        .equ    UPT0, 0x120000
        .equ    STORM_PT, 0x130000
        .equ    WS_PT, 0x140000
        .equ    FORK_PT, 0x150000
        .equ    CHILD_PT, 0x151000
        .equ    NSPACES, 8

        .equ    PF_MODE, 0x600          # 1: storm (map on fault), 2: copy-on-write
        .equ    PF_COUNT, 0x604
        .equ    ROUND, 0x608
        .equ    FAILS, 0x60C
        .equ    SCRATCH, 0x610

        .equ    PTE_P, 1
        .equ    PTE_RW, 2
        .equ    PTE_A, 0x20
        .equ    PTE_D, 0x40
        .equ    PTE_G, 0x100

        .if WORKLOAD == 0
        .equ    ITERS1, 4
        .equ    ITERS2, 1
        .equ    ITERS3, 4
        .equ    ITERS4, 1
        .else
        .equ    ITERS1, 20000
        .equ    ITERS2, 200
        .equ    ITERS3, 3000
        .equ    ITERS4, 400
        .endif

###########################################################################################
        .text
        .code16
start:
        cli
        cld
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7000, %sp
        lgdtl   %cs:gdt_desc
        movl    %cr0, %eax
        orb     $1, %al
        movl    %eax, %cr0
        ljmpl   $CODE_SEL, $pm_entry + ROM_BASE

        .code32
pm_entry:
        movw    $DATA_SEL, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $STACK_TOP, %esp
        lidtl   idt_desc + ROM_BASE
        call    uart_init
        movl    $msg_banner + ROM_BASE, %esi
        call    puts
        call    build_tables
        movl    $PD0, %eax
        movl    %eax, %cr3
        movl    %cr4, %eax
        orl     $0x80, %eax                     # CR4.PGE
        movl    %eax, %cr4
        movl    %cr0, %eax
        orl     $0x80010000, %eax               # CR0.PG | CR0.WP
        movl    %eax, %cr0
        movl    $0, ROUND
        movl    $0, FAILS
        movl    $0, SCRATCH + 4

        .if WORKLOAD == 0
forever:
        call    w_ctxsw
        call    w_pfstorm
        call    w_fork
        call    w_bigws
        incl    ROUND
        movl    $msg_round + ROM_BASE, %esi
        call    puts
        movl    ROUND, %eax
        call    put_dec
        movl    $msg_ok + ROM_BASE, %esi
        call    puts
        jmp     forever
        .else
        .if WORKLOAD == 1
        call    w_ctxsw
        movl    $msg_ctxsw + ROM_BASE, %esi
        .elseif WORKLOAD == 2
        call    w_pfstorm
        movl    $msg_pfstorm + ROM_BASE, %esi
        .elseif WORKLOAD == 3
        call    w_fork
        movl    $msg_fork + ROM_BASE, %esi
        .else
        call    w_bigws
        movl    $msg_bigws + ROM_BASE, %esi
        .endif
        pushl   %esi
        movl    $msg_done1 + ROM_BASE, %esi
        call    puts
        popl    %esi
        call    puts
        movl    $msg_done2 + ROM_BASE, %esi
        call    puts
        movb    $0, %al
        outb    %al, $EXIT_PORT
1:      cli
        hlt
        jmp     1b
        .endif

# fail: ESI = message. Prints "FAIL: msg" and leaves with status 3.
fail:
        pushl   %esi
        movl    $msg_fail + ROM_BASE, %esi
        call    puts
        popl    %esi
        call    puts
        movl    $msg_crlf + ROM_BASE, %esi
        call    puts
        movb    $1, %al
        outb    %al, $EXIT_PORT
1:      cli
        hlt
        jmp     1b

# ---------------------------------------------------------------------------------------
# Page tables (built with paging off)
build_tables:
        # kernel table: 0-4 MiB identity, writable, global
        xorl    %ecx, %ecx
1:      movl    %ecx, %eax
        shll    $12, %eax
        orl     $PTE_P | PTE_RW | PTE_G, %eax
        movl    %eax, KPT(,%ecx,4)
        incl    %ecx
        cmpl    $1024, %ecx
        jne     1b
        # clear 0x110000-0x160000 (directories and tables)
        movl    $0x110000, %edi
        movl    $(0x160000 - 0x110000) / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        # address spaces
        xorl    %ebx, %ebx                      # k
2:      movl    %ebx, %edi
        shll    $12, %edi
        addl    $PD0, %edi                      # PD of space k
        movl    $KPT | PTE_P | PTE_RW, 0(%edi)
        movl    %ebx, %eax
        shll    $12, %eax
        addl    $UPT0 | PTE_P | PTE_RW, %eax
        movl    %eax, 4(%edi)                   # 4-8 MiB: user table k
        movl    $STORM_PT | PTE_P | PTE_RW, 8(%edi)
        movl    $FORK_PT | PTE_P | PTE_RW, 12(%edi)
        movl    $WS_PT + 0x0000 | PTE_P | PTE_RW, 16(%edi)
        movl    $WS_PT + 0x1000 | PTE_P | PTE_RW, 20(%edi)
        movl    $WS_PT + 0x2000 | PTE_P | PTE_RW, 24(%edi)
        movl    $WS_PT + 0x3000 | PTE_P | PTE_RW, 28(%edi)
        # user table k: 16 pages
        movl    %ebx, %edi
        shll    $12, %edi
        addl    $UPT0, %edi
        movl    %ebx, %eax
        shll    $16, %eax
        addl    $0x400000 | PTE_P | PTE_RW, %eax
        xorl    %ecx, %ecx
3:      movl    %eax, (%edi,%ecx,4)
        movl    %eax, %edx
        andl    $0xFFFFF000, %edx
        movl    $0, (%edx)                      # the page's counter
        addl    $0x1000, %eax
        incl    %ecx
        cmpl    $16, %ecx
        jne     3b
        incl    %ebx
        cmpl    $NSPACES, %ebx
        jne     2b
        # child directory: like space 0 but 12-16 MiB through the child table
        movl    $PD0, %esi
        movl    $PD_CHILD, %edi
        movl    $8, %ecx
        rep movsl
        movl    $CHILD_PT | PTE_P | PTE_RW, PD_CHILD + 12
        # big working set: 16-32 MiB identity
        xorl    %ecx, %ecx
4:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $0x1000000 | PTE_P | PTE_RW, %eax
        movl    %eax, WS_PT(,%ecx,4)
        incl    %ecx
        cmpl    $4096, %ecx
        jne     4b
        # fork parent: 64 pages at 12 MiB
        xorl    %ecx, %ecx
5:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $0xC00000 | PTE_P | PTE_RW, %eax
        movl    %eax, FORK_PT(,%ecx,4)
        incl    %ecx
        cmpl    $64, %ecx
        jne     5b
        ret

# ---------------------------------------------------------------------------------------
# W1: address-space switches. Every space's 16 counters grow by ITERS1; A and D get set.
w_ctxsw:
        movl    $ITERS1, %ebp
1:      xorl    %ebx, %ebx
2:      movl    %ebx, %eax
        shll    $12, %eax
        addl    $PD0, %eax
        movl    %eax, %cr3
        movl    $0x400000, %edi
        movl    $16, %ecx
3:      incl    (%edi)
        addl    $0x1000, %edi
        loop    3b
        incl    %ebx
        cmpl    $NSPACES, %ebx
        jne     2b
        decl    %ebp
        jnz     1b
        # checks in the last space (k = 7): counters and accessed/dirty bits of its table
        movl    $0x400000, %edi
        xorl    %ecx, %ecx
4:      movl    (%edi), %eax
        subl    SCRATCH + 4, %eax               # counter before this call
        cmpl    $ITERS1, %eax
        jne     9f
        movl    UPT0 + 7 * 0x1000(,%ecx,4), %eax
        andl    $PTE_A | PTE_D, %eax
        cmpl    $PTE_A | PTE_D, %eax
        jne     8f
        addl    $0x1000, %edi
        incl    %ecx
        cmpl    $16, %ecx
        jne     4b
        movl    0x400000, %eax
        movl    %eax, SCRATCH + 4
        movl    $PD0, %eax
        movl    %eax, %cr3
        ret
8:      movl    $msg_f_ad + ROM_BASE, %esi
        jmp     fail
9:      movl    $msg_f_ctx + ROM_BASE, %esi
        jmp     fail

# ---------------------------------------------------------------------------------------
# W2: page-fault storm on 8-12 MiB; the #PF handler maps each page on first touch.
w_pfstorm:
        movl    $ITERS2, %ebp
1:      movl    $1, PF_MODE
        movl    $0, PF_COUNT
        movl    $0x800000, %edi
        xorl    %ecx, %ecx
2:      movl    %ecx, (%edi)                    # faults (not present), then retried
        addl    $0x1000, %edi
        incl    %ecx
        cmpl    $1024, %ecx
        jne     2b
        cmpl    $1024, PF_COUNT
        jne     9f
        # read back, check the values and the frames' dirty bits
        movl    $0x800000, %edi
        xorl    %ecx, %ecx
3:      cmpl    %ecx, (%edi)
        jne     9f
        movl    STORM_PT(,%ecx,4), %eax
        andl    $PTE_A | PTE_D, %eax
        cmpl    $PTE_A | PTE_D, %eax
        jne     8f
        addl    $0x1000, %edi
        incl    %ecx
        cmpl    $1024, %ecx
        jne     3b
        # unmap everything, flush (CR3 reload keeps the global kernel entries)
        movl    $STORM_PT, %edi
        movl    $1024, %ecx
        xorl    %eax, %eax
        rep stosl
        movl    %cr3, %eax
        movl    %eax, %cr3
        movl    $0, PF_MODE
        decl    %ebp
        jnz     1b
        ret
8:      movl    $msg_f_ad + ROM_BASE, %esi
        jmp     fail
9:      movl    $msg_f_storm + ROM_BASE, %esi
        jmp     fail

# ---------------------------------------------------------------------------------------
# W3: fork/exec-like: the child gets a read-only copy of the parent's 64 PTEs, writes every
# page (copy-on-write faults set RW and INVLPG), reads them back, exits (table cleared).
w_fork:
        movl    $ITERS3, %ebp
1:      xorl    %ecx, %ecx
2:      movl    FORK_PT(,%ecx,4), %eax          # "fork": copy, read-only
        andl    $~(PTE_RW | PTE_A | PTE_D), %eax
        movl    %eax, CHILD_PT(,%ecx,4)
        incl    %ecx
        cmpl    $64, %ecx
        jne     2b
        movl    $PD_CHILD, %eax
        movl    %eax, %cr3
        movl    $2, PF_MODE
        movl    $0, PF_COUNT
        movl    $0xC00000, %edi
        xorl    %ecx, %ecx
3:      movl    %ebp, (%edi,%ecx,8)             # each page's first write faults once
        addl    $0x1000 - 8, %edi
        incl    %ecx
        cmpl    $64, %ecx
        jne     3b
        cmpl    $64, PF_COUNT
        jne     9f
        movl    $PD0, %eax                      # back to the parent, child "exits"
        movl    %eax, %cr3
        movl    $0, PF_MODE
        movl    $CHILD_PT, %edi
        movl    $64, %ecx
        xorl    %eax, %eax
        rep stosl
        # the parent sees what the child wrote (shared frames in this model)
        movl    0xC00000 + 63 * 0x1000, %eax
        cmpl    %ebp, %eax
        jne     9f
        decl    %ebp
        jnz     1b
        ret
9:      movl    $msg_f_fork + ROM_BASE, %esi
        jmp     fail

# ---------------------------------------------------------------------------------------
# W4: a 16 MiB working set: one increment per 4 KiB page, ITERS4 rounds.
w_bigws:
        movl    0x1000000, %eax
        movl    %eax, SCRATCH + 8
        movl    $ITERS4, %ebp
1:      movl    $0x1000000, %edi
        movl    $4096, %ecx
2:      incl    (%edi)
        addl    $0x1000, %edi
        loop    2b
        decl    %ebp
        jnz     1b
        movl    0x1000000 + 4095 * 0x1000, %eax
        subl    SCRATCH + 8, %eax
        cmpl    $ITERS4, %eax
        jne     9f
        ret
9:      movl    $msg_f_ws + ROM_BASE, %esi
        jmp     fail

# ---------------------------------------------------------------------------------------
# #PF handler: PF_MODE 1 maps the storm page at CR2 (error code must be 2: write, not
# present, supervisor); PF_MODE 2 gives the child's page write access (error code 3:
# protection, write) and INVLPGs it. Anything else is a failure.
pf_handler:
        pushl   %eax
        pushl   %ebx
        pushl   %ecx
        movl    12(%esp), %ebx                  # error code
        movl    %cr2, %eax
        cmpl    $1, PF_MODE
        je      1f
        cmpl    $2, PF_MODE
        je      2f
        jmp     9f
1:      cmpl    $2, %ebx
        jne     9f
        movl    %eax, %ecx
        subl    $0x800000, %ecx
        shrl    $12, %ecx
        cmpl    $1024, %ecx
        jae     9f
        movl    %ecx, %ebx
        shll    $12, %ebx
        addl    $0x2000000 | PTE_P | PTE_RW, %ebx
        movl    %ebx, STORM_PT(,%ecx,4)
        jmp     3f
2:      cmpl    $3, %ebx
        jne     9f
        movl    %eax, %ecx
        subl    $0xC00000, %ecx
        shrl    $12, %ecx
        cmpl    $64, %ecx
        jae     9f
        orl     $PTE_RW, CHILD_PT(,%ecx,4)
        invlpg  (%eax)
3:      incl    PF_COUNT
        popl    %ecx
        popl    %ebx
        popl    %eax
        addl    $4, %esp
        iret
9:      movl    $msg_f_pf + ROM_BASE, %esi
        jmp     fail

exc_handler:
        movl    $msg_f_exc + ROM_BASE, %esi
        jmp     fail

# ---------------------------------------------------------------------------------------
uart_init:
        movw    $COM1 + 3, %dx
        movb    $0x80, %al                      # DLAB
        outb    %al, %dx
        movw    $COM1, %dx
        movb    $1, %al                         # 115200
        outb    %al, %dx
        movw    $COM1 + 1, %dx
        movb    $0, %al
        outb    %al, %dx
        movw    $COM1 + 3, %dx
        movb    $3, %al                         # 8N1
        outb    %al, %dx
        ret

putc:
        pushl   %edx
        pushl   %eax
        movw    $COM1 + 5, %dx
1:      inb     %dx, %al
        testb   $0x20, %al                      # LSR.THRE
        jz      1b
        popl    %eax
        movw    $COM1, %dx
        outb    %al, %dx
        popl    %edx
        ret

puts:
        pushl   %eax
        pushl   %esi
1:      lodsb
        testb   %al, %al
        jz      2f
        call    putc
        jmp     1b
2:      popl    %esi
        popl    %eax
        ret

# EAX in decimal
put_dec:
        pushl   %eax
        pushl   %ecx
        pushl   %edx
        pushl   %ebx
        movl    $10, %ebx
        xorl    %ecx, %ecx
1:      xorl    %edx, %edx
        divl    %ebx
        pushl   %edx
        incl    %ecx
        testl   %eax, %eax
        jnz     1b
2:      popl    %eax
        addb    $0x30, %al
        call    putc
        loop    2b
        popl    %ebx
        popl    %edx
        popl    %ecx
        popl    %eax
        ret

###########################################################################################
        .section .rodata
        .p2align 3
gdt:
        .quad   0
        .quad   0x00CF9B000000FFFF
        .quad   0x00CF93000000FFFF
gdt_end:
gdt_desc:
        .word   gdt_end - gdt - 1
        .long   gdt + ROM_BASE

        .macro  GATE handler
        .word   \handler
        .word   CODE_SEL
        .byte   0, 0x8E
        .word   ROM_BASE >> 16
        .endm
        .p2align 3
idt:
        .rept   14
        GATE    exc_handler
        .endr
        GATE    pf_handler
        .rept   17
        GATE    exc_handler
        .endr
idt_end:
idt_desc:
        .word   idt_end - idt - 1
        .long   idt + ROM_BASE

msg_banner:     .asciz  "Polyvisor MMU benchmark guest\r\n"
msg_round:      .asciz  "round "
msg_ok:         .asciz  " ok\r\n"
msg_done1:      .asciz  "mmu-bench "
msg_done2:      .asciz  " done\r\n"
msg_ctxsw:      .asciz  "ctxsw"
msg_pfstorm:    .asciz  "pfstorm"
msg_fork:       .asciz  "fork"
msg_bigws:      .asciz  "bigws"
msg_fail:       .asciz  "FAIL: "
msg_crlf:       .asciz  "\r\n"
msg_f_ad:       .asciz  "accessed/dirty bits not set"
msg_f_ctx:      .asciz  "address-space counters"
msg_f_storm:    .asciz  "page-fault storm"
msg_f_fork:     .asciz  "fork copy-on-write"
msg_f_ws:       .asciz  "working set"
msg_f_pf:       .asciz  "unexpected page fault (error code or address)"
msg_f_exc:      .asciz  "unexpected CPU exception"

        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        ljmp    $ROM_SEG, $start
