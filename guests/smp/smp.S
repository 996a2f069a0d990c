# Polyvisor SMP test ROM: the bootstrap processor wakes an application processor with the
# MP start-up sequence (SDM Vol. 3A 8.4.4.1: INIT IPI, then a startup IPI through the xAPIC
# ICR at 0xFEE00300) and the AP prints on COM1. GNU as, AT&T syntax; built by build.sh.
#
# Layout (smp.ld): one 64 KiB image at 0xFFFF0000 and its low alias 0x000F0000, linked at
# 0xF0000. The AP's code is at image offset 0, so SIPI vector 0xF0 starts it at F000:0000 in
# real mode. The BSP runs the reset vector, enters flat 32-bit protected mode (the APIC is above
# 1 MiB) and checks CPUID.1:EDX.APIC[bit 9] first.
#
# Output on success: "SMP: BSP up", "SMP: APIC in CPUID", "SMP: AP 1 up in real mode at F000:0000",
# "SMP: PASS"; then 0 to the isa-debug-exit port 0xF4 (exit status 1). On failure a "SMP: FAIL ..."
# line and 1 to port 0xF4 (exit status 3).

        .equ    COM1, 0x3F8
        .equ    DEBUG_EXIT, 0xF4
        .equ    APIC_SVR, 0xFEE000F0            # spurious vector register: bit 8 = software enable
        .equ    APIC_ICR_LO, 0xFEE00300         # writing it sends the IPI
        .equ    APIC_ICR_HI, 0xFEE00310         # destination APIC ID in bits 31:24
        .equ    ICR_INIT, 0x00004500            # INIT, level assert, physical destination
        .equ    ICR_SIPI, 0x00004600            # startup, with the vector in bits 7:0
        .equ    SIPI_VECTOR, 0xF0               # the AP starts at F000:0000 (this ROM's offset 0)
        .equ    AP_FLAG, 0x00000500             # the AP writes AP_MAGIC here when it is up
        .equ    AP_MAGIC, 0x55AA
        .equ    BOOT_OFFSET, 0xFF00             # the boot stub's place in the image (smp.ld)
        .equ    CODE32, 0x08
        .equ    DATA32, 0x10

# ---- the application processor: real mode, CS = 0xF000, IP = 0 ----------------------------
        .section .ap, "ax"
        .code16
ap_start:                                       # image offset 0 (smp.ld): offsets are label - ap_start
        cli
        cld
        movw    %cs, %ax
        movw    %ax, %ds                        # strings are in this segment
        movw    $ap_msg - ap_start, %si
        call    puts16
        movl    $1, %eax                        # CPUID.1:EBX[31:24]: initial APIC ID
        cpuid
        shrl    $24, %ebx
        movb    %bl, %al
        addb    $'0', %al
        call    putc16
        movw    $ap_msg2 - ap_start, %si
        call    puts16
        movw    %cs, %ax                        # CS as SIPI made it: F000
        call    puthex16
        movw    $ap_msg3 - ap_start, %si
        call    puts16
        xorw    %ax, %ax
        movw    %ax, %es
        movw    $AP_MAGIC, %es:AP_FLAG          # tell the BSP (it prints nothing meanwhile)
1:      hlt
        jmp     1b

# putc16: AL to COM1 (polled). Clobbers DX.
putc16:
        pushw   %ax
        movw    $COM1 + 5, %dx
1:      inb     %dx, %al
        testb   $0x20, %al                      # LSR.THRE
        jz      1b
        popw    %ax
        movw    $COM1, %dx
        outb    %al, %dx
        ret

# puts16: DS:SI NUL-terminated. Clobbers AX, DX, SI.
puts16:
        lodsb
        testb   %al, %al
        jz      1f
        call    putc16
        jmp     puts16
1:      ret

# puthex16: AX as four hex digits. Clobbers AX, BX, CX, DX.
puthex16:
        movw    %ax, %bx
        movw    $4, %cx
1:      rolw    $4, %bx
        movb    %bl, %al
        andb    $0x0F, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     2f
        addb    $'A' - '9' - 1, %al
2:      call    putc16
        loop    1b
        ret

ap_msg:  .asciz "SMP: AP "
ap_msg2: .asciz " up in real mode at "
ap_msg3: .asciz ":0000\r\n"

# ---- the bootstrap processor: 32-bit protected mode ---------------------------------------
        .text
        .code32
pm_entry:
        movw    $DATA32, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $0x7000, %esp
        movl    $bsp_msg, %esi
        call    puts
        movl    $1, %eax
        cpuid
        testl   $1 << 9, %edx                   # CPUID.1:EDX.APIC
        jz      fail_cpuid
        movl    $apic_msg, %esi
        call    puts
        movl    $0, AP_FLAG
        orl     $0x100, APIC_SVR                # software-enable the local APIC
        movl    $1 << 24, APIC_ICR_HI           # to APIC ID 1
        movl    $ICR_INIT, APIC_ICR_LO
        movl    $ICR_SIPI | SIPI_VECTOR, APIC_ICR_LO
        movl    $50000000, %ecx                 # give up after that many polls
1:      cmpw    $AP_MAGIC, AP_FLAG
        je      2f
        pause
        loop    1b
        movl    $fail_ap_msg, %esi
        jmp     fail
2:      movl    $pass_msg, %esi
        call    puts
        movb    $0, %al
        outb    %al, $DEBUG_EXIT
3:      hlt
        jmp     3b

fail_cpuid:
        movl    $fail_cpuid_msg, %esi
fail:
        call    puts
        movb    $1, %al
        outb    %al, $DEBUG_EXIT
1:      hlt
        jmp     1b

# putc: AL to COM1. Clobbers nothing.
putc:
        pushl   %edx
        pushl   %eax
        movw    $COM1 + 5, %dx
1:      inb     %dx, %al
        testb   $0x20, %al
        jz      1b
        popl    %eax
        movw    $COM1, %dx
        outb    %al, %dx
        popl    %edx
        ret

# puts: ESI NUL-terminated. Clobbers ESI.
puts:
        pushl   %eax
1:      lodsb
        testb   %al, %al
        jz      2f
        call    putc
        jmp     1b
2:      popl    %eax
        ret

        .section .rodata
bsp_msg:        .asciz "SMP: BSP up\r\n"
apic_msg:       .asciz "SMP: APIC in CPUID\r\n"
pass_msg:       .asciz "SMP: PASS\r\n"
fail_cpuid_msg: .asciz "SMP: FAIL no APIC in CPUID\r\n"
fail_ap_msg:    .asciz "SMP: FAIL the AP did not come up\r\n"

# ---- reset: real mode at F000:FFF0 (high alias), into protected mode ------------------------
        .section .boot, "ax"
        .code16
boot_start:
        cli
        cld
        xorw    %ax, %ax
        movw    %ax, %ds
        lgdtl   %cs:BOOT_OFFSET + boot_gdt_desc - boot_start
        movl    %cr0, %eax
        orb     $1, %al                         # CR0.PE
        movl    %eax, %cr0
        ljmpl   $CODE32, $pm_entry
        .p2align 3
boot_gdt:                                       # in ROM: accessed bits preset
        .quad   0
        .quad   0x00CF9B000000FFFF              # 0x08 flat code
        .quad   0x00CF93000000FFFF              # 0x10 flat data
boot_gdt_desc:
        .word   boot_gdt_desc - boot_gdt - 1
        .long   boot_gdt

        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        .byte   0xEA                            # ljmp $0xF000, $BOOT_OFFSET (in the low alias)
        .word   BOOT_OFFSET
        .word   0xF000
