# Polyvisor A20 test ROM: closes and opens the A20 gate through the i8042 output port (command
# 0xD1) and through port 0x92 bit 1, and checks right after each change that FFFF:0010 reads
# physical 0x100000 (gate open) or wraps to physical 0 (gate closed, as on an 8086). Real mode
# only. GNU as, AT&T syntax; built by build.sh. Layout (a20.ld) and conventions as guests/smp:
# the body at image offset 0 (F000:0000), the boot stub at 0xFF00, the reset vector at 0xFFF0.
#
# Output on success: one "A20: <step> ok" line per step, then "A20: PASS", and 0 to the
# isa-debug-exit port 0xF4 (exit status 1). On failure "A20: FAIL <step>" and 1 (exit status 3).

        .equ    COM1, 0x3F8
        .equ    DEBUG_EXIT, 0xF4
        .equ    KBC_DATA, 0x60
        .equ    KBC_STATUS, 0x64                # read: status, write: command
        .equ    KBC_IBF, 0x02                   # status: input buffer full
        .equ    KBC_WRITE_OUTPUT, 0xD1          # the next data byte is the output port
        .equ    OUT_A20_OFF, 0xDD               # output port: A20 (bit 1) off, reset (bit 0) high
        .equ    OUT_A20_ON, 0xDF
        .equ    PORT_A, 0x92                    # PS/2 system control port A: bit 1 = fast A20
        .equ    LOW_MARK, 0x11                  # at physical 0
        .equ    HIGH_MARK, 0x22                 # at physical 0x100000
        .equ    BOOT_OFFSET, 0xFF00

        .text
        .code16
main:                                           # image offset 0: offsets are label - main
        xorw    %ax, %ax
        movw    %ax, %ds                        # DS: physical 0
        movw    %ax, %ss
        movw    $0x7000, %sp
        movw    $0xFFFF, %ax
        movw    %ax, %es                        # ES:0010 is physical 0x100000, or 0 with A20 closed
        movb    $LOW_MARK, 0
        movb    $HIGH_MARK, %es:0x10            # the gate is open at power-on
        movw    $msg_power_on - main, %si
        call    expect_open

        call    kbc_wait                        # 1. i8042 output port, A20 off (0x92 bit 1 is 0)
        movb    $KBC_WRITE_OUTPUT, %al
        outb    %al, $KBC_STATUS
        call    kbc_wait
        movb    $OUT_A20_OFF, %al
        outb    %al, $KBC_DATA
        movw    $msg_kbc_off - main, %si
        call    expect_closed

        inb     $PORT_A, %al                    # 2. fast A20 on
        orb     $0x02, %al
        andb    $0xFE, %al                      # never the fast reset bit
        outb    %al, $PORT_A
        movw    $msg_92_on - main, %si
        call    expect_open

        inb     $PORT_A, %al                    # 3. fast A20 off again
        andb    $0xFC, %al
        outb    %al, $PORT_A
        movw    $msg_92_off - main, %si
        call    expect_closed

        call    kbc_wait                        # 4. i8042 output port, A20 on
        movb    $KBC_WRITE_OUTPUT, %al
        outb    %al, $KBC_STATUS
        call    kbc_wait
        movb    $OUT_A20_ON, %al
        outb    %al, $KBC_DATA
        movw    $msg_kbc_on - main, %si
        call    expect_open

        movw    $msg_pass - main, %si
        call    puts16
        movb    $0, %al
        outb    %al, $DEBUG_EXIT
1:      hlt
        jmp     1b

# expect_open / expect_closed: FFFF:0010 must read HIGH_MARK / LOW_MARK; SI names the step.
expect_open:
        movb    $HIGH_MARK, %bl
        jmp     1f
expect_closed:
        movb    $LOW_MARK, %bl
1:      cmpb    %bl, %es:0x10
        jne     fail
        pushw   %si
        movw    $msg_prefix - main, %si
        call    puts16
        popw    %si
        call    puts16
        movw    $msg_ok - main, %si
        call    puts16
        ret

fail:
        pushw   %si
        movw    $msg_fail - main, %si
        call    puts16
        popw    %si
        call    puts16
        movw    $msg_crlf - main, %si
        call    puts16
        movb    $1, %al
        outb    %al, $DEBUG_EXIT
1:      hlt
        jmp     1b

# kbc_wait: until the i8042 can take a byte. Clobbers AL.
kbc_wait:
        inb     $KBC_STATUS, %al
        testb   $KBC_IBF, %al
        jnz     kbc_wait
        ret

# puts16: CS:SI NUL-terminated to COM1 (polled). Clobbers SI, CX.
puts16:
        pushw   %ax
        pushw   %dx
1:      movb    %cs:(%si), %al
        incw    %si
        testb   %al, %al
        jz      3f
        movw    %ax, %cx
        movw    $COM1 + 5, %dx
2:      inb     %dx, %al
        testb   $0x20, %al                      # LSR.THRE
        jz      2b
        movw    %cx, %ax
        movw    $COM1, %dx
        outb    %al, %dx
        jmp     1b
3:      popw    %dx
        popw    %ax
        ret

msg_prefix:   .asciz "A20: "
msg_ok:       .asciz " ok\r\n"
msg_crlf:     .asciz "\r\n"
msg_fail:     .asciz "A20: FAIL "
msg_pass:     .asciz "A20: PASS\r\n"
msg_power_on: .asciz "open at power-on"
msg_kbc_off:  .asciz "closed by i8042 output port"
msg_92_on:    .asciz "opened by port 0x92"
msg_92_off:   .asciz "closed by port 0x92"
msg_kbc_on:   .asciz "opened by i8042 output port"

# ---- reset: F000:FFF0 (high alias) -> the stub -> the body at F000:0000 ---------------------
        .section .boot, "ax"
        .code16
boot_start:
        cli
        cld
        ljmp    $0xF000, $0x0000

        .section .reset, "ax"
        .code16
        .globl  reset_vector
reset_vector:
        .byte   0xEA                            # ljmp $0xF000, $BOOT_OFFSET (in the low alias)
        .word   BOOT_OFFSET
        .word   0xF000
