# Polyvisor CPU test kernels: the common part linked into every test ROM.
#
# A 64 KiB firmware ROM (reset vector at 0xFFF0, as guests/demo): real mode -> 32-bit
# protected mode with a ROM GDT, then the runner builds its own GDT, IDT and TSS in RAM
# (baseline, before every test), runs the suite's tests from the .tests table and prints
# "PASS: <name>" or "FAIL: <name> (check N)" on COM1 for each, then
# "<suite>: N passed, M failed" and writes 0 (all passed) or 1 to port 0xF4.
#
# A test is a ring-0 function returning EAX = 0; it fails through the EXPECT_* macros
# (test_fail with a check number). Any exception resumes at the test's TRY label if one is
# armed; otherwise it fails the test ("unexpected exception").
        .include "common.inc"

# Real mode: at a fixed place in the image (BOOT_OFFSET), so its 16-bit offsets are constants.
        .equ    BOOT_OFFSET, 0xFF00
        .section .boot, "ax"
        .code16
boot_start:
        cli
        cld
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7000, %sp
        # Mask both 8259s: the tests run with IF = 1 at times and want no IRQ.
        movb    $0xFF, %al
        outb    %al, $0x21
        outb    %al, $0xA1
        lgdtl   %cs:BOOT_OFFSET + boot_gdt_desc - boot_start
        movl    %cr0, %eax
        orb     $CR0_PE, %al
        movl    %eax, %cr0
        ljmpl   $CODE0, $pm_entry
        .p2align 3
boot_gdt:                                       # in ROM: accessed bits preset
        .quad   0
        .quad   0x00CF9B000000FFFF              # 0x08 flat code
        .quad   0x00CF93000000FFFF              # 0x10 flat data
boot_gdt_desc:
        .word   boot_gdt_desc - boot_gdt - 1
        .long   boot_gdt

        .text
        .code32
pm_entry:
        movw    $DATA0, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    $STACK0, %esp
        call    uart_init
        movl    $0, pass_count
        movl    $0, fail_count
        movl    $msg_banner, %esi
        call    puts
        movl    $suite_name, %esi
        call    puts
        call    put_crlf

        movl    $tests_start, %ebp
next_test:
        cmpl    $tests_end, %ebp
        jae     all_done
        call    baseline
        movl    $0, recover_eip
        movl    %esp, test_esp
        call    *(%ebp)
test_done:                                      # EAX = 0 pass, else the failed check
        pushl   %eax
        call    baseline                        # the runner's own state again (ring 0, TR, IDT)
        popl    %eax
        testl   %eax, %eax
        jnz     1f
        incl    pass_count
        movl    $msg_pass, %esi
        call    puts
        movl    4(%ebp), %esi
        call    puts
        call    put_crlf
        jmp     2f
1:      incl    fail_count
        pushl   %eax
        movl    $msg_fail, %esi
        call    puts
        movl    4(%ebp), %esi
        call    puts
        movl    $msg_check, %esi
        call    puts
        popl    %eax
        call    put_hex
        movb    $')', %al
        call    putc
        call    put_crlf
2:      addl    $8, %ebp
        jmp     next_test

all_done:
        movl    $suite_name, %esi
        call    puts
        movl    $msg_colon, %esi
        call    puts
        movl    pass_count, %eax
        call    put_dec
        movl    $msg_passed, %esi
        call    puts
        movl    fail_count, %eax
        call    put_dec
        movl    $msg_failed, %esi
        call    puts
        call    put_crlf
        xorl    %eax, %eax
        cmpl    $0, fail_count
        setne   %al
        outb    %al, $DEBUG_EXIT_PORT
halt_forever:
        cli
        hlt
        jmp     halt_forever

# test_fail: EAX = check number; back to the runner from anywhere in ring 0.
        .globl  test_fail
test_fail:
        movw    $DATA0, %cx
        movw    %cx, %ss
        movw    %cx, %ds
        movw    %cx, %es
        movl    test_esp, %esp
        jmp     test_done

# ---------------------------------------------------------------------------------------
# baseline: the state every test starts from. Flat ring-0 segments, GDT/IDT/TSS_MAIN in RAM,
# TR = TSS_SEL (I/O bitmap: every port denied), LDTR = 0, CR0 = PE | ET (no PG/WP/TS), CR4 = 0,
# CR3 = 0, EFLAGS = 2, recovery disarmed. Clobbers nothing but flags.
        .globl  baseline
baseline:
        pushal
        # GDT: zero it, then the fixed descriptors.
        movl    $GDT, %edi
        movl    $(GDT_LIMIT + 1) / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        GDT_SLOT CODE0, %edi
        xorl    %ebx, %ebx
        movl    $0xFFFFFFFF, %ecx
        movl    $ACC_CODE0 | FLAG_32, %edx
        call    make_seg
        GDT_SLOT DATA0, %edi
        movl    $ACC_DATA0 | FLAG_32, %edx
        call    make_seg
        GDT_SLOT CODE3, %edi
        movl    $ACC_CODE3 | FLAG_32, %edx
        call    make_seg
        GDT_SLOT DATA3, %edi
        movl    $ACC_DATA3 | FLAG_32, %edx
        call    make_seg
        GDT_SLOT CODE0_ROM, %edi
        movl    $ROM_BASE, %ebx
        movl    $0xFFFF, %ecx
        movl    $ACC_CODE0 | FLAG_32, %edx
        call    make_seg
        GDT_SLOT TSS_SEL, %edi
        movl    $TSS_MAIN, %ebx
        movl    $TSS_MAIN_LIMIT, %ecx
        movl    $ACC_TSS32, %edx
        call    make_seg
        # TSS_MAIN: zero, ring-0 stack, I/O bitmap all ones (+ the terminating 0xFF byte).
        movl    $TSS_MAIN, %edi
        movl    $IOPB_OFFSET / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        movl    $0xFFFFFFFF, %eax
        movl    $0x2000 / 4 + 1, %ecx
        rep stosl
        movl    $STACK0_TSS, TSS_MAIN + TSS_ESP0
        movl    $DATA0, TSS_MAIN + TSS_SS0
        movw    $IOPB_OFFSET, TSS_MAIN + TSS_IOPB
        # IDT: zero, exception stubs 0-31 (interrupt gates, DPL 0), INT 0x40 (DPL 3).
        movl    $IDT, %edi
        movl    $(IDT_LIMIT + 1) / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        xorl    %esi, %esi
1:      leal    IDT(,%esi,8), %edi
        movl    $CODE0, %eax
        movl    exc_stubs(,%esi,4), %ebx
        movl    $ACC_INT_GATE32, %edx
        call    make_gate
        incl    %esi
        cmpl    $32, %esi
        jb      1b
        IDT_SLOT RETURN_VECTOR, %edi
        movl    $CODE0, %eax
        movl    $exc_stub_return, %ebx
        movl    $ACC_INT_GATE32 | DPL3, %edx
        call    make_gate
        # Load everything.
        movl    %cr0, %eax
        andl    $~(CR0_PG | CR0_WP | CR0_TS), %eax
        movl    %eax, %cr0
        xorl    %eax, %eax
        movl    %eax, %cr4
        movl    %eax, %cr3
        lgdtl   gdt_desc
        lidtl   idt_desc
        ljmpl   $CODE0, $2f
2:      movw    $DATA0, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movw    $TSS_SEL, %ax
        ltr     %ax
        xorl    %eax, %eax
        lldt    %ax
        pushl   $2
        popfl
        movl    $0, recover_eip
        popal
        ret

# make_seg: EDI = descriptor slot, EBX = base, ECX = byte limit, EDX = access byte | FLAG_32.
# Sets G (and scales the limit) when the limit is above 1 MiB. Clobbers nothing.
        .globl  make_seg
make_seg:
        pushl   %eax
        pushl   %ecx
        pushl   %edx
        cmpl    $0xFFFFF, %ecx
        jbe     1f
        shrl    $12, %ecx
        orl     $0x8000, %edx                   # G (bit 23 of the high dword)
1:      movl    %ebx, %eax
        shll    $16, %eax
        movw    %cx, %ax                        # lo: base 15:0, limit 15:0
        movl    %eax, (%edi)
        movl    %ebx, %eax
        andl    $0xFF000000, %eax               # base 31:24
        andl    $0x000F0000, %ecx               # limit 19:16
        orl     %ecx, %eax
        shll    $8, %edx                        # access byte -> bits 15:8, flags -> 23:20
        andl    $0x00F0FF00, %edx
        orl     %edx, %eax
        movl    %ebx, %edx
        shrl    $16, %edx
        movb    %dl, %al                        # base 23:16
        movl    %eax, 4(%edi)
        popl    %edx
        popl    %ecx
        popl    %eax
        ret

# make_gate: EDI = gate slot, EAX = selector, EBX = offset, EDX = access byte | (count << 8)
# (count: call-gate parameter count). Clobbers nothing.
        .globl  make_gate
make_gate:
        pushl   %eax
        pushl   %edx
        shll    $16, %eax
        movw    %bx, %ax
        movl    %eax, (%edi)
        movl    %ebx, %eax
        andl    $0xFFFF0000, %eax
        movzbl  %dl, %edx
        shll    $8, %edx
        orl     %edx, %eax
        movl    (%esp), %edx                    # the caller's EDX: count in bits 12:8
        shrl    $8, %edx
        andl    $0x1F, %edx
        orl     %edx, %eax
        movl    %eax, 4(%edi)
        popl    %edx
        popl    %eax
        ret

# enter_ring3: EBX = ring-3 EIP, ECX = ring-3 ESP, EDX = extra EFLAGS bits (IOPL ...).
# IRETs to CS = CODE3, SS = DS = ES = DATA3. Does not return (arm TRY first).
        .globl  enter_ring3
enter_ring3:
        movw    $DATA3, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        pushl   $DATA3
        pushl   %ecx
        orl     $2, %edx
        pushl   %edx
        pushl   $CODE3
        pushl   %ebx
        iretl

# init_tss32: EDI = TSS base, EBX = EIP, ECX = ESP. A 32-bit TSS for a ring-0 task: flat
# CODE0/DATA0 segments, EFLAGS = 2, CR3 = the current CR3, LDT 0, ring-0 stack = ESP, I/O map
# offset 0x68 (no bitmap within a 0x67 limit). Clobbers nothing.
        .globl  init_tss32
init_tss32:
        pushal
        xorl    %eax, %eax
        movl    $0x68 / 4, %ecx
        rep stosl
        popal
        pushl   %eax
        movl    %ebx, TSS_EIP(%edi)
        movl    %ecx, TSS_ESP(%edi)
        movl    %ecx, TSS_ESP0(%edi)
        movl    $DATA0, TSS_SS0(%edi)
        movl    $2, TSS_EFLAGS(%edi)
        movl    %cr3, %eax
        movl    %eax, TSS_CR3(%edi)
        movl    $CODE0, TSS_CS(%edi)
        movl    $DATA0, TSS_SS(%edi)
        movl    $DATA0, TSS_DS(%edi)
        movl    $DATA0, TSS_ES(%edi)
        movl    $DATA0, TSS_FS(%edi)
        movl    $DATA0, TSS_GS(%edi)
        movw    $0x68, TSS_IOPB(%edi)
        popl    %eax
        ret

# identity_paging: PD1 -> PT_LOW maps 0-4 MiB (user, writable); the rest of PAGING zeroed;
# CR3 = PD1, CR0.PG on, TSS_MAIN's CR3 field = PD1 (a task switch does not save CR3).
# Clobbers EAX, ECX, EDI.
        .globl  identity_paging
identity_paging:
        movl    $PAGING, %edi
        movl    $0x10000 / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        movl    $PT_LOW, %edi
        movl    $0x07, %eax
1:      stosl
        addl    $0x1000, %eax
        cmpl    $PT_LOW + 0x1000, %edi
        jb      1b
        movl    $PT_LOW | 0x07, PD1
        movl    $PD1, %eax
        movl    %eax, %cr3
        movl    %cr0, %eax
        orl     $CR0_PG, %eax
        movl    %eax, %cr0
        movl    $PD1, TSS_MAIN + TSS_CR3
        ret

# ---------------------------------------------------------------------------------------
# Exceptions: one stub per vector pushes (a zero error code and) the vector.
        .macro  EXC_STUB vector, has_error_code
        .globl  exc_stub_\vector
exc_stub_\vector:
        .if     \has_error_code == 0
        pushl   $0
        .endif
        pushl   $\vector
        jmp     exc_common
        .endm
        .irp    v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        EXC_STUB \v, 0
        .endr
        .irp    v, 8,10,11,12,13,14,17
        EXC_STUB \v, 1
        .endr
exc_stub_return:
        pushl   $0
        pushl   $RETURN_VECTOR
        jmp     exc_common

# The stack here: vector, error code, EIP, CS, EFLAGS [, ESP, SS [, ES, DS, FS, GS]].
        .globl  exc_common
exc_common:
        pushl   %eax
        movw    %ds, %ax
        pushl   %eax
        movw    $DATA0, %ax
        movw    %ax, %ds
        movw    %ax, %es
        popl    %eax
        movl    %eax, fault_ds
        popl    %eax
        movl    %esp, fault_handler_esp
        addl    $8, fault_handler_esp           # ESP as the CPU left it (after the error code)
        pushl   %eax
        movl    4(%esp), %eax
        movl    %eax, fault_vec
        movl    8(%esp), %eax
        movl    %eax, fault_err
        movl    12(%esp), %eax
        movl    %eax, fault_eip
        movl    16(%esp), %eax
        movl    %eax, fault_cs
        movl    20(%esp), %eax
        movl    %eax, fault_eflags
        movl    24(%esp), %eax
        movl    %eax, fault_esp
        movl    28(%esp), %eax
        movl    %eax, fault_ss
        movl    32(%esp), %eax
        movl    %eax, fault_v86
        movl    36(%esp), %eax
        movl    %eax, fault_v86 + 4
        movl    40(%esp), %eax
        movl    %eax, fault_v86 + 8
        movl    44(%esp), %eax
        movl    %eax, fault_v86 + 12
        movl    %cr2, %eax
        movl    %eax, fault_cr2
        popl    %eax
        cmpl    $0, recover_eip
        je      unexpected
        movw    $DATA0, %ax
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movl    recover_esp, %esp
        movl    recover_eip, %eax
        movl    $0, recover_eip
        jmp     *%eax

unexpected:
        movw    $DATA0, %ax
        movw    %ax, %ss
        movl    test_esp, %esp
        movl    $msg_unexpected, %esi
        call    puts
        movl    fault_vec, %eax
        call    put_hex
        movl    $msg_error, %esi
        call    puts
        movl    fault_err, %eax
        call    put_hex
        movl    $msg_at, %esi
        call    puts
        movl    fault_cs, %eax
        call    put_hex
        movb    $':', %al
        call    putc
        movl    fault_eip, %eax
        call    put_hex
        call    put_crlf
        movl    fault_vec, %eax
        orl     $0xE00, %eax                    # check number 0xE00 + vector
        jmp     test_fail

# ---------------------------------------------------------------------------------------
# COM1, polled.
uart_init:
        movw    $COM1 + 3, %dx
        movb    $0x80, %al                      # DLAB
        outb    %al, %dx
        movw    $COM1, %dx
        movb    $1, %al                         # divisor 1: 115200
        outb    %al, %dx
        movw    $COM1 + 1, %dx
        xorb    %al, %al
        outb    %al, %dx
        movw    $COM1 + 3, %dx
        movb    $0x03, %al                      # 8N1
        outb    %al, %dx
        movw    $COM1 + 1, %dx
        xorb    %al, %al                        # IER = 0
        outb    %al, %dx
        movw    $COM1 + 2, %dx
        movb    $0x07, %al                      # FIFOs on and cleared
        outb    %al, %dx
        movw    $COM1 + 4, %dx
        movb    $0x03, %al                      # DTR, RTS
        outb    %al, %dx
        ret

# putc: AL. Clobbers nothing.
        .globl  putc
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

# puts: ESI = NUL-terminated string. Clobbers nothing.
        .globl  puts
puts:
        pushl   %esi
        pushl   %eax
1:      movb    (%esi), %al
        incl    %esi
        testb   %al, %al
        jz      2f
        call    putc
        jmp     1b
2:      popl    %eax
        popl    %esi
        ret

        .globl  put_crlf
put_crlf:
        pushl   %eax
        movb    $0x0D, %al
        call    putc
        movb    $0x0A, %al
        call    putc
        popl    %eax
        ret

# put_hex: EAX as 0x%08x. Clobbers nothing.
        .globl  put_hex
put_hex:
        pushl   %eax
        pushl   %ecx
        pushl   %edx
        movl    %eax, %edx
        movb    $'0', %al
        call    putc
        movb    $'x', %al
        call    putc
        movl    $8, %ecx
1:      roll    $4, %edx
        movb    %dl, %al
        andb    $0x0F, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     2f
        addb    $'a' - '9' - 1, %al
2:      call    putc
        loop    1b
        popl    %edx
        popl    %ecx
        popl    %eax
        ret

# put_dec: EAX unsigned. Clobbers nothing.
put_dec:
        pushal
        movl    $10, %ebx
        xorl    %ecx, %ecx
1:      xorl    %edx, %edx
        divl    %ebx
        pushl   %edx
        incl    %ecx
        testl   %eax, %eax
        jnz     1b
2:      popl    %eax
        addb    $'0', %al
        call    putc
        loop    2b
        popal
        ret

# ---------------------------------------------------------------------------------------
        .section .rodata
        .p2align 2
exc_stubs:
        .long   exc_stub_0, exc_stub_1, exc_stub_2, exc_stub_3, exc_stub_4, exc_stub_5
        .long   exc_stub_6, exc_stub_7, exc_stub_8, exc_stub_9, exc_stub_10, exc_stub_11
        .long   exc_stub_12, exc_stub_13, exc_stub_14, exc_stub_15, exc_stub_16, exc_stub_17
        .long   exc_stub_18, exc_stub_19, exc_stub_20, exc_stub_21, exc_stub_22, exc_stub_23
        .long   exc_stub_24, exc_stub_25, exc_stub_26, exc_stub_27, exc_stub_28, exc_stub_29
        .long   exc_stub_30, exc_stub_31
gdt_desc:
        .word   GDT_LIMIT
        .long   GDT
idt_desc:
        .word   IDT_LIMIT
        .long   IDT
msg_banner:     .asciz "Polyvisor CPU test kernel: "
msg_pass:       .asciz "PASS: "
msg_fail:       .asciz "FAIL: "
msg_check:      .asciz " (check "
msg_colon:      .asciz ": "
msg_passed:     .asciz " passed, "
msg_failed:     .asciz " failed"
msg_unexpected: .asciz "  unexpected exception "
msg_error:      .asciz " error "
msg_at:         .asciz " at "

        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        .byte   0xEA                            # ljmp $ROM_SEG, $BOOT_OFFSET (in the low alias)
        .word   BOOT_OFFSET
        .word   ROM_SEG
