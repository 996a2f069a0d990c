/*
 * start.S: entry, descriptor tables, interrupt stubs and the application-processor trampoline of
 * the Polyvisor PC test kernels (kvm-unit-tests conventions: Multiboot v1 kernel, output on COM1,
 * PASS:/FAIL:/SKIP: lines, result to the isa-debug-exit port 0xF4).
 */
#define MB_MAGIC        0x1BADB002
#define MB_FLAGS        0x00000003      /* page-aligned modules, memory information */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .globl _start
_start:
    mov $stack_top, %esp
    push %ebx                   /* Multiboot information */
    push %eax                   /* magic */
    lgdt gdt_ptr
    ljmp $0x08, $1f
1:  mov $0x10, %cx
    mov %cx, %ds
    mov %cx, %es
    mov %cx, %ss
    mov %cx, %fs
    mov %cx, %gs
    call idt_init
    lidt idt_ptr
    call main                   /* main(magic, info) returns the number of failures */
    push %eax
    call exit_tests
1:  cli
    hlt
    jmp 1b

/* Interrupt stubs, 16 bytes apart: each pushes a zero error code where the CPU pushes none, then
 * its vector. */
    .align 16
    .globl int_stubs
int_stubs:
    .set v, 0
    .rept 256
    .if (v == 8) || ((v >= 10) && (v <= 14)) || (v == 17)
    .else
    push $0
    .endif
    push $v
    jmp int_common
    .align 16
    .set v, v + 1
    .endr

int_common:
    pushal
    cld
    push %esp                   /* struct frame * */
    call int_dispatch
    add $4, %esp
    popal
    add $8, %esp                /* vector and error code */
    iret

/*
 * AP trampoline: copied by the BSP to a page below 1 MiB (the startup IPI's vector page). Runs in
 * real mode with CS = page >> 4 and IP = 0, so it addresses its own data relative to its start.
 */
    .code16
    .globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl (tramp_gdt_ptr - ap_tramp_start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ap_entry32
    .align 4
tramp_gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
ap_tramp_end:
    .code32

ap_entry32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov ap_stack_top, %esp
    lidt idt_ptr
    call ap_main
1:  cli
    hlt
    jmp 1b

    .data
    .align 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF    /* 0x08: code, flat, 32-bit */
    .quad 0x00CF92000000FFFF    /* 0x10: data, flat */
gdt_end:
    .align 4
    .word 0
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
    .word 0
    .globl idt_ptr
idt_ptr:
    .word 256 * 8 - 1
    .long idt
    .globl ap_stack_top
ap_stack_top:
    .long 0

    .bss
    .align 16
    .globl idt
idt:
    .skip 256 * 8
stack:
    .skip 16384
stack_top:
