/*
 * bios-stub.S: the few real-mode BIOS services the Linux setup code asks for when the Linux
 * loader runs it without firmware. Loaded at 9F00:0000 (0x9F000, the EBDA; reserved in e820).
 * The loader points every interrupt vector at one of the entry points below (offsets fixed, see
 * BiosStub.java) and writes the e820 table: a 32-bit entry count at offset 0x400, then 20-byte
 * entries {u64 base, u64 length, u32 type} from 0x404.
 *
 *   INT 15h EAX=E820h  returns the table, one entry per call (ACPI 6.4, 15.1)
 *   IRQ 0-7 (08h-0Fh)  EOI to the master PIC, IRET
 *   IRQ 8-15 (70h-77h) EOI to both PICs, IRET
 *   anything else      CF=1 (AH=86h, "function not supported"), IRET
 *
 * Rebuild: sh build-bios-stub.sh (prints the bytes for BiosStub.java).
 */
    .code16
    .text
    .globl _start
_start:
/* 0x00: unsupported service: CF=1 in the caller's FLAGS */
unsupported:
    mov $0x86, %ah
fail:
    push %bp
    mov %sp, %bp
    orb $1, 6(%bp)
    pop %bp
    iret

    .org 0x10
/* 0x10: IRQ 0-7 */
irq_master:
    push %ax
    mov $0x20, %al
    out %al, $0x20
    pop %ax
    iret

    .org 0x20
/* 0x20: IRQ 8-15 */
irq_slave:
    push %ax
    mov $0x20, %al
    out %al, $0xa0
    out %al, $0x20
    pop %ax
    iret

    .org 0x30
/* 0x30: INT 15h */
int15:
    cmp $0xe820, %eax
    jne unsupported
    cmp $0x534d4150, %edx       /* 'SMAP' */
    jne unsupported
    cmp %cs:0x400, %ebx
    jae unsupported
    push %ds
    push %si
    push %di
    push %cx
    push %cs
    pop %ds
    imul $20, %bx, %si
    add $0x404, %si
    mov $20, %cx
    cld
    rep movsb
    pop %cx
    pop %di
    pop %si
    pop %ds
    inc %ebx
    cmp %cs:0x400, %ebx
    jb 1f
    xor %ebx, %ebx              /* last entry: continuation 0 */
1:  mov $0x534d4150, %eax
    mov $20, %ecx
    push %bp
    mov %sp, %bp
    andb $0xfe, 6(%bp)          /* CF=0 */
    pop %bp
    iret
