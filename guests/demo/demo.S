# Polyvisor demo guest: a 64 KiB x86 firmware ROM that is its own BIOS.
#
# Boot convention (implemented by the VMM, see README.md):
#   - the image is mapped read-only at 0xFFFF_0000-0xFFFF_FFFF and aliased at
#     0x000F_0000-0x000F_FFFF; RAM starts at 0 (at least 2 MiB);
#   - the CPU comes out of reset as a real x86: real mode, CS=0xF000 with hidden
#     base 0xFFFF_0000, IP=0xFFF0, so the first instruction is at image offset 0xFFF0;
#   - COM1 is a 16550A at 0x3F8 (polled, no interrupt controller is assumed, IF=0
#     throughout); an isa-debug-exit device at port 0xF4 ends the VM with status
#     (value << 1) | 1.
#
# What it does: real mode -> UART init -> IVT software interrupt -> GDT and CR0.PE ->
# 32-bit flat protected mode -> IDT with a #DE that is deliberately raised and
# skipped -> banner -> "count: N" lines forever, echoing what arrives on COM1.
# Assembled with --defsym TEST_MODE=1 it counts to 3, runs arithmetic self-checks,
# and leaves through port 0xF4 (status 1 when all passed, 3 otherwise).
#
# Addressing: everything is assembled into one image linked at 0 (demo.ld), so a
# label's value is its offset in the ROM. Real-mode code runs with CS=0xF000
# (base 0xF_0000) and uses labels as offsets; 32-bit code runs flat from the low
# alias and adds ROM_BASE to a label to get its linear address.
#
# Instruction forms used: what an engine must execute to run this guest (AT&T
# mnemonics, Intel SDM operand notation, opcode bytes as assembled). Keep this list in
# sync with the code; regenerate the raw material with
#   objdump -D -b binary -mi8086 --stop-address=<pm_entry> demo-test.rom   (16-bit part)
#   objdump -D -b binary -mi386 --start-address=<pm_entry> demo-test.rom   (32-bit part)
#
#  16-bit code, real mode (both variants):
#   cli (FA); cld (FC); int imm8 (CD); iret (CF)
#   mov r16,imm16 (B8+r); mov r8,imm8 (B0+r); mov Sreg,r/m16 (8E: ds, es, ss)
#   mov m16,imm16 (C7 /0); mov moffs16,AX (A3); mov r8,r/m8 with CS override (2E 8A)
#   xor r/m16,r16 (31); inc r16 (40+r); inc m16 (FF /0); cmp m16,imm16 (81 /7)
#   test r/m8,r8 (84); test AL,imm8 (A8); or AL,imm8 (0C)
#   in AL,DX (EC); out DX,AL (EE)
#   push r16 (50+r); pop r16 (58+r); call rel16 (E8); ret (C3); jmp rel8 (EB);
#   jz/jnz rel8 (74, 75)
#   lgdt m16&32: CS override and operand-size prefix (2E 66 0F 01 /2)
#   mov r32,CR0 (0F 20); mov CR0,r32 (0F 22)
#   jmp ptr16:16 (EA, the reset vector); jmp ptr16:32 (66 EA, into protected mode)
#
#  32-bit code, flat protected mode (both variants):
#   mov r32,imm32 (B8+r); mov r16,imm16 (66 B8+r); mov r8,imm8 (B0+r)
#   mov Sreg,r/m16 (8E: ds, es, fs, gs, ss); mov r/m32,r32 (89); mov r/m8,r8 (88)
#   mov r32,r/m32 (8B) with [esp], [esp+disp8] (SIB) and [ebp+disp8];
#   mov EAX,moffs32 (A1); mov m32,imm32 (C7 /0, absolute disp32)
#   add AL,imm8 (04); and AL,imm8 (24); cmp AL,imm8 (3C); cmp EAX,imm32 (3D)
#   add r/m32,imm8 (83 /0) and cmp r/m32,imm8/imm32 (83 /7, 81 /7), also on [esp]
#   test r/m8,r8 (84); test r/m32,r32 (85); test AL,imm8 (A8); xor r/m32,r32 (31)
#   inc r32 (40+r); dec r32 (48+r); inc m32 (FF /0)
#   div r/m32 (F7 /6), including the #DE it raises with a zero divisor
#   rol r/m32,imm8 (C1 /0)
#   push r32 (50+r); push imm8 (6A); pop r32 (58+r); call rel32 (E8); ret (C3)
#   jmp rel8 and rel32 (EB, E9); jcc rel8 (jz jnz jbe); loop rel8 (E2)
#   lods m8 (AC)
#   in AL,DX (EC); out DX,AL (EE); out imm8,AL (E6)
#   lidt m16&32 (0F 01 /3); iret (CF); cli (FA); hlt (F4)
#
#  32-bit code added by the TEST_MODE self-checks:
#   add r/m8,r8 (00); add r/m32,r32 (01); add r32,r/m32 (03); sub r/m32,r32 (29)
#   cmp r/m8,r8 (38); cmp r/m32,r32 (39); cmp r8,r/m8 (3A); cmp r32,r/m32 (3B)
#   adc, sbb, sub r/m32,imm8 (83 /2, /3, /5); or, and, xor m32,imm32 (81 /1, /4, /6)
#   16-bit operands: cmp AX,imm16 (66 3D); cmp r/m16,imm8 (66 83 /7); inc r16 (66 40+r)
#   neg r/m32 (F7 /3); not m32 (F7 /2)
#   mul r/m32 and r/m8 (F7 /4, F6 /4); imul r/m32 (F7 /5); imul r32,r/m32 (0F AF);
#   imul r32,r/m32,imm8 (6B)
#   div r/m8 (F6 /6); idiv r/m32 and r/m16 (F7 /7, 66 F7 /7)
#   cbw (66 98); cwd (66 99); cdq (99)
#   shl, shr, rcl, rcr r/m32,1 (D1 /4, /5, /2, /3); ror, sar r/m32,imm8 (C1 /1, /7);
#   shl r/m32,CL (D3 /4)
#   movzx r32,r/m8 and r/m16 (0F B6, 0F B7); movsx r32,r/m8 and r/m16 (0F BE, 0F BF)
#   lea r32,[base+index*4+disp8] (8D with SIB); xchg EAX,r32 (90+r); xchg r/m32,r32 (87)
#   push imm32 (68); ret imm16 (C2)
#   jcc rel8 and rel32 (7x, 0F 8x): jz jnz jb jae jbe jge jno jns jp jnp
#   lods m32 (AD); rep movs m8 and m32 (F3 A4, F3 A5); rep stos m8 and m32 (F3 AA, F3 AB)
#
#  Events: real-mode INT through the IVT; #DE (vector 0) from DIV by zero, delivered
#  through a 32-bit interrupt gate of an IDT in ROM, the handler adjusts the saved EIP
#  and returns with IRET. IF stays 0 throughout; no hardware interrupts are used.

        .ifndef TEST_MODE
        .equ    TEST_MODE, 0
        .endif

# Busy-wait iterations between two "count" lines. Each iteration is `dec %ecx; jnz`:
# 0x0080_0000 iterations = 16.8 M instructions, about 0.34 s at 50 M instructions/s.
        .ifndef DELAY
        .if TEST_MODE
        .equ    DELAY, 0x00004000
        .else
        .equ    DELAY, 0x00800000
        .endif
        .endif
        .equ    POLL_INTERVAL, 0x1000           # poll the UART every 4096 iterations
        .equ    DELAY_CHUNKS, DELAY >> 12       # (DELAY / POLL_INTERVAL)
        .if     DELAY_CHUNKS < 1
        .error  "DELAY must be at least POLL_INTERVAL (4096)"
        .endif

        .equ    TEST_COUNT, 3                   # test mode: count lines before the checks

# Memory map
        .equ    ROM_BASE, 0x000F0000            # low alias of the ROM (linear)
        .equ    ROM_SEG, 0xF000                 # real-mode segment of the low alias
        .if     ROM_BASE & 0xFFFF
        .error  "IDT gates below assume ROM_BASE is 64 KiB aligned"
        .endif
        .equ    RM_STACK_TOP, 0x7000            # real-mode SS:SP = 0000:7000
        .equ    PM_STACK_TOP, 0x0009F000        # protected-mode ESP
        .equ    VARS, 0x0500                    # guest variables in RAM (after the IVT/BDA)
        .equ    IVT_FLAG, VARS + 0x00           # set by the INT 0x30 handler
        .equ    DE_COUNT, VARS + 0x04           # incremented by the #DE handler
        .equ    FAIL_COUNT, VARS + 0x08         # self-checks that failed
        .equ    COUNTER, VARS + 0x0C            # the "count: N" counter
        .equ    SCRATCH, VARS + 0x10            # scratch dword for memory-operand checks
        .equ    BUF, 0x8000                     # string-op check buffers
        .equ    BUF2, 0x8100

        .equ    IVT_VECTOR, 0x30                # software interrupt proved in real mode
        .equ    IVT_SLOT, IVT_VECTOR * 4        # 0:0xC0
        .equ    IVT_MAGIC, 0x1A7E

# Descriptors (GDT below)
        .equ    CODE_SEL, 0x08
        .equ    DATA_SEL, 0x10
        .equ    CR0_PE, 0x01                    # CR0 bit 0: protection enable

# 16550A UART at COM1 (register offsets from the base port)
        .equ    COM1, 0x3F8
        .equ    UART_RBR, 0                     # receive buffer (read, DLAB=0)
        .equ    UART_THR, 0                     # transmit holding (write, DLAB=0)
        .equ    UART_DLL, 0                     # divisor latch low (DLAB=1)
        .equ    UART_IER, 1                     # interrupt enable (DLAB=0)
        .equ    UART_DLM, 1                     # divisor latch high (DLAB=1)
        .equ    UART_FCR, 2                     # FIFO control (write)
        .equ    UART_LCR, 3                     # line control
        .equ    UART_MCR, 4                     # modem control
        .equ    UART_LSR, 5                     # line status
        .equ    LCR_DLAB, 0x80                  # divisor latch access
        .equ    LCR_8N1, 0x03                   # 8 data bits, no parity, 1 stop bit
        .equ    FCR_ENABLE_CLEAR, 0x07          # enable FIFOs, clear RX and TX FIFOs
        .equ    MCR_DTR_RTS, 0x03               # DTR and RTS; OUT2 off: no IRQ line
        .equ    DIVISOR_115200, 1               # 1.8432 MHz / 16 / 115200
        .equ    LSR_DR, 0x01                    # data ready
        .equ    LSR_THRE, 0x20                  # transmit holding register empty

        .equ    DEBUG_EXIT_PORT, 0xF4           # QEMU isa-debug-exit: status (v << 1) | 1
        .equ    CR, 0x0D
        .equ    LF, 0x0A
        .equ    ASCII_0, 0x30

###########################################################################################
# Real mode
###########################################################################################
        .text
        .code16
        .globl  start
start:
        cli
        cld
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    $RM_STACK_TOP, %sp
        movw    %ax, FAIL_COUNT                 # RAM content is undefined at reset
        movw    %ax, FAIL_COUNT + 2
        movw    %ax, IVT_FLAG

        call    uart_init
        movw    $msg_real_mode, %si
        call    rm_puts

        # Real-mode interrupt delivery through the IVT: point vector 0x30 at our
        # handler (offset, then segment), raise it, and look for the handler's mark.
        movw    $int30_handler, IVT_SLOT
        movw    $ROM_SEG, IVT_SLOT + 2
        int     $IVT_VECTOR
        cmpw    $IVT_MAGIC, IVT_FLAG
        jne     1f
        movw    $msg_ivt_ok, %si
        call    rm_puts
        jmp     2f
1:      movw    $msg_ivt_fail, %si
        call    rm_puts
        incw    FAIL_COUNT
2:
        # Enter 32-bit protected mode. The GDT pseudo-descriptor is read through CS
        # (DS is 0); lgdtl loads a 32-bit base.
        lgdtl   %cs:gdt_desc
        movl    %cr0, %eax
        orb     $CR0_PE, %al
        movl    %eax, %cr0
        ljmpl   $CODE_SEL, $pm_entry + ROM_BASE

# INT 0x30 handler (real mode). DS is still 0 here.
int30_handler:
        movw    $IVT_MAGIC, IVT_FLAG
        iret

# Program COM1: 115200 8N1, FIFOs on, no interrupts.
uart_init:
        movw    $COM1 + UART_LCR, %dx
        movb    $LCR_DLAB, %al
        outb    %al, %dx
        movw    $COM1 + UART_DLL, %dx
        movb    $DIVISOR_115200, %al
        outb    %al, %dx
        movw    $COM1 + UART_DLM, %dx
        movb    $0, %al
        outb    %al, %dx
        movw    $COM1 + UART_LCR, %dx
        movb    $LCR_8N1, %al
        outb    %al, %dx
        movw    $COM1 + UART_IER, %dx
        movb    $0, %al
        outb    %al, %dx
        movw    $COM1 + UART_FCR, %dx
        movb    $FCR_ENABLE_CLEAR, %al
        outb    %al, %dx
        movw    $COM1 + UART_MCR, %dx
        movb    $MCR_DTR_RTS, %al
        outb    %al, %dx
        ret

# Send AL to COM1 once the transmit holding register is empty.
rm_putc:
        pushw   %dx
        pushw   %ax
        movw    $COM1 + UART_LSR, %dx
1:      inb     %dx, %al
        testb   $LSR_THRE, %al
        jz      1b
        popw    %ax
        movw    $COM1 + UART_THR, %dx
        outb    %al, %dx
        popw    %dx
        ret

# Send the NUL-terminated string at CS:SI.
rm_puts:
        pushw   %ax
        pushw   %si
1:      movb    %cs:(%si), %al
        incw    %si
        testb   %al, %al
        jz      2f
        call    rm_putc
        jmp     1b
2:      popw    %si
        popw    %ax
        ret

###########################################################################################
# 32-bit protected mode, flat segments, running from the low alias
###########################################################################################
        .code32
pm_entry:
        movw    $DATA_SEL, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    $PM_STACK_TOP, %esp

        # Exceptions: an IDT in ROM with 32-bit interrupt gates for vectors 0-31.
        lidt    idt_desc + ROM_BASE

        # Raise #DE once. The handler checks the faulting EIP, counts, and resumes at
        # de_fault_end. A faulting DIV leaves EDX:EAX unchanged.
        movl    $0, DE_COUNT
        movl    $12345, %eax
        xorl    %edx, %edx
        xorl    %ecx, %ecx
de_fault_insn:
        divl    %ecx
de_fault_end:
        cmpl    $1, DE_COUNT
        jne     1f
        cmpl    $12345, %eax
        jne     1f
        testl   %edx, %edx
        jnz     1f
        movl    $msg_idt_ok + ROM_BASE, %esi
        call    puts
        jmp     2f
1:      movl    $msg_idt_fail + ROM_BASE, %esi
        call    puts
        incl    FAIL_COUNT
2:
        movl    $msg_protected_mode + ROM_BASE, %esi
        call    puts

        movl    $0, COUNTER
count_loop:
        incl    COUNTER
        movl    $msg_count + ROM_BASE, %esi
        call    puts
        movl    COUNTER, %eax
        call    put_dec
        call    put_crlf
        call    delay
        .if TEST_MODE
        cmpl    $TEST_COUNT, COUNTER
        jb      count_loop
        jmp     self_checks
        .else
        jmp     count_loop
        .endif

# #DE handler (vector 0, no error code): [esp] = EIP of the faulting DIV.
de_handler:
        cmpl    $de_fault_insn + ROM_BASE, (%esp)
        jne     1f
        incl    DE_COUNT
        addl    $de_fault_end - de_fault_insn, (%esp)   # skip the 2-byte `div %ecx`
        iret
1:      pushl   $0                              # an unexpected #DE is fatal
        pushl   $0
        jmp     exc_common

# Every other exception is fatal: the stub pushes a dummy error code where the CPU
# pushes none, then the vector, so exc_common sees
# [esp] = vector, [esp+4] = error code, [esp+8] = EIP, [esp+12] = CS.
        .macro  EXC_STUB vector, has_error_code
exc_stub_\vector:
        .if     \has_error_code == 0
        pushl   $0
        .endif
        pushl   $\vector
        jmp     exc_common
        .endm

        .irp    v, 1,2,3,4,5,6,7,9,15,16,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        EXC_STUB \v, 0
        .endr
        .irp    v, 8,10,11,12,13,14,17
        EXC_STUB \v, 1
        .endr

exc_common:
        movl    $msg_exception + ROM_BASE, %esi
        call    puts
        movl    (%esp), %eax
        call    put_hex
        movl    $msg_error_code + ROM_BASE, %esi
        call    puts
        movl    4(%esp), %eax
        call    put_hex
        movl    $msg_at + ROM_BASE, %esi
        call    puts
        movl    12(%esp), %eax
        call    put_hex
        movb    $':', %al
        call    putc
        movl    8(%esp), %eax
        call    put_hex
        call    put_crlf
        movb    $1, %al                         # engine bug: stop the VM, status 3
        outb    %al, $DEBUG_EXIT_PORT
halt_forever:
        cli
        hlt
        jmp     halt_forever

# Busy-wait DELAY iterations of `dec; jnz`, echoing COM1 input every POLL_INTERVAL.
delay:
        pushl   %ebx
        pushl   %ecx
        movl    $DELAY_CHUNKS, %ebx
1:      movl    $POLL_INTERVAL, %ecx
2:      decl    %ecx
        jnz     2b
        call    poll_echo
        decl    %ebx
        jnz     1b
        popl    %ecx
        popl    %ebx
        ret

# Echo every byte waiting in the receiver; CR is echoed as CR LF.
poll_echo:
        pushl   %eax
        pushl   %edx
1:      movw    $COM1 + UART_LSR, %dx
        inb     %dx, %al
        testb   $LSR_DR, %al
        jz      2f
        movw    $COM1 + UART_RBR, %dx
        inb     %dx, %al
        call    putc
        cmpb    $CR, %al
        jne     1b
        movb    $LF, %al
        call    putc
        jmp     1b
2:      popl    %edx
        popl    %eax
        ret

# Send AL to COM1 once the transmit holding register is empty. Preserves all registers.
putc:
        pushl   %edx
        pushl   %eax
        movw    $COM1 + UART_LSR, %dx
1:      inb     %dx, %al
        testb   $LSR_THRE, %al
        jz      1b
        popl    %eax
        movw    $COM1 + UART_THR, %dx
        outb    %al, %dx
        popl    %edx
        ret

# Send the NUL-terminated string at DS:ESI. Preserves all registers.
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

put_crlf:
        pushl   %esi
        movl    $msg_crlf + ROM_BASE, %esi
        call    puts
        popl    %esi
        ret

# Print EAX as an unsigned decimal number. Preserves all registers.
put_dec:
        pushl   %eax
        pushl   %ebx
        pushl   %ecx
        pushl   %edx
        movl    $10, %ebx
        xorl    %ecx, %ecx
1:      xorl    %edx, %edx
        divl    %ebx
        pushl   %edx                            # digits come out least significant first
        incl    %ecx
        testl   %eax, %eax
        jnz     1b
2:      popl    %eax
        addb    $ASCII_0, %al
        call    putc
        loop    2b
        popl    %edx
        popl    %ecx
        popl    %ebx
        popl    %eax
        ret

# Print EAX as 8 hex digits. Preserves all registers.
put_hex:
        pushl   %eax
        pushl   %ecx
        pushl   %edx
        movl    %eax, %edx
        movl    $8, %ecx
1:      roll    $4, %edx
        movb    %dl, %al
        andb    $0x0F, %al
        addb    $ASCII_0, %al
        cmpb    $'9', %al
        jbe     2f
        addb    $'A' - '9' - 1, %al
2:      call    putc
        loop    1b
        popl    %edx
        popl    %ecx
        popl    %eax
        ret

###########################################################################################
# Test mode: self-checks of integer instructions and flags
###########################################################################################
        .if TEST_MODE

# Run one check routine (EAX = 0 when it passed) and report it under `name`.
        .macro  SELFCHECK routine, name
        .pushsection .rodata
9:      .asciz  "\name"
        .popsection
        call    \routine
        movl    $9b + ROM_BASE, %esi
        call    report
        .endm

self_checks:
        SELFCHECK chk_add_adc_sbb,  "add/adc/sub/sbb"
        SELFCHECK chk_flags,        "flags and jcc"
        SELFCHECK chk_mul_imul,     "mul/imul"
        SELFCHECK chk_div_idiv,     "div/idiv/cbw/cwd/cdq"
        SELFCHECK chk_shift_rotate, "shifts/rotates"
        SELFCHECK chk_string_ops,   "rep movs/stos, lods"
        SELFCHECK chk_stack_call,   "push/pop/call/ret"
        SELFCHECK chk_misc,         "movzx/movsx/lea/xchg/loop/not/and/or/xor"

        cmpl    $0, FAIL_COUNT
        jne     1f
        movl    $msg_all_passed + ROM_BASE, %esi
        call    puts
        movb    $0, %al                         # exit status 1
        outb    %al, $DEBUG_EXIT_PORT
        jmp     halt_forever
1:      movl    $msg_some_failed + ROM_BASE, %esi
        call    puts
        movl    FAIL_COUNT, %eax
        call    put_dec
        call    put_crlf
        movb    $1, %al                         # exit status 3
        outb    %al, $DEBUG_EXIT_PORT
        jmp     halt_forever

# Print "PASS: name" or "FAIL: name" (name at ESI) for the result in EAX.
report:
        pushl   %esi
        testl   %eax, %eax
        jnz     1f
        movl    $msg_pass + ROM_BASE, %esi
        jmp     2f
1:      incl    FAIL_COUNT
        movl    $msg_fail + ROM_BASE, %esi
2:      call    puts
        popl    %esi
        call    puts
        call    put_crlf
        ret

# Shared exit for check routines whose stack is balanced: EAX = 1, return.
chk_fail:
        movl    $1, %eax
        ret

chk_add_adc_sbb:
        # 64-bit increment of 0xFFFFFFFF_FFFFFFFF: add then adc carries through.
        movl    $0xFFFFFFFF, %eax
        movl    $0xFFFFFFFF, %edx
        addl    $1, %eax
        adcl    $0, %edx
        jnc     chk_fail
        testl   %eax, %eax
        jnz     chk_fail
        testl   %edx, %edx
        jnz     chk_fail
        # 64-bit decrement of 0: sub then sbb borrows through.
        xorl    %eax, %eax
        xorl    %edx, %edx
        subl    $1, %eax
        sbbl    $0, %edx
        jnc     chk_fail
        cmpl    $0xFFFFFFFF, %eax
        jne     chk_fail
        cmpl    $0xFFFFFFFF, %edx
        jne     chk_fail
        # adc with no carry in adds nothing extra; register-register forms.
        movl    $0x12345678, %eax
        movl    $0x11111111, %ecx
        addl    %ecx, %eax                      # 0x23456789, CF=0
        adcl    $0, %eax
        cmpl    $0x23456789, %eax
        jne     chk_fail
        subl    %ecx, %eax
        cmpl    $0x12345678, %eax
        jne     chk_fail
        xorl    %eax, %eax
        ret

chk_flags:
        # Signed overflow and sign: 0x7FFFFFFF + 1.
        movl    $0x7FFFFFFF, %eax
        addl    $1, %eax
        jno     chk_fail
        jns     chk_fail
        jc      chk_fail
        # Signed and unsigned comparisons of -1 with 1.
        movl    $-1, %eax
        cmpl    $1, %eax
        jge     chk_fail                        # signed: -1 < 1
        jbe     chk_fail                        # unsigned: 0xFFFFFFFF > 1
        # INC leaves CF alone; DEC sets ZF.
        movl    $0xFFFFFFFF, %eax
        addl    $1, %eax                        # CF=1, ZF=1
        incl    %eax                            # EAX=1, CF still 1, ZF=0
        jnc     chk_fail
        jz      chk_fail
        decl    %eax
        jnz     chk_fail
        # NEG sets CF unless the operand is 0.
        movl    $5, %eax
        negl    %eax
        jnc     chk_fail
        cmpl    $-5, %eax
        jne     chk_fail
        xorl    %eax, %eax
        negl    %eax
        jc      chk_fail
        # PF is the even parity of the low byte.
        movl    $0x0103, %eax                   # low byte 0x03: two bits set
        testl   %eax, %eax
        jnp     chk_fail
        movl    $0x0301, %eax                   # low byte 0x01: one bit set
        testl   %eax, %eax
        jp      chk_fail
        # Borrow and sign from 1 - 2.
        movl    $1, %eax
        subl    $2, %eax
        jnc     chk_fail
        jns     chk_fail
        jae     chk_fail
        # 8-bit add: 0x80 + 0x80 = 0 with CF, ZF and OF.
        movb    $0x80, %al
        addb    %al, %al
        jnc     chk_fail
        jnz     chk_fail
        jno     chk_fail
        # 16-bit increment wraps to 0.
        movw    $0xFFFF, %ax
        incw    %ax
        jnz     chk_fail
        # CMP of equal 8-bit registers.
        movb    $0x42, %cl
        movb    $0x42, %dl
        cmpb    %dl, %cl
        jne     chk_fail
        xorl    %eax, %eax
        ret

chk_mul_imul:
        movl    $0x12345678, %eax
        movl    $0x9ABCDEF0, %ecx
        mull    %ecx                            # 0x0B00EA4E_242D2080
        jnc     chk_fail                        # high half non-zero: CF=OF=1
        cmpl    $0x242D2080, %eax
        jne     chk_fail
        cmpl    $0x0B00EA4E, %edx
        jne     chk_fail
        movb    $200, %al
        movb    $3, %cl
        mulb    %cl                             # AX = 600
        cmpw    $600, %ax
        jne     chk_fail
        movl    $-3, %eax
        movl    $7, %ecx
        imull   %ecx                            # EDX:EAX = -21
        jc      chk_fail                        # fits in EAX: CF=OF=0
        cmpl    $-21, %eax
        jne     chk_fail
        cmpl    $-1, %edx
        jne     chk_fail
        movl    $-6, %ebx
        imull   %ecx, %ebx                      # two-operand: -42
        cmpl    $-42, %ebx
        jne     chk_fail
        imull   $-9, %ecx, %edx                 # three-operand: -63
        cmpl    $-63, %edx
        jne     chk_fail
        xorl    %eax, %eax
        ret

chk_div_idiv:
        movl    $1, %edx
        xorl    %eax, %eax
        movl    $3, %ecx
        divl    %ecx                            # 0x1_00000000 / 3
        cmpl    $0x55555555, %eax
        jne     chk_fail
        cmpl    $1, %edx
        jne     chk_fail
        movl    $-100, %eax
        cltd                                    # cdq: EDX = 0xFFFFFFFF
        cmpl    $-1, %edx
        jne     chk_fail
        movl    $7, %ecx
        idivl   %ecx                            # truncates toward zero
        cmpl    $-14, %eax
        jne     chk_fail
        cmpl    $-2, %edx
        jne     chk_fail
        movw    $-1000, %ax
        cwtd                                    # cwd: DX = 0xFFFF
        idivw   %cx                             # AX = -142, DX = -6
        cmpw    $-142, %ax
        jne     chk_fail
        cmpw    $-6, %dx
        jne     chk_fail
        movw    $1000, %ax
        divb    %cl                             # AL = 142, AH = 6
        cmpw    $0x068E, %ax
        jne     chk_fail
        movb    $-5, %al
        cbtw                                    # cbw: AX = 0xFFFB
        cmpw    $0xFFFB, %ax
        jne     chk_fail
        xorl    %eax, %eax
        ret

chk_shift_rotate:
        movl    $0x80000001, %eax
        shll    $1, %eax                        # 2, CF=1
        jnc     chk_fail
        cmpl    $2, %eax
        jne     chk_fail
        movl    $0x80000001, %eax
        shrl    $1, %eax                        # 0x40000000, CF=1
        jnc     chk_fail
        cmpl    $0x40000000, %eax
        jne     chk_fail
        movl    $0x80000000, %eax
        sarl    $4, %eax                        # sign fills: 0xF8000000
        cmpl    $0xF8000000, %eax
        jne     chk_fail
        movb    $8, %cl
        shll    %cl, %eax                       # 0x00000000, CF = last bit out = 0
        jc      chk_fail
        jnz     chk_fail
        movl    $0x12345678, %eax
        roll    $8, %eax
        cmpl    $0x34567812, %eax
        jne     chk_fail
        movl    $0x12345678, %eax
        rorl    $4, %eax                        # 0x81234567, CF = bit 31 = 1
        jnc     chk_fail
        cmpl    $0x81234567, %eax
        jne     chk_fail
        movl    $0x80000000, %edx
        xorl    %eax, %eax
        cmpl    $1, %eax                        # 0 < 1 unsigned: CF=1
        rcll    $1, %edx                        # CF in at bit 0, bit 31 out: 1, CF=1
        jnc     chk_fail
        rcrl    $1, %edx                        # CF in at bit 31, bit 0 out: 0x80000000, CF=1
        jnc     chk_fail
        cmpl    $0x80000000, %edx
        jne     chk_fail
        movl    $3, %edx
        xorl    %eax, %eax                      # CF=0
        rcrl    $1, %edx                        # 0 in at bit 31: 1, CF=1
        jnc     chk_fail
        cmpl    $1, %edx
        jne     chk_fail
        xorl    %eax, %eax
        ret

chk_string_ops:
        # rep movsb a string from ROM into RAM, then compare with lodsb.
        movl    $quick_fox + ROM_BASE, %esi
        movl    $BUF, %edi
        movl    $quick_fox_len, %ecx
        rep movsb
        testl   %ecx, %ecx
        jnz     chk_fail
        cmpl    $quick_fox + quick_fox_len + ROM_BASE, %esi
        jne     chk_fail
        cmpl    $BUF + quick_fox_len, %edi
        jne     chk_fail
        movl    $quick_fox + ROM_BASE, %esi
        movl    $BUF, %edi
        movl    $quick_fox_len, %ecx
1:      lodsb
        cmpb    (%edi), %al
        jne     chk_fail
        incl    %edi
        loop    1b
        # rep movsl the copy on to BUF2, then compare dwords with lodsl.
        movl    $BUF, %esi
        movl    $BUF2, %edi
        movl    $quick_fox_len >> 2, %ecx
        rep movsl
        cmpl    $BUF2 + (quick_fox_len & ~3), %edi
        jne     chk_fail
        movl    $quick_fox + ROM_BASE, %esi
        movl    $BUF2, %edi
        movl    $quick_fox_len >> 2, %ecx
2:      lodsl
        cmpl    (%edi), %eax
        jne     chk_fail
        addl    $4, %edi
        loop    2b
        # rep stosl fills, rep stosb overwrites the first bytes.
        movl    $0xA5A5A5A5, %eax
        movl    $BUF, %edi
        movl    $16, %ecx
        rep stosl
        cmpl    $BUF + 64, %edi
        jne     chk_fail
        movb    $0x5A, %al
        movl    $BUF, %edi
        movl    $3, %ecx
        rep stosb
        movl    $BUF, %esi
        lodsl
        cmpl    $0xA55A5A5A, %eax
        jne     chk_fail
        movl    $BUF + 60, %esi
        lodsl
        cmpl    $0xA5A5A5A5, %eax
        jne     chk_fail
        xorl    %eax, %eax
        ret

chk_stack_call:
        movl    %esp, %ebx
        # push/pop swap two registers.
        movl    $0x11111111, %eax
        movl    $0x22222222, %ecx
        pushl   %eax
        pushl   %ecx
        popl    %eax
        popl    %ecx
        cmpl    $0x22222222, %eax
        jne     3f
        cmpl    $0x11111111, %ecx
        jne     3f
        # A frame-pointer callee that takes two stack arguments and pops them (ret $8).
        pushl   $0x33333333
        pushl   $0x44444444
        call    add_two_args
        cmpl    $0x77777777, %eax
        jne     3f
        cmpl    %ebx, %esp
        jne     3f
        # Recursion: 10! = 3628800.
        movl    $10, %eax
        call    factorial
        cmpl    $3628800, %eax
        jne     3f
        cmpl    %ebx, %esp
        jne     3f
        xorl    %eax, %eax
        ret
3:      movl    %ebx, %esp                      # unwind whatever the failure left behind
        jmp     chk_fail

add_two_args:
        pushl   %ebp
        movl    %esp, %ebp
        movl    8(%ebp), %eax
        addl    12(%ebp), %eax
        popl    %ebp
        ret     $8

# EAX = EAX! (EAX <= 12)
factorial:
        cmpl    $1, %eax
        jbe     1f
        pushl   %eax
        decl    %eax
        call    factorial
        popl    %ecx
        mull    %ecx
        ret
1:      movl    $1, %eax
        ret

chk_misc:
        movl    $0x000080FF, %eax
        movzbl  %al, %ecx
        cmpl    $0xFF, %ecx
        jne     chk_fail
        movsbl  %al, %edx
        cmpl    $0xFFFFFFFF, %edx
        jne     chk_fail
        movzwl  %ax, %ecx
        cmpl    $0x80FF, %ecx
        jne     chk_fail
        movswl  %ax, %edx
        cmpl    $0xFFFF80FF, %edx
        jne     chk_fail
        movl    $0x1000, %ebx
        movl    $3, %esi
        leal    0x10(%ebx,%esi,4), %edi
        cmpl    $0x101C, %edi
        jne     chk_fail
        movl    $10, %ecx
        xorl    %eax, %eax
1:      addl    %ecx, %eax
        loop    1b
        cmpl    $55, %eax
        jne     chk_fail
        testl   %ecx, %ecx
        jnz     chk_fail
        movl    $1, %eax
        movl    $2, %edx
        xchgl   %eax, %edx
        cmpl    $2, %eax
        jne     chk_fail
        cmpl    $1, %edx
        jne     chk_fail
        movl    $0x12345678, SCRATCH
        movl    $0xCAFEBABE, %eax
        xchgl   %eax, SCRATCH
        cmpl    $0x12345678, %eax
        jne     chk_fail
        notl    SCRATCH                         # ~0xCAFEBABE = 0x35014541
        andl    $0xFFFF0000, SCRATCH            # 0x35010000
        orl     $0x000000FF, SCRATCH            # 0x350100FF
        xorl    $0x35010000, SCRATCH            # 0x000000FF
        cmpl    $0x000000FF, SCRATCH
        jne     chk_fail
        xorl    %eax, %eax
        ret

        .endif  # TEST_MODE

###########################################################################################
# Read-only data (in ROM: the CPU's writes of accessed bits would be lost, so the
# descriptors have them preset)
###########################################################################################
        .section .rodata
        .p2align 3
gdt:
        .quad   0                               # 0x00: null
        .quad   0x00CF9B000000FFFF              # 0x08: code, base 0, limit 4 GiB, 32-bit, type 0x9B
        .quad   0x00CF93000000FFFF              # 0x10: data, base 0, limit 4 GiB, 32-bit, type 0x93
gdt_end:
gdt_desc:
        .word   gdt_end - gdt - 1
        .long   gdt + ROM_BASE

# 32-bit interrupt gate (type 0xE, DPL 0, present) to a handler in the ROM.
        .macro  GATE handler
        .word   \handler                        # offset 15..0 (ROM_BASE is 64 KiB aligned)
        .word   CODE_SEL
        .byte   0, 0x8E
        .word   ROM_BASE >> 16                  # offset 31..16
        .endm

        .p2align 3
idt:
        GATE    de_handler
        .irp    v, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        GATE    exc_stub_\v
        .endr
idt_end:
idt_desc:
        .word   idt_end - idt - 1
        .long   idt + ROM_BASE

msg_real_mode:          .asciz  "Polyvisor demo guest: real mode\r\n"
msg_ivt_ok:             .asciz  "IVT ok\r\n"
msg_ivt_fail:           .asciz  "IVT FAIL: INT 0x30 handler did not run\r\n"
msg_idt_ok:             .asciz  "IDT ok\r\n"
msg_idt_fail:           .asciz  "IDT FAIL: #DE handler did not run once at the DIV\r\n"
msg_protected_mode:     .asciz  "Polyvisor demo guest: 32-bit protected mode\r\n"
msg_count:              .asciz  "count: "
msg_crlf:               .asciz  "\r\n"
msg_exception:          .asciz  "FATAL: CPU exception 0x"
msg_error_code:         .asciz  " error 0x"
msg_at:                 .asciz  " at CS:EIP 0x"
        .if TEST_MODE
msg_pass:               .asciz  "PASS: "
msg_fail:               .asciz  "FAIL: "
msg_all_passed:         .asciz  "all self-checks passed\r\n"
msg_some_failed:        .asciz  "self-checks failed: "
quick_fox:              .ascii  "The quick brown fox jumps over the lazy dog!"
        .equ    quick_fox_len, . - quick_fox
        .endif

###########################################################################################
# Reset vector: image offset 0xFFF0 (placed by demo.ld), CS base 0xFFFF_0000
###########################################################################################
        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        ljmp    $ROM_SEG, $start
