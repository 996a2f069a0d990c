# Polyvisor benchmark guests: 64 KiB firmware ROMs (same boot convention as guests/demo, see
# guests/demo/README.md) that spin in one tight 32-bit loop and print a marker line on COM1
# after every fixed number of iterations, forever:
#
#   bench-loop.rom (KERNEL=1): "loop: N" after LOOP_ITER iterations of `dec ecx; jnz`
#                              = 2 * LOOP_ITER + 1 instructions between two markers
#   bench-mix.rom  (KERNEL=2): "mix: N" after MIX_ITER iterations of a 7-instruction ALU and
#                              memory mix = 7 * MIX_ITER + 2 instructions between two markers
#   bench-copy.rom (KERNEL=3): "copy: N" after COPY_PASSES passes of: rep movsl of 256 KiB, a
#                              checksum loop over the copy, a copy-back loop that mixes in the sum
#   bench-call.rom (KERNEL=4): "call: N" after FIB_REPS calls of a recursive fib(FIB_N)
#   bench-intp.rom (KERNEL=5): "intp: N" after INTP_ITER passes of a bytecode interpreter over an
#                              11-op program (movzbl opcode, jmp *table, data-dependent branches)
#   bench-page.rom (KERNEL=6): "page: N" after PAGE_ITER rounds over 4 page directories: load CR3,
#                              touch 8 pages of that address space, next directory
#   bench-trap.rom (KERNEL=7): "trap: N" after TRAP_ITER rounds of #UD (ud2), INT 0x30 and #DE
#                              (div by 0), each handled by a handler that fixes up and IRETs
#
# plus the marker itself (a few hundred instructions, polled UART output: under 0.001 %).
# The exact count per marker of each kernel is derived next to its code below (and in
# README.md): a REP string instruction counts once per iteration (as a loop of MOVSL would),
# an instruction that faults counts once (as the engines' counters count it).
#
# Verification builds (not committed): --defsym EXIT_AFTER=N prints no markers (3 instructions
# per period instead: inc, cmp, jne) and writes to the isa-debug-exit port 0xF4 after N periods,
# so the retired-instruction counts of builds with N = 1 and N = 2 differ by exactly one period
# plus 3 (see README.md).
# bench/cpu-throughput turns the wall time between markers into instructions per second, the
# same way for every engine and for QEMU. N is printed in hex (8 digits).
#
# Instruction forms used (AT&T mnemonics, opcode bytes as assembled):
#  16-bit real mode: cli (FA); cld (FC); lgdt m16&32 with CS override and operand-size prefix
#   (2E 66 0F 01 /2); mov r32,CR0 (0F 20); or AL,imm8 (0C); mov CR0,r32 (0F 22);
#   jmp ptr16:32 (66 EA); jmp ptr16:16 (EA, the reset vector)
#  32-bit flat protected mode: mov r16,imm16 (66 B8+r); mov Sreg,r/m16 (8E); mov r32,imm32 (B8+r);
#   mov r8,imm8 (B0+r); out DX,AL (EE); in AL,DX (EC); test AL,imm8 (A8); jz/jnz rel8 (74, 75);
#   push/pop r32 (50+r, 58+r); call rel32 (E8); ret (C3); jmp rel8 (EB); lods m8 (AC);
#   test r/m8,r8 (84); inc r32 (40+r); dec r32 (48+r); mov r/m32,r32 (89); mov r32,r/m32 (8B);
#   rol r/m32,imm8 (C1 /0); and AL,imm8 (24); cmp AL,imm8 (3C); add AL,imm8 (04); jbe rel8 (76)
#   mix kernel: add r/m32,r32 (01); xor r/m32,r32 (31); inc m32 (FF /0)

        .ifndef KERNEL
        .equ    KERNEL, 1
        .endif
        .equ    LOOP_ITER, 0x01000000           # 33.6 M instructions per marker
        .equ    MIX_ITER, 0x00400000            # 29.4 M instructions per marker
        .equ    COPY_PASSES, 10
        .equ    COPY_DWORDS, 0x10000            # 256 KiB
        .equ    COPY_SRC, 0x00100000
        .equ    COPY_DST, 0x00140000
        .equ    FIB_N, 20
        .equ    FIB_REPS, 40
        .equ    INTP_ITER, 0x20000
        .equ    INTP_MEM, 0x00030000            # the bytecode's 64 data words
        .equ    PAGE_ITER, 0x2000
        .equ    PAGE_SPACES, 4                  # page directories
        .equ    PAGE_TOUCH, 8                   # pages touched per address space
        .equ    PAGE_PD, 0x00040000             # PAGE_SPACES directories, 4 KiB apart
        .equ    PAGE_PT0, 0x00048000            # identity map of 0-4 MiB, shared by all
        .equ    PAGE_PT, 0x00049000             # one table per directory for 4-8 MiB
        .equ    PAGE_WINDOW, 0x00400000         # linear address of the per-space pages
        .equ    PAGE_FRAMES, 0x00200000         # physical frames: + space*64 KiB + page*4 KiB
        .equ    TRAP_ITER, 0x10000
        .equ    IDT, 0x00010000
        .equ    TRAP_VECTORS, 0x31              # 0 .. 0x30
        .equ    DEBUG_EXIT_PORT, 0xF4

        .equ    ROM_BASE, 0x000F0000            # low alias of the ROM (linear)
        .equ    ROM_SEG, 0xF000
        .equ    PM_STACK_TOP, 0x0009F000
        .equ    SCRATCH, 0x00020000             # the mix kernel's memory operands
        .equ    CODE_SEL, 0x08
        .equ    DATA_SEL, 0x10
        .equ    COM1, 0x3F8
        .equ    UART_LSR, 5
        .equ    LSR_THRE, 0x20

        # The bytecode interpreter's dispatch (3 instructions): fetch the opcode, advance,
        # jump through the handler table.
        .macro  NEXT
        movzbl  (%esi), %eax
        incl    %esi
        jmp     *(intp_table + ROM_BASE)(,%eax,4)
        .endm

        .text
        .code16
        .globl  start
start:
        cli
        cld
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
        movl    $PM_STACK_TOP, %esp
        # COM1: 115200 8N1 (divisor 1), FIFOs on, no interrupts
        movl    $uart_setup + ROM_BASE, %esi
1:      lodsb                                   # port offset (0xFF ends), then value
        cmpb    $0xFF, %al
        jz      2f
        movw    $COM1, %dx
        addb    %al, %dl
        lodsb
        outb    %al, %dx
        jmp     1b
2:      movl    $msg_banner + ROM_BASE, %esi
        call    puts
        xorl    %edi, %edi                      # marker counter
        xorl    %eax, %eax
        xorl    %ebx, %ebx
        .if KERNEL == 6
        call    page_setup
        .elseif KERNEL == 7
        call    trap_setup
        .endif
marker_loop:
        .if KERNEL == 1
        movl    $LOOP_ITER, %ecx
1:      decl    %ecx
        jnz     1b
        .elseif KERNEL == 2
        movl    $SCRATCH, %esi
        movl    $MIX_ITER, %ecx
1:      addl    %ecx, %eax
        xorl    %eax, %ebx
        movl    %ebx, (%esi)
        movl    (%esi), %edx
        incl    4(%esi)
        decl    %ecx
        jnz     1b
        .elseif KERNEL == 3
        # Per marker: push + mov + COPY_PASSES * (11 + 12 * COPY_DWORDS) + pop
        #   = 3 + COPY_PASSES * (11 + 12 * COPY_DWORDS), counting REP MOVSL once per dword
        #   (4 + COPY_DWORDS before the checksum, 2 + 4 * COPY_DWORDS for it, 3 + 7 * COPY_DWORDS
        #   for the copy back, 2 for the pass loop).
        pushl   %edi
        movl    $COPY_PASSES, %ebp
1:      movl    $COPY_SRC, %esi
        movl    $COPY_DST, %edi
        movl    $COPY_DWORDS, %ecx
        rep movsl
        movl    $COPY_DST, %esi
        movl    $COPY_DWORDS, %ecx
2:      addl    (%esi), %eax
        addl    $4, %esi
        decl    %ecx
        jnz     2b
        movl    $COPY_DST, %esi
        movl    $COPY_SRC, %edi
        movl    $COPY_DWORDS, %ecx
3:      movl    (%esi), %edx
        xorl    %eax, %edx
        movl    %edx, (%edi)
        addl    $4, %esi
        addl    $4, %edi
        decl    %ecx
        jnz     3b
        decl    %ebp
        jnz     1b
        popl    %edi
        .elseif KERNEL == 4
        # Per marker: 1 + FIB_REPS * (5 + F(FIB_N)), F = instructions of one fib call from its
        # first instruction to its last RET: a leaf (n < 2) runs cmp, jb, ret = 3; an inner call
        # 13 of its own plus its two children, so F(n) = 3 * L + 13 * (L - 1) with L = fib(n + 1)
        # leaves: F(20) = 3 * 10946 + 13 * 10945 = 175123.
        movl    $FIB_REPS, %ebp
1:      movl    $FIB_N, %eax
        call    fib
        addl    %eax, %ebx
        decl    %ebp
        jnz     1b
        .elseif KERNEL == 5
        # Per marker: 5 to start, then every pass runs the 10 handlers of intp_program before
        # the loop op (4 + 6 + 4 + 6 + 6 + 6 + 6 + 4 + 6 + 4 = 52, NEXT included), then op_loop:
        # 6 when it jumps back, 2 on the last pass: 5 + (INTP_ITER - 1) * 58 + 54
        #   = 58 * INTP_ITER + 1.
        movl    $INTP_ITER, %ecx
        movl    $intp_program + ROM_BASE, %esi
        NEXT
intp_done:
        .elseif KERNEL == 6
        # Per marker: 1 + PAGE_ITER * (4 + PAGE_SPACES * (6 + 5 * PAGE_TOUCH)).
        movl    $PAGE_ITER, %ecx
1:      movl    $PAGE_SPACES, %ebp
        movl    $PAGE_PD, %ebx
2:      movl    %ebx, %cr3
        movl    $PAGE_WINDOW, %esi
        movl    $PAGE_TOUCH, %edx
3:      addl    %ecx, (%esi)
        movl    8(%esi), %eax
        addl    $0x1000, %esi
        decl    %edx
        jnz     3b
        addl    $0x1000, %ebx
        decl    %ebp
        jnz     2b
        decl    %ecx
        jnz     1b
        .elseif KERNEL == 7
        # Per marker: 2 + TRAP_ITER * 12: per round ud2 and div count 1 each (a faulting
        # instruction counts, as the engines' counters count it) and each handler runs 2
        # (add, iret), int 0x30 counts 1 and its handler 2, xor 1, dec + jnz 2.
        movl    $TRAP_ITER, %ecx
        xorl    %ebp, %ebp
1:      ud2
        int     $0x30
        xorl    %edx, %edx
        divl    %ebp
        decl    %ecx
        jnz     1b
        .endif
        incl    %edi
        .ifdef EXIT_AFTER                       # verification build: no marker output, 3
        cmpl    $EXIT_AFTER, %edi               # instructions per period, then power off
        jne     marker_loop
        movw    $DEBUG_EXIT_PORT, %dx
        xorb    %al, %al
        outb    %al, %dx
        .endif
        pushl   %eax
        movl    $msg_marker + ROM_BASE, %esi
        call    puts
        movl    %edi, %eax
        call    put_hex
        movl    $msg_crlf + ROM_BASE, %esi
        call    puts
        popl    %eax
        jmp     marker_loop

        .if KERNEL == 4
# fib(EAX) -> EAX, recursively; preserves EDX. 3 instructions for n < 2, else 13 + children.
fib:
        cmpl    $2, %eax
        jb      1f
        pushl   %edx
        pushl   %eax
        decl    %eax
        call    fib
        movl    %eax, %edx
        popl    %eax
        subl    $2, %eax
        call    fib
        addl    %edx, %eax
        popl    %edx
1:      ret
        .endif

        .if KERNEL == 5
# Bytecode handlers: ESI = bytecode pointer, EBX/EDX = the two accumulators, ECX = passes left.
# Every handler ends in NEXT (3); both paths of a branching handler have the same length.
op_add:                                         # 4
        addl    %edx, %ebx
        NEXT
op_xor:                                         # 4
        xorl    %ebx, %edx
        NEXT
op_odd:                                         # 6: odd EBX -> EBX + 3, even -> EBX / 2
        testl   $1, %ebx
        jz      1f
        addl    $3, %ebx
        NEXT
1:      shrl    %ebx
        NEXT
op_load:                                        # 6: EDX += constant[EBX & 15]
        movl    %ebx, %eax
        andl    $15, %eax
        addl    intp_consts + ROM_BASE(,%eax,4), %edx
        NEXT
op_store:                                       # 6: data[EBX & 63] = EDX
        movl    %ebx, %ebp
        andl    $63, %ebp
        movl    %edx, INTP_MEM(,%ebp,4)
        NEXT
op_cmp:                                         # 6: EBX >= EDX ? EBX - EDX : EBX + 1
        cmpl    %edx, %ebx
        jb      1f
        subl    %edx, %ebx
        NEXT
1:      incl    %ebx
        NEXT
op_loop:                                        # 6 when jumping back, 2 on the last pass
        decl    %ecx
        jz      intp_done
        movl    $intp_program + ROM_BASE, %esi
        NEXT
        .endif

        .if KERNEL == 6
# Builds PAGE_SPACES page directories (each: 0-4 MiB identity through the shared PAGE_PT0,
# 4 MiB + i * 4 KiB -> PAGE_FRAMES + space * 64 KiB + i * 4 KiB for i < PAGE_TOUCH) and turns
# paging on with the first. Preserves all registers.
page_setup:
        pushal
        xorl    %eax, %eax                      # clear the directories and tables
        movl    $PAGE_PD, %edi
        movl    $(PAGE_PT + PAGE_SPACES * 0x1000 - PAGE_PD) / 4, %ecx
        rep stosl
        movl    $PAGE_PT0, %edi                 # identity map of 0-4 MiB
        movl    $0x003, %eax                    # present, writable
        movl    $1024, %ecx
1:      stosl
        addl    $0x1000, %eax
        decl    %ecx
        jnz     1b
        xorl    %ebx, %ebx                      # space
2:      movl    %ebx, %edi
        shll    $12, %edi
        movl    $PAGE_PT0 + 0x003, PAGE_PD(%edi)
        leal    PAGE_PT + 0x003(%edi), %eax
        movl    %eax, PAGE_PD + 4(%edi)
        addl    $PAGE_PT, %edi
        movl    %ebx, %eax
        shll    $16, %eax
        addl    $PAGE_FRAMES + 0x003, %eax
        movl    $PAGE_TOUCH, %ecx
3:      stosl
        addl    $0x1000, %eax
        decl    %ecx
        jnz     3b
        incl    %ebx
        cmpl    $PAGE_SPACES, %ebx
        jb      2b
        movl    $PAGE_PD, %eax
        movl    %eax, %cr3
        movl    %cr0, %eax
        orl     $0x80000000, %eax
        movl    %eax, %cr0
        jmp     4f
4:      popal
        ret
        .endif

        .if KERNEL == 7
# Builds the IDT (vectors 0 .. TRAP_VECTORS - 1: #DE and #UD skip the 2-byte faulting
# instruction, 0x30 counts in EBX, any other vector stops in trap_unexpected) and loads it.
# Preserves all registers.
trap_setup:
        pushal
        xorl    %eax, %eax
1:      movl    $trap_unexpected + ROM_BASE, %edx
        cmpl    $0, %eax                        # #DE
        je      2f
        cmpl    $6, %eax                        # #UD
        jne     3f
2:      movl    $trap_skip2 + ROM_BASE, %edx
3:      cmpl    $0x30, %eax
        jne     4f
        movl    $trap_int30 + ROM_BASE, %edx
4:      movl    %edx, %ecx                      # 32-bit interrupt gate, DPL 0, present
        andl    $0xFFFF, %ecx
        orl     $CODE_SEL << 16, %ecx
        movl    %ecx, IDT(,%eax,8)
        andl    $0xFFFF0000, %edx
        orl     $0x8E00, %edx
        movl    %edx, IDT + 4(,%eax,8)
        incl    %eax
        cmpl    $TRAP_VECTORS, %eax
        jb      1b
        lidtl   idt_desc + ROM_BASE
        popal
        ret

trap_skip2:                                     # #DE, #UD: resume after the faulting instruction
        addl    $2, (%esp)
        iretl
trap_int30:
        incl    %ebx
        iretl
trap_unexpected:
        movl    $msg_unexpected + ROM_BASE, %esi
        call    puts
1:      hlt
        jmp     1b
        .endif

# Send AL to COM1 once the transmit holding register is empty. Preserves all registers.
putc:
        pushl   %edx
        pushl   %eax
        movw    $COM1 + UART_LSR, %dx
1:      inb     %dx, %al
        testb   $LSR_THRE, %al
        jz      1b
        popl    %eax
        movw    $COM1, %dx
        outb    %al, %dx
        popl    %edx
        ret

# Send the NUL-terminated string at DS:ESI.
puts:
        pushl   %eax
1:      lodsb
        testb   %al, %al
        jz      2f
        call    putc
        jmp     1b
2:      popl    %eax
        ret

# Send EAX as 8 hex digits. Preserves EAX and ECX.
put_hex:
        pushl   %eax
        pushl   %ecx
        movl    %eax, %edx
        movl    $8, %ecx
1:      roll    $4, %edx
        movl    %edx, %eax
        andb    $0x0F, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     2f
        addb    $'a' - '0' - 10, %al
2:      call    putc
        decl    %ecx
        jnz     1b
        popl    %ecx
        popl    %eax
        ret

        .section .rodata
        .p2align 3
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF              # 0x08: code, base 0, 4 GiB, 32-bit
        .quad   0x00CF92000000FFFF              # 0x10: data, base 0, 4 GiB
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt + ROM_BASE
uart_setup:                                     # (offset, value) pairs
        .byte   3, 0x80, 0, 1, 1, 0, 3, 0x03, 1, 0, 2, 0x07, 4, 0x03, 0xFF
        .if KERNEL == 1
msg_banner:     .asciz  "Polyvisor bench: dec ecx; jnz, 2*0x1000000+1 instructions per marker\r\n"
msg_marker:     .asciz  "loop: "
        .elseif KERNEL == 2
msg_banner:     .asciz  "Polyvisor bench: alu+memory mix, 7*0x400000+2 instructions per marker\r\n"
msg_marker:     .asciz  "mix: "
        .elseif KERNEL == 3
msg_banner:     .asciz  "Polyvisor bench: rep movsl + checksum + copy loop over 256 KiB, 3+10*(11+12*0x10000) instructions per marker\r\n"
msg_marker:     .asciz  "copy: "
        .elseif KERNEL == 4
msg_banner:     .asciz  "Polyvisor bench: recursive fib(20), 1+40*(5+175123) instructions per marker\r\n"
msg_marker:     .asciz  "call: "
        .elseif KERNEL == 5
msg_banner:     .asciz  "Polyvisor bench: bytecode interpreter, 58*0x20000+1 instructions per marker\r\n"
msg_marker:     .asciz  "intp: "
        .elseif KERNEL == 6
msg_banner:     .asciz  "Polyvisor bench: CR3 switches over 4 address spaces, 1+0x2000*188 instructions per marker\r\n"
msg_marker:     .asciz  "page: "
        .elseif KERNEL == 7
msg_banner:     .asciz  "Polyvisor bench: #UD, INT 0x30, #DE with IRET, 2+0x10000*12 instructions per marker\r\n"
msg_marker:     .asciz  "trap: "
msg_unexpected: .asciz  "unexpected exception\r\n"
        .endif
        .if KERNEL == 5
        .p2align 2
intp_table:     .long   op_add + ROM_BASE, op_xor + ROM_BASE, op_odd + ROM_BASE, op_load + ROM_BASE
                .long   op_store + ROM_BASE, op_cmp + ROM_BASE, op_loop + ROM_BASE
intp_consts:    .long   0x9E3779B9, 0x7F4A7C15, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F, 0x165667B1
                .long   0xD3A2646C, 0xFD7046C5, 0xB55A4F09, 0x94D049BB, 0x2545F491, 0x4F6CDD1D
                .long   0x68E31DA4, 0xB5297A4D, 0x1B873593, 0xCC9E2D51
        .equ    OP_ADD, 0
        .equ    OP_XOR, 1
        .equ    OP_ODD, 2
        .equ    OP_LOAD, 3
        .equ    OP_STORE, 4
        .equ    OP_CMP, 5
        .equ    OP_LOOP, 6
intp_program:   .byte   OP_ADD, OP_ODD, OP_XOR, OP_LOAD, OP_CMP, OP_STORE, OP_ODD, OP_ADD, OP_CMP
                .byte   OP_XOR, OP_LOOP
        .endif
        .if KERNEL == 7
        .p2align 1
idt_desc:       .word   TRAP_VECTORS * 8 - 1
                .long   IDT
        .endif
msg_crlf:       .asciz  "\r\n"

        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        ljmp    $ROM_SEG, $start
