# Polyvisor benchmark guests: 64 KiB firmware ROMs (same boot convention as guests/demo, see
# guests/demo/README.md) that spin in one tight 32-bit loop and print a marker line on COM1
# after every fixed number of iterations, forever:
#
#   bench-loop.rom (KERNEL=1): "loop: N" after LOOP_ITER iterations of `dec ecx; jnz`
#                              = 2 * LOOP_ITER + 1 instructions between two markers
#   bench-mix.rom  (KERNEL=2): "mix: N" after MIX_ITER iterations of a 7-instruction ALU and
#                              memory mix = 7 * MIX_ITER + 2 instructions between two markers
#
# plus the marker itself (a few hundred instructions, polled UART output: under 0.001 %).
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

        .equ    ROM_BASE, 0x000F0000            # low alias of the ROM (linear)
        .equ    ROM_SEG, 0xF000
        .equ    PM_STACK_TOP, 0x0009F000
        .equ    SCRATCH, 0x00020000             # the mix kernel's memory operands
        .equ    CODE_SEL, 0x08
        .equ    DATA_SEL, 0x10
        .equ    COM1, 0x3F8
        .equ    UART_LSR, 5
        .equ    LSR_THRE, 0x20

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
marker_loop:
        .if KERNEL == 1
        movl    $LOOP_ITER, %ecx
1:      decl    %ecx
        jnz     1b
        .else
        movl    $SCRATCH, %esi
        movl    $MIX_ITER, %ecx
1:      addl    %ecx, %eax
        xorl    %eax, %ebx
        movl    %ebx, (%esi)
        movl    (%esi), %edx
        incl    4(%esi)
        decl    %ecx
        jnz     1b
        .endif
        incl    %edi
        pushl   %eax
        movl    $msg_marker + ROM_BASE, %esi
        call    puts
        movl    %edi, %eax
        call    put_hex
        movl    $msg_crlf + ROM_BASE, %esi
        call    puts
        popl    %eax
        jmp     marker_loop

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
        .else
msg_banner:     .asciz  "Polyvisor bench: alu+memory mix, 7*0x400000+2 instructions per marker\r\n"
msg_marker:     .asciz  "mix: "
        .endif
msg_crlf:       .asciz  "\r\n"

        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        ljmp    $ROM_SEG, $start
