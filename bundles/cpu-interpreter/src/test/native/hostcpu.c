/*
 * Host-CPU oracle for HostCpuDifferentialTest: runs generated 32-bit code natively, in ring 3.
 *
 * Freestanding (no libc: this machine's gcc has -m32 but no 32-bit libc), built by the test as
 *   gcc -m32 -ffreestanding -nostdlib -static -fno-pie -no-pie -O1 -o hostcpu hostcpu.c
 * and run as a 32-bit Linux process (IA-32 compatibility mode), talking through int 0x80.
 *
 * Protocol: stdin is a sequence of 16 KiB images of the test region at REGION (code page, two
 * data pages, stack page). For each image the harness copies it to REGION, calls REGION+0 (the
 * generated code saves the host registers, runs the test body on its own stack inside the region,
 * stores the registers and EFLAGS in the region, restores and returns), then writes the 16 KiB
 * region to stdout. A generated sequence that faults kills the process; the test then knows which
 * image it was from the bytes written so far.
 */

#define REGION 0x00200000u
#define SIZE 0x4000u

static int sys1(int n, int a) {
    int r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a) : "memory");
    return r;
}

static int sys3(int n, int a, int b, int c) {
    int r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static void die(const char *msg, int len, int code) {
    sys3(4, 2, (int) msg, len);
    sys1(1, code);
    for (;;) {
    }
}

/* Reads exactly n bytes; returns 0 at a clean end of input. */
static int read_all(unsigned char *p, unsigned n) {
    unsigned got = 0;
    while (got < n) {
        int r = sys3(3, 0, (int) (p + got), (int) (n - got));
        if (r <= 0) {
            if (got == 0 && r == 0) {
                return 0;
            }
            die("hostcpu: short read\n", 20, 3);
        }
        got += (unsigned) r;
    }
    return 1;
}

static void write_all(const unsigned char *p, unsigned n) {
    unsigned done = 0;
    while (done < n) {
        int r = sys3(4, 1, (int) (p + done), (int) (n - done));
        if (r <= 0) {
            die("hostcpu: write failed\n", 22, 4);
        }
        done += (unsigned) r;
    }
}

static unsigned char buffer[SIZE];

void _start(void) {
    /* old_mmap(struct *): addr, len, prot RWX, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, fd -1, offset 0 */
    unsigned args[6] = {REGION, SIZE, 7, 0x02 | 0x20 | 0x10, (unsigned) -1, 0};
    if ((unsigned) sys1(90, (int) args) != REGION) {
        die("hostcpu: cannot map the test region\n", 36, 2);
    }
    unsigned char *region = (unsigned char *) REGION;
    while (read_all(buffer, SIZE)) {
        for (unsigned i = 0; i < SIZE; i++) {
            region[i] = buffer[i];
        }
        ((void (*)(void)) REGION)();
        write_all(region, SIZE);
    }
    sys1(1, 0);
    for (;;) {
    }
}
