# Polyvisor platform test kernel: the 8259A pair and the 8254 PIT.
# Programs both PICs (ICW1-4, vectors 0x20-0x2F, cascade on IRQ 2), runs PIT channel 0 in mode 2
# at 100 Hz and counts IRQ 0 with an IDT handler that sends a non-specific EOI. Time is measured
# independently with PIT channel 2 in mode 0 (gate and OUT2 on port 0x61, as a BIOS calibrates).
# Links with ../cputest/common.S (the boot stub and runner).
        .include "common.inc"

        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "pic"
        .text

        .equ    TICKS, var0                     # IRQ 0 count
        .equ    OTHER, var1                     # any other vector 0x21-0x2F
        .equ    PIT_HZ_COUNT, 11932             # 1193182 Hz / 100

irq0_handler:
        pushl   %eax
        incl    TICKS
        movb    $0x20, %al                      # non-specific EOI
        outb    %al, $0x20
        popl    %eax
        iret

other_handler:
        pushl   %eax
        incl    OTHER
        movb    $0x20, %al
        outb    %al, $0xA0
        outb    %al, $0x20
        popl    %eax
        iret

# lapic_extint: when CPUID reports a local APIC, do the firmware's part (as SeaBIOS): software-enable
# it (SVR) and pass the 8259's INTR through LINT0 as ExtINT. Otherwise (no APIC) the 8259 drives INTR.
lapic_extint:
        pushal
        movl    $1, %eax
        cpuid
        testl   $0x200, %edx                    # CPUID.1:EDX.APIC
        jz      1f
        movl    $0x1FF, 0xFEE000F0              # SVR: enabled, spurious vector 0xFF
        movl    $0x700, 0xFEE00350              # LVT LINT0: ExtINT, unmasked
        movl    $0x400, 0xFEE00360              # LVT LINT1: NMI
1:      popal
        ret

# setup: IDT gates 0x20 (irq0_handler) and 0x21-0x2F (other_handler), both PICs initialised with
# only IRQ 0 unmasked, PIT channel 0 at 100 Hz, counters zero. IF stays 0.
setup:
        pushal
        movl    $0x20, %esi
1:      leal    IDT(,%esi,8), %edi
        movl    $CODE0, %eax
        movl    $other_handler, %ebx
        cmpl    $0x20, %esi
        jne     2f
        movl    $irq0_handler, %ebx
2:      movl    $ACC_INT_GATE32, %edx
        call    make_gate
        incl    %esi
        cmpl    $0x30, %esi
        jb      1b
        movb    $0x11, %al                      # ICW1: edge, cascade, ICW4
        outb    %al, $0x20
        outb    %al, $0xA0
        movb    $0x20, %al                      # ICW2: vector bases
        outb    %al, $0x21
        movb    $0x28, %al
        outb    %al, $0xA1
        movb    $0x04, %al                      # ICW3: slave on IRQ 2
        outb    %al, $0x21
        movb    $0x02, %al
        outb    %al, $0xA1
        movb    $0x01, %al                      # ICW4: 8086 mode
        outb    %al, $0x21
        outb    %al, $0xA1
        movb    $0xFE, %al                      # OCW1: IRQ 0 only
        outb    %al, $0x21
        movb    $0xFF, %al
        outb    %al, $0xA1
        movb    $0x34, %al                      # channel 0, LSB then MSB, mode 2, binary
        outb    %al, $0x43
        movb    $PIT_HZ_COUNT & 0xFF, %al
        outb    %al, $0x40
        movb    $PIT_HZ_COUNT >> 8, %al
        outb    %al, $0x40
        movl    $0, TICKS
        movl    $0, OTHER
        call    lapic_extint
        popal
        ret

# quiet: mask both PICs, IF = 0.
quiet:
        cli
        pushl   %eax
        movb    $0xFF, %al
        outb    %al, $0x21
        outb    %al, $0xA1
        popl    %eax
        ret

# wait_ch2: ECX = number of 65535-count periods of channel 2 (54.9 ms each). EAX = 0, or 1 if OUT2
# never went high.
wait_ch2:
        pushl   %ecx
        pushl   %edx
1:      inb     $0x61, %al
        andb    $0xFC, %al                      # gate low, speaker off
        outb    %al, $0x61
        movb    $0xB0, %al                      # channel 2, LSB then MSB, mode 0
        outb    %al, $0x43
        movb    $0xFF, %al
        outb    %al, $0x42
        outb    %al, $0x42
        inb     $0x61, %al
        orb     $0x01, %al                      # gate high: count
        outb    %al, $0x61
        movl    $200000000, %edx
2:      inb     $0x61, %al
        testb   $0x20, %al                      # OUT2
        jnz     3f
        decl    %edx
        jnz     2b
        movl    $1, %eax
        jmp     4f
3:      loop    1b
        xorl    %eax, %eax
4:      popl    %edx
        popl    %ecx
        ret

# ---------------------------------------------------------------------------------------
        TEST    t_rate, "PIT mode 2 at 100 Hz through the 8259: 220 ms gives about 22 ticks"
t_rate:
        call    setup
        sti
        movl    $4, %ecx
        call    wait_ch2
        call    quiet
        EXPECT_EQ %eax, $0, 1
        movl    TICKS, %eax
        cmpl    $15, %eax
        jae     1f
        FAIL    2
1:      cmpl    $30, %eax
        jbe     2f
        FAIL    3
2:      EXPECT_EQ OTHER, $0, 4
        xorl    %eax, %eax
        ret

        TEST    t_mask, "OCW1 masking stops IRQ 0, IRR still latches, unmasking delivers"
t_mask:
        call    setup
        movb    $0xFF, %al
        outb    %al, $0x21
        sti
        movl    $2, %ecx
        call    wait_ch2
        cli
        EXPECT_EQ %eax, $0, 10
        EXPECT_EQ TICKS, $0, 11
        movb    $0x0A, %al                      # OCW3: read IRR
        outb    %al, $0x20
        inb     $0x20, %al
        andl    $1, %eax
        EXPECT_EQ %eax, $1, 12
        movb    $0xFE, %al                      # unmask: the pending request is taken at STI
        outb    %al, $0x21
        sti
        movl    $1, %ecx
        call    wait_ch2
        call    quiet
        cmpl    $1, TICKS
        jae     1f
        FAIL    13
1:      EXPECT_EQ OTHER, $0, 14
        xorl    %eax, %eax
        ret

        TEST    t_isr, "ISR holds IRQ 0 until EOI; OCW3 reads it back"
t_isr:
        call    setup
        movb    $0x0B, %al                      # OCW3: read ISR
        outb    %al, $0x20
        inb     $0x20, %al
        movzbl  %al, %eax
        EXPECT_EQ %eax, $0, 20
        movl    $1, %ecx                        # an IRQ 0 is pending now (IF = 0)
        call    wait_ch2
        movl    $no_eoi_handler, %ebx
        IDT_SLOT 0x20, %edi
        movl    $CODE0, %eax
        movl    $ACC_INT_GATE32, %edx
        call    make_gate
        sti
        movl    $1, %ecx                        # several periods: only one is taken without EOI
        call    wait_ch2
        cli
        EXPECT_EQ TICKS, $1, 21
        movb    $0x0B, %al
        outb    %al, $0x20
        inb     $0x20, %al
        movzbl  %al, %eax
        EXPECT_EQ %eax, $1, 22
        movb    $0x20, %al                      # EOI
        outb    %al, $0x20
        movb    $0x0B, %al
        outb    %al, $0x20
        inb     $0x20, %al
        movzbl  %al, %eax
        EXPECT_EQ %eax, $0, 23
        call    quiet
        movb    $0x0A, %al                      # back to IRR reads
        outb    %al, $0x20
        xorl    %eax, %eax
        ret

no_eoi_handler:
        incl    TICKS
        iret

        TEST    t_latch, "PIT counter latch of channel 0 stays within the count"
t_latch:
        call    setup
        movl    $100, %ecx
1:      xorb    %al, %al                        # latch channel 0
        outb    %al, $0x43
        inb     $0x40, %al
        movb    %al, %dl
        inb     $0x40, %al
        movb    %al, %dh
        movzwl  %dx, %eax
        cmpl    $PIT_HZ_COUNT, %eax
        jbe     2f
        FAIL    30
2:      loop    1b
        call    quiet
        xorl    %eax, %eax
        ret
