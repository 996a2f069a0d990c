/*
 * Reference for bench/kvm/run: the same guest and the same ioctls as KvmBench.java, in C.
 *
 *   exitcost IO_EXITS LOOP_ITERATIONS
 *
 * Guest (64-bit, ring 3, IOPL 3, 4-level paging, same bytes as LongModeGuest in the kvm bundle):
 *   io_loop:  out %al,$0xf0; dec %rcx; jnz io_loop; out %al,$0xf1; jmp io_loop
 *   compute:  add %rcx,%rax; rol $7,%rax; xor %rcx,%rax; dec %rcx; jnz compute; out %al,$0xf1; jmp compute
 * Prints: "c io-exit-ns <ns per OUT round trip>", "c guest-loop-ms <ms>", "c native-loop-ms <ms>"
 * and the loop's result, so the caller can check the guest and the host computed the same thing.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const unsigned char code[] = {
    0xe6, 0xf0, 0x48, 0xff, 0xc9, 0x75, 0xf9, 0xe6, 0xf1, 0xeb, 0xf5, 0x48, 0x01, 0xc8, 0x48, 0xc1, 0xc0,
    0x07, 0x48, 0x31, 0xc8, 0x48, 0xff, 0xc9, 0x75, 0xf1, 0xe6, 0xf1, 0xeb, 0xed, 0xcc, 0xeb, 0xfe};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int kvm, vm, vcpu;
static struct kvm_run *run;

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int dpl, int l, int db) {
    memset(s, 0, sizeof *s);
    s->selector = sel; s->limit = 0xffffffff; s->type = type; s->present = 1; s->dpl = dpl;
    s->s = 1; s->l = l; s->db = db; s->g = 1;
}

static void enter(int entry, uint64_t rcx) {
    struct kvm_sregs sr;
    if (ioctl(vcpu, KVM_GET_SREGS, &sr) < 0) die("KVM_GET_SREGS");
    seg(&sr.cs, 0x1b, 0xb, 3, 1, 0);
    seg(&sr.ds, 0x23, 0x3, 3, 0, 1);
    sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
    memset(&sr.tr, 0, sizeof sr.tr);
    sr.tr.selector = 0x28; sr.tr.base = 0x15000; sr.tr.limit = 0x67; sr.tr.type = 0xb; sr.tr.present = 1;
    memset(&sr.ldt, 0, sizeof sr.ldt);
    sr.ldt.unusable = 1;
    sr.gdt.base = 0x13000; sr.gdt.limit = 0x37; sr.idt.base = 0x14000; sr.idt.limit = 0;
    sr.cr0 = 0x80000033; sr.cr3 = 0x10000; sr.cr4 = 0x20; sr.efer = 0x500;
    if (ioctl(vcpu, KVM_SET_SREGS, &sr) < 0) die("KVM_SET_SREGS");
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = 0x1000 + entry; r.rflags = 0x3002; r.rsp = 0x7f000; r.rcx = rcx;
    if (ioctl(vcpu, KVM_SET_REGS, &r) < 0) die("KVM_SET_REGS");
}

static int run_to_io(void) {
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO) return run->io.port;
        fprintf(stderr, "unexpected exit %d\n", run->exit_reason);
        exit(1);
    }
}

static uint64_t native_loop(uint64_t n) {
    uint64_t rax = 0, rcx = n;
    __asm__ volatile("1: add %%rcx,%%rax; rol $7,%%rax; xor %%rcx,%%rax; dec %%rcx; jnz 1b"
                     : "+a"(rax), "+c"(rcx) : : "cc");
    return rax;
}

int main(int argc, char **argv) {
    long exits = argc > 1 ? atol(argv[1]) : 200000;
    uint64_t iters = argc > 2 ? strtoull(argv[2], 0, 0) : 1000000000ull;
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    size_t size = 2 << 20;
    unsigned char *ram = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memcpy(ram + 0x1000, code, sizeof code);
    *(uint64_t *)(ram + 0x10000) = 0x11000 | 7;
    *(uint64_t *)(ram + 0x11000) = 0x12000 | 7;
    *(uint64_t *)(ram + 0x12000) = 0x87;
    uint64_t gdt[] = {0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull, 0x00AFFB000000FFFFull,
                      0x00CFF3000000FFFFull, 0x00008B0150000067ull, 0};
    memcpy(ram + 0x13000, gdt, sizeof gdt);
    *(uint64_t *)(ram + 0x15004) = 0x70000;
    struct kvm_userspace_memory_region mr = {.slot = 0, .guest_phys_addr = 0, .memory_size = size,
                                             .userspace_addr = (uint64_t)ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0) die("KVM_SET_USER_MEMORY_REGION");
    vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int n = 0;
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + 256 * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = 256;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
    if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
    int mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    run = mmap(0, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");

    /* I/O exit round trips (warm up first) */
    enter(0x00, 1000);
    while (run_to_io() == 0xf0) n++;
    enter(0x00, exits);
    double t0 = now();
    long seen = 0;
    while (run_to_io() == 0xf0) seen++;
    double t1 = now();
    printf("c io-exits %ld\n", seen);
    printf("c io-exit-ns %.0f\n", (t1 - t0) * 1e9 / seen);

    /* ring-3 compute loop in the guest */
    enter(0x0b, iters);
    t0 = now();
    if (run_to_io() != 0xf1) { fprintf(stderr, "compute did not end on port 0xf1\n"); return 1; }
    t1 = now();
    struct kvm_regs r;
    ioctl(vcpu, KVM_GET_REGS, &r);
    printf("c guest-loop-ms %.1f\n", (t1 - t0) * 1e3);
    printf("c guest-loop-result %016llx\n", (unsigned long long)r.rax);

    /* the same loop natively */
    t0 = now();
    uint64_t native = native_loop(iters);
    t1 = now();
    printf("c native-loop-ms %.1f\n", (t1 - t0) * 1e3);
    printf("c native-loop-result %016llx\n", (unsigned long long)native);
    munmap(run, mmap_size);
    close(vcpu);
    close(vm);
    close(kvm);
    return 0;
}
