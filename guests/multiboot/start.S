/*
 * start.S: Multiboot v1 entry of the Polyvisor multiboot test kernels (kvm-unit-tests
 * conventions: output on COM1, PASS:/FAIL: lines, result to the isa-debug-exit port 0xF4).
 * Built twice: as an ELF kernel (the loader reads the program headers) and, with -DAOUT, as a flat
 * binary whose header carries the a.out-kludge address fields (flag 16).
 */
#define MB_MAGIC        0x1BADB002
#define MB_PAGE_ALIGN   (1 << 0)
#define MB_MEMORY_INFO  (1 << 1)
#define MB_AOUT_KLUDGE  (1 << 16)
#ifdef AOUT
#define MB_FLAGS        (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE)
#else
#define MB_FLAGS        (MB_PAGE_ALIGN | MB_MEMORY_INFO)
#endif

    .section .multiboot, "a"
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
#ifdef AOUT
    .long mb_header         /* header_addr */
    .long __load_start      /* load_addr */
    .long __load_end        /* load_end_addr */
    .long __bss_end         /* bss_end_addr */
    .long _start            /* entry_addr */
#endif

    .text
    .globl _start
_start:
    mov $stack_top, %esp
    pushfl                  /* EFLAGS at entry, for the checks */
    push %ebx               /* information structure */
    push %eax               /* magic */
    call main
    /* main does not return; if it does, leave with failure */
    mov $1, %eax
    out %al, $0xf4
1:  hlt
    jmp 1b

    .bss
    .align 16
stack:
    .skip 8192
stack_top:
