/*
 * mbtest.c: checks what a Multiboot v1 loader hands over (Multiboot Specification 0.6.96, 3.2
 * "Machine state" and 3.3 "Boot information format"): the magic, the CPU state at entry, the
 * kernel's data and bss, the memory sizes and map, the command line, the module list and the boot
 * loader name. kvm-unit-tests conventions: "PASS: "/"FAIL: " lines on COM1, a "SUMMARY:" line,
 * then the result to the isa-debug-exit port 0xF4 (0: all passed, 1: some failed).
 *
 * Command-line parameters it reads: mods=N (the modules the harness gave; each module i must hold
 * "module-<i>" at its start and its string must end with "tag=<i>").
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));

struct mb_module {
    u32 mod_start, mod_end, string, reserved;
} __attribute__((packed));

struct mb_mmap {
    u32 size;
    u64 addr, len;
    u32 type;
} __attribute__((packed));

extern char __load_start[], __bss_end[];

static volatile u32 data_word = 0x5eed1234;
static volatile u32 bss_words[64];
static int tests, failures;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc(char c)
{
    if (c == '\n')
        putc('\r');
    while (!(inb(0x3f8 + 5) & 0x20))   /* LSR.THRE */
        ;
    outb(0x3f8, c);
}

static void puts(const char *s) { while (*s) putc(*s++); }

static void putu(u32 v, int base)
{
    char buf[12];
    int i = 0;
    do {
        buf[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16)
        puts("0x");
    while (i)
        putc(buf[--i]);
}

static void report(const char *what, int ok)
{
    tests++;
    if (!ok)
        failures++;
    puts(ok ? "PASS: " : "FAIL: ");
    puts(what);
    putc('\n');
}

static int starts_with(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }

static int ends_with(const char *s, const char *p)
{
    int ls = 0, lp = 0;
    while (s[ls]) ls++;
    while (p[lp]) lp++;
    return ls >= lp && starts_with(s + ls - lp, p);
}

/* The value of "name=<decimal>" in a command line, or -1. */
static int param(const char *cmdline, const char *name)
{
    const char *s = cmdline;
    while (*s) {
        if ((s == cmdline || s[-1] == ' ') && starts_with(s, name)) {
            const char *v = s;
            while (*name) { name++; v++; }
            if (*v == '=') {
                int n = 0;
                for (v++; *v >= '0' && *v <= '9'; v++)
                    n = n * 10 + (*v - '0');
                return n;
            }
        }
        s++;
    }
    return -1;
}

static int in_ram(const struct mb_info *mbi, u64 start, u64 end)
{
    u32 off = 0;
    while (off < mbi->mmap_length) {
        const struct mb_mmap *e = (const struct mb_mmap *)(mbi->mmap_addr + off);
        if (e->type == 1 && start >= e->addr && end <= e->addr + e->len)
            return 1;
        off += e->size + 4;
    }
    return 0;
}

void main(u32 magic, const struct mb_info *mbi, u32 eflags)
{
    u32 cr0, cs, ds;
    __asm__ volatile("mov %%cr0, %0; mov %%cs, %1; mov %%ds, %2" : "=r"(cr0), "=r"(cs), "=r"(ds));
    puts("multiboot test kernel " NAME "\n");

    report("magic 0x2badb002 in eax", magic == 0x2BADB002);
    report("protected mode, paging off", (cr0 & 1) && !(cr0 & 0x80000000));
    report("interrupts disabled at entry", !(eflags & 0x200));
    report("ring 0 code and data selectors", (cs & 3) == 0 && (ds & 3) == 0);
    report("initialised data loaded", data_word == 0x5eed1234);
    {
        int zero = 1;
        for (int i = 0; i < 64; i++)
            zero &= bss_words[i] == 0;
        report("bss zeroed", zero);
    }

    u32 need = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9);
    report("info flags: mem, cmdline, mods, mmap, loader name", (mbi->flags & need) == need);
    if ((mbi->flags & need) != need) {
        puts("flags: "); putu(mbi->flags, 16); putc('\n');
        goto out;
    }
    const char *cmdline = (const char *)mbi->cmdline;
    puts("cmdline: "); puts(cmdline); putc('\n');
    puts("mem_lower: "); putu(mbi->mem_lower, 10); puts(" KiB, mem_upper: "); putu(mbi->mem_upper, 10); puts(" KiB\n");
    report("boot loader name is polyvisor", starts_with((const char *)mbi->boot_loader_name, "polyvisor"));
    report("mem_lower is 639 KiB", mbi->mem_lower == 639);

    /* The memory map: sorted, non-overlapping, RAM at 0 and from 1 MiB as mem_lower/mem_upper say. */
    {
        u32 off = 0;
        u64 prev_end = 0;
        int ordered = 1, low = 0, high = 0, types = 1, n = 0;
        while (off < mbi->mmap_length) {
            const struct mb_mmap *e = (const struct mb_mmap *)(mbi->mmap_addr + off);
            puts("mmap: "); putu((u32)e->addr, 16); puts(" len "); putu((u32)e->len, 16);
            puts(" type "); putu(e->type, 10); putc('\n');
            if (e->addr < prev_end || e->size != 20)
                ordered = 0;
            prev_end = e->addr + e->len;
            if (e->type == 1 && e->addr == 0 && e->len == (u64)mbi->mem_lower * 1024)
                low = 1;
            if (e->type == 1 && e->addr == 0x100000 && e->len == (u64)mbi->mem_upper * 1024)
                high = 1;
            if (e->type != 1 && e->type != 2)
                types = 0;
            off += e->size + 4;
            n++;
        }
        report("memory map sorted, entries of size 20", ordered && n > 0);
        report("memory map: RAM at 0 matches mem_lower", low);
        report("memory map: RAM at 1 MiB matches mem_upper", high);
        report("memory map: only RAM and reserved", types);
        report("kernel image lies in RAM", in_ram(mbi, (u32)__load_start, (u32)__bss_end));
    }

    /* Modules: as many as the harness said, page aligned, after the kernel, in RAM, in order. */
    {
        int want = param(cmdline, "mods");
        report("command line carries mods=N", want >= 0);
        report("module count matches", (int)mbi->mods_count == want);
        const struct mb_module *m = (const struct mb_module *)mbi->mods_addr;
        u32 prev_end = (u32)__bss_end;
        int aligned = 1, placed = 1, contents = 1, strings = 1;
        for (u32 i = 0; i < mbi->mods_count; i++) {
            char tag[] = "tag=0", head[] = "module-0";
            tag[4] += i;
            head[7] += i;
            puts("module "); putu(i, 10); puts(": "); putu(m[i].mod_start, 16); puts("-"); putu(m[i].mod_end, 16);
            puts(" '"); puts((const char *)m[i].string); puts("'\n");
            aligned &= (m[i].mod_start & 0xfff) == 0;
            placed &= m[i].mod_start >= prev_end && m[i].mod_end > m[i].mod_start
                      && in_ram(mbi, m[i].mod_start, m[i].mod_end);
            contents &= starts_with((const char *)m[i].mod_start, head);
            strings &= ends_with((const char *)m[i].string, tag);
            prev_end = m[i].mod_end;
        }
        report("modules page aligned (header flag 0)", aligned);
        report("modules after the kernel, in RAM, in order", placed);
        report("module contents", contents);
        report("module strings", strings);
    }
out:
    puts("SUMMARY: "); putu(tests, 10); puts(" tests, "); putu(failures, 10); puts(" unexpected failures\n");
    outb(0xf4, failures ? 1 : 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}
