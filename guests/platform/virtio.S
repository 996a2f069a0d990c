# Polyvisor platform test kernel: the virtio 1.x block device over PCI (virtio 1.1, 4.1 and 5.2).
# Finds the device (vendor 0x1AF4, device 0x1042) with configuration mechanism #1, assigns the
# BARs its vendor capabilities name (firmware's job: no BIOS here), negotiates VERSION_1, sets up
# virtqueue 0 in RAM and polls the used ring (no interrupts). The disk image is NSECTORS sectors;
# sector s byte i holds (i + 3 * s + 0x5A) & 0xFF. Test "write" stores (5 * i + 0x11) & 0xFF in
# sector WSECTOR, which the host side checks in the image file afterwards.
# Links with ../cputest/common.S (the boot stub and runner).
        .include "common.inc"

        .section .rodata
        .globl  suite_name
suite_name:
        .asciz  "virtio"
        .text

        .equ    PCI_DEV, var0                   # 0x80000000 | device << 11
        .equ    VCOMMON, var1                   # common configuration
        .equ    VNOTIFY, var2                   # notification area, then queue 0's address
        .equ    VNOTMUL, var3                   # notify_off_multiplier
        .equ    VDEVCFG, var4                   # device configuration
        .equ    VISR, var5                      # ISR status
        .equ    AVAIL_IDX, var6                 # the driver's available index
        .equ    BAR_NEXT, var7                  # next free address for a BAR
        .equ    BAR_DONE, var8                  # bit n: BAR n assigned
        .equ    USED_LEN, var9                  # the used length of the last request

        .equ    MMIO_BASE, 0xFE000000
        .equ    QSIZE, 8
        .equ    VQ_DESC, 0x50000
        .equ    VQ_AVAIL, 0x50800
        .equ    VQ_USED, 0x51000
        .equ    REQ_HDR, 0x52000
        .equ    REQ_STATUS, 0x52010
        .equ    DATA, 0x53000
        .equ    NSECTORS, 64
        .equ    WSECTOR, 2

# pci_rd: ECX = register. EAX = its dword.
pci_rd:
        pushl   %edx
        movl    PCI_DEV, %eax
        orl     %ecx, %eax
        andl    $~3, %eax
        movw    $0xCF8, %dx
        outl    %eax, %dx
        movw    $0xCFC, %dx
        inl     %dx, %eax
        popl    %edx
        ret

# pci_wr: ECX = register (dword aligned), EAX = value.
pci_wr:
        pushl   %edx
        pushl   %eax
        movl    PCI_DEV, %eax
        orl     %ecx, %eax
        andl    $~3, %eax
        movw    $0xCF8, %dx
        outl    %eax, %dx
        popl    %eax
        movw    $0xCFC, %dx
        outl    %eax, %dx
        popl    %edx
        ret

# pci_rd8: ECX = register. EAX = its byte.
pci_rd8:
        pushl   %ecx
        call    pci_rd
        andl    $3, %ecx
        shll    $3, %ecx
        shrl    %cl, %eax
        andl    $0xFF, %eax
        popl    %ecx
        ret

# bar_addr: EBX = BAR number. EAX = its base, assigning it (size-aligned from BAR_NEXT) the first time.
bar_addr:
        pushl   %ecx
        pushl   %edx
        pushl   %esi
        leal    0x10(,%ebx,4), %ecx
        btl     %ebx, BAR_DONE
        jc      2f
        call    pci_rd
        movl    %eax, %esi                      # type bits
        movl    $0xFFFFFFFF, %eax
        call    pci_wr
        call    pci_rd
        andl    $~0xF, %eax
        negl    %eax                            # size
        leal    -1(%eax), %edx
        movl    BAR_NEXT, %eax
        addl    %edx, %eax
        notl    %edx
        andl    %edx, %eax                      # size-aligned base
        call    pci_wr
        movl    %eax, BAR_NEXT
        addl    $0x100000, BAR_NEXT             # 1 MiB apart (every BAR here is smaller)
        btsl    %ebx, BAR_DONE
        andl    $6, %esi
        cmpl    $4, %esi                        # 64-bit: the upper half is 0
        jne     2f
        addl    $4, %ecx
        xorl    %eax, %eax
        call    pci_wr
        subl    $4, %ecx
2:      call    pci_rd
        andl    $~0xF, %eax
        popl    %esi
        popl    %edx
        popl    %ecx
        ret

# do_req: EAX = type, EBX = sector, EDX = data length (at DATA). EAX = status byte (0x100: timeout),
# USED_LEN = the used length.
do_req:
        pushl   %ecx
        pushl   %edi
        movl    %eax, REQ_HDR
        movl    $0, REQ_HDR + 4
        movl    %ebx, REQ_HDR + 8
        movl    $0, REQ_HDR + 12
        movb    $0xFF, REQ_STATUS
        movl    $VQ_DESC, %edi
        movl    $REQ_HDR, 0(%edi)               # 0: header, device-readable
        movl    $0, 4(%edi)
        movl    $16, 8(%edi)
        movw    $1, 12(%edi)                    # NEXT
        movw    $1, 14(%edi)
        movl    $DATA, 16(%edi)                 # 1: data
        movl    $0, 20(%edi)
        movl    %edx, 24(%edi)
        movw    $1, 28(%edi)
        testl   %eax, %eax                      # IN: device-writable
        jnz     1f
        movw    $3, 28(%edi)
1:      movw    $2, 30(%edi)
        movl    $REQ_STATUS, 32(%edi)           # 2: status, device-writable
        movl    $0, 36(%edi)
        movl    $1, 40(%edi)
        movw    $2, 44(%edi)
        movw    $0, 46(%edi)
        movl    AVAIL_IDX, %ecx
        andl    $QSIZE - 1, %ecx
        movw    $0, VQ_AVAIL + 4(,%ecx,2)       # ring[idx % size] = head 0
        incl    AVAIL_IDX
        movl    AVAIL_IDX, %eax
        movw    %ax, VQ_AVAIL + 2
        movl    VNOTIFY, %edi
        movw    $0, (%edi)                      # notify queue 0
        movl    $50000000, %ecx
2:      movw    VQ_USED + 2, %ax
        cmpw    AVAIL_IDX, %ax
        je      3f
        loop    2b
        movl    $0x100, %eax
        jmp     4f
3:      movl    AVAIL_IDX, %ecx
        decl    %ecx
        andl    $QSIZE - 1, %ecx
        movl    VQ_USED + 8(,%ecx,8), %eax
        movl    %eax, USED_LEN
        movzbl  REQ_STATUS, %eax
4:      popl    %edi
        popl    %ecx
        ret

# check_sectors: EBX = first sector, ECX = count. EAX = 0 if DATA holds their pattern.
check_sectors:
        pushl   %ebx
        pushl   %ecx
        pushl   %edx
        pushl   %esi
        movl    $DATA, %esi
1:      xorl    %edx, %edx                      # i
2:      leal    (%ebx,%ebx,2), %eax
        addl    %edx, %eax
        addl    $0x5A, %eax
        cmpb    %al, (%esi)
        jne     3f
        incl    %esi
        incl    %edx
        cmpl    $512, %edx
        jb      2b
        incl    %ebx
        loop    1b
        xorl    %eax, %eax
        jmp     4f
3:      movl    $1, %eax
4:      popl    %esi
        popl    %edx
        popl    %ecx
        popl    %ebx
        ret

# fill_data: AL = byte; the first 1 KiB of DATA.
fill_data:
        pushl   %ecx
        pushl   %edi
        movl    $DATA, %edi
        movl    $1024, %ecx
        rep stosb
        popl    %edi
        popl    %ecx
        ret

# ---------------------------------------------------------------------------------------
        TEST    t_find, "find the device by configuration mechanism #1"
t_find:
        xorl    %ebx, %ebx
1:      movl    %ebx, %eax
        shll    $11, %eax
        orl     $0x80000000, %eax
        movl    %eax, PCI_DEV
        xorl    %ecx, %ecx
        call    pci_rd
        cmpl    $0x10421AF4, %eax
        je      2f
        incl    %ebx
        cmpl    $32, %ebx
        jb      1b
        FAIL    1
2:      movl    $8, %ecx
        call    pci_rd8
        EXPECT_EQ %eax, $1, 2                   # revision 1: modern only
        movl    $6, %ecx
        call    pci_rd8
        andl    $0x10, %eax                     # capabilities list
        EXPECT_EQ %eax, $0x10, 3
        movl    $0x3D, %ecx
        call    pci_rd8
        EXPECT_EQ %eax, $1, 4                   # INTA#
        xorl    %eax, %eax
        ret

        TEST    t_caps, "vendor capabilities and BAR assignment"
t_caps:
        movl    $MMIO_BASE, BAR_NEXT
        movl    $0, BAR_DONE
        movl    $0, VCOMMON
        movl    $0, VNOTIFY
        movl    $0, VISR
        movl    $0, VDEVCFG
        movl    $0x34, %ecx
        call    pci_rd8
        andl    $0xFC, %eax
        movl    $48, %edi                       # at most 48 capabilities
1:      testl   %eax, %eax
        jz      5f
        decl    %edi
        jz      5f
        movl    %eax, %esi                      # this capability
        movl    %esi, %ecx
        call    pci_rd8
        cmpl    $0x09, %eax                     # vendor specific
        jne     4f
        leal    4(%esi), %ecx
        call    pci_rd8
        movl    %eax, %ebx                      # BAR
        cmpl    $5, %ebx
        ja      4f
        leal    3(%esi), %ecx
        call    pci_rd8
        movl    %eax, %edx                      # cfg_type
        cmpl    $1, %edx
        jb      4f
        cmpl    $4, %edx
        ja      4f
        call    bar_addr
        pushl   %eax
        leal    8(%esi), %ecx
        call    pci_rd
        addl    %eax, (%esp)                    # + offset
        popl    %eax
        cmpl    $1, %edx
        jne     6f
        movl    %eax, VCOMMON
6:      cmpl    $3, %edx
        jne     6f
        movl    %eax, VISR
6:      cmpl    $4, %edx
        jne     6f
        movl    %eax, VDEVCFG
6:      cmpl    $2, %edx
        jne     4f
        movl    %eax, VNOTIFY
        leal    16(%esi), %ecx
        call    pci_rd
        movl    %eax, VNOTMUL
4:      leal    1(%esi), %ecx
        call    pci_rd8
        andl    $0xFC, %eax
        jmp     1b
5:      cmpl    $0, VCOMMON
        jne     1f
        FAIL    10
1:      cmpl    $0, VNOTIFY
        jne     1f
        FAIL    11
1:      cmpl    $0, VISR
        jne     1f
        FAIL    12
1:      cmpl    $0, VDEVCFG
        jne     1f
        FAIL    13
1:      movl    $4, %ecx                        # memory space and bus master on
        call    pci_rd
        andl    $0xFFFF, %eax
        orl     $6, %eax
        call    pci_wr
        xorl    %eax, %eax
        ret

        TEST    t_init, "status, features, virtqueue 0"
t_init:
        movl    VCOMMON, %esi
        movb    $0, 0x14(%esi)                  # reset
        movl    $1000000, %ecx
1:      cmpb    $0, 0x14(%esi)
        je      2f
        loop    1b
        FAIL    20
2:      movb    $1, 0x14(%esi)                  # ACKNOWLEDGE
        movb    $3, 0x14(%esi)                  # DRIVER
        movl    $1, 0x00(%esi)                  # device_feature_select 1
        movl    0x04(%esi), %eax
        andl    $1, %eax                        # VERSION_1 (bit 32)
        EXPECT_EQ %eax, $1, 21
        movl    $0, 0x08(%esi)
        movl    $0, 0x0C(%esi)
        movl    $1, 0x08(%esi)
        movl    $1, 0x0C(%esi)                  # VERSION_1 only
        movb    $0x0B, 0x14(%esi)               # FEATURES_OK
        movzbl  0x14(%esi), %eax
        EXPECT_EQ %eax, $0x0B, 22
        movzwl  0x12(%esi), %eax                # num_queues
        EXPECT_EQ %eax, $1, 23
        movw    $0, 0x16(%esi)                  # queue_select 0
        movzwl  0x18(%esi), %eax
        cmpl    $QSIZE, %eax
        jae     3f
        FAIL    24
3:      movw    $QSIZE, 0x18(%esi)
        movl    $VQ_DESC, %edi                  # rings: zero
        movl    $0x3000 / 4, %ecx
        xorl    %eax, %eax
        rep stosl
        movl    $VQ_DESC, 0x20(%esi)
        movl    $0, 0x24(%esi)
        movl    $VQ_AVAIL, 0x28(%esi)
        movl    $0, 0x2C(%esi)
        movl    $VQ_USED, 0x30(%esi)
        movl    $0, 0x34(%esi)
        movzwl  0x1E(%esi), %eax                # queue_notify_off
        imull   VNOTMUL, %eax
        addl    %eax, VNOTIFY
        movw    $1, 0x1C(%esi)                  # queue_enable
        movzwl  0x1C(%esi), %eax
        EXPECT_EQ %eax, $1, 25
        movb    $0x0F, 0x14(%esi)               # DRIVER_OK
        movzbl  0x14(%esi), %eax
        EXPECT_EQ %eax, $0x0F, 26
        movl    $0, AVAIL_IDX
        xorl    %eax, %eax
        ret

        TEST    t_capacity, "device configuration: capacity"
t_capacity:
        movl    VDEVCFG, %esi
        movl    0(%esi), %eax
        EXPECT_EQ %eax, $NSECTORS, 30
        movl    4(%esi), %eax
        EXPECT_EQ %eax, $0, 31
        xorl    %eax, %eax
        ret

        TEST    t_read0, "read sector 0"
t_read0:
        movb    $0xEE, %al
        call    fill_data
        xorl    %eax, %eax                      # VIRTIO_BLK_T_IN
        xorl    %ebx, %ebx
        movl    $512, %edx
        call    do_req
        EXPECT_EQ %eax, $0, 40
        EXPECT_EQ USED_LEN, $513, 41
        xorl    %ebx, %ebx
        movl    $1, %ecx
        call    check_sectors
        EXPECT_EQ %eax, $0, 42
        cmpb    $0xEE, DATA + 512               # nothing beyond the buffer
        je      1f
        FAIL    43
1:      xorl    %eax, %eax
        ret

        TEST    t_read2, "read sectors 5 and 6 in one request"
t_read2:
        movb    $0xEE, %al
        call    fill_data
        xorl    %eax, %eax
        movl    $5, %ebx
        movl    $1024, %edx
        call    do_req
        EXPECT_EQ %eax, $0, 50
        EXPECT_EQ USED_LEN, $1025, 51
        movl    $5, %ebx
        movl    $2, %ecx
        call    check_sectors
        EXPECT_EQ %eax, $0, 52
        xorl    %eax, %eax
        ret

        TEST    t_write, "write a sector and read it back"
t_write:
        xorl    %ecx, %ecx
1:      leal    (%ecx,%ecx,4), %eax
        addl    $0x11, %eax
        movb    %al, DATA(%ecx)
        incl    %ecx
        cmpl    $512, %ecx
        jb      1b
        movl    $1, %eax                        # VIRTIO_BLK_T_OUT
        movl    $WSECTOR, %ebx
        movl    $512, %edx
        call    do_req
        EXPECT_EQ %eax, $0, 60
        EXPECT_EQ USED_LEN, $1, 61
        movb    $0xEE, %al
        call    fill_data
        xorl    %eax, %eax
        movl    $WSECTOR, %ebx
        movl    $512, %edx
        call    do_req
        EXPECT_EQ %eax, $0, 62
        xorl    %ecx, %ecx
2:      leal    (%ecx,%ecx,4), %eax
        addl    $0x11, %eax
        cmpb    %al, DATA(%ecx)
        je      3f
        FAIL    63
3:      incl    %ecx
        cmpl    $512, %ecx
        jb      2b
        movl    $WSECTOR + 1, %ebx              # its neighbour is untouched
        movl    $1, %ecx
        xorl    %eax, %eax
        movl    $512, %edx
        pushl   %ebx
        call    do_req
        popl    %ebx
        EXPECT_EQ %eax, $0, 64
        call    check_sectors
        EXPECT_EQ %eax, $0, 65
        xorl    %eax, %eax
        ret

        TEST    t_errors, "out of range and unsupported requests"
t_errors:
        xorl    %eax, %eax                      # two sectors, the second past the end
        movl    $NSECTORS - 1, %ebx
        movl    $1024, %edx
        call    do_req
        EXPECT_EQ %eax, $1, 70                  # VIRTIO_BLK_S_IOERR
        movl    $0x55, %eax
        xorl    %ebx, %ebx
        movl    $512, %edx
        call    do_req
        EXPECT_EQ %eax, $2, 71                  # VIRTIO_BLK_S_UNSUPP
        movl    VCOMMON, %esi
        movzbl  0x14(%esi), %eax
        EXPECT_EQ %eax, $0x0F, 72               # still fine
        xorl    %eax, %eax                      # and still serving
        xorl    %ebx, %ebx
        movl    $512, %edx
        call    do_req
        EXPECT_EQ %eax, $0, 73
        xorl    %ebx, %ebx
        movl    $1, %ecx
        call    check_sectors
        EXPECT_EQ %eax, $0, 74
        xorl    %eax, %eax
        ret
