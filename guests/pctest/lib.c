/*
 * lib.c: the shared part of the PC test kernels (see lib.h). Freestanding: no libc, no libgcc
 * (64-bit divisions are done by udiv64 below).
 */
#include "lib.h"
#include <stdarg.h>

#define COM1 0x3F8

static int tests, failures, skips;
static handler_t handlers[256];
volatile u32 unexpected_vector;
u32 tsc_per_ms;

void *memcpy(void *d, const void *s, u32 n)
{
    u8 *dd = d;
    const u8 *ss = s;
    while (n--)
        *dd++ = *ss++;
    return d;
}

void *memset(void *d, int c, u32 n)
{
    u8 *dd = d;
    while (n--)
        *dd++ = (u8)c;
    return d;
}

/* 64-bit by 32-bit division by shift and subtract (no libgcc). */
u64 udiv64(u64 n, u32 d)
{
    u64 q = 0, r = 0;
    for (int i = 63; i >= 0; i--) {
        r = r << 1 | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= 1ULL << i;
        }
    }
    return q;
}

void putc(char c)
{
    if (c == '\n')
        putc('\r');
    while (!(inb(COM1 + 5) & 0x20))    /* LSR.THRE */
        ;
    outb(COM1, c);
}

void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

static void putu(u32 v, int base, int width)
{
    char buf[12];
    int i = 0;
    do {
        buf[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (i < width)
        buf[i++] = '0';
    while (i)
        putc(buf[--i]);
}

static void vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putc(*fmt);
            continue;
        }
        int width = 0;
        fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'd': {
            int v = va_arg(ap, int);
            if (v < 0) {
                putc('-');
                v = -v;
            }
            putu((u32)v, 10, width);
            break;
        }
        case 'u':
            putu(va_arg(ap, u32), 10, width);
            break;
        case 'x':
            putu(va_arg(ap, u32), 16, width);
            break;
        case 's':
            puts(va_arg(ap, const char *));
            break;
        case 'c':
            putc((char)va_arg(ap, int));
            break;
        default:
            putc(*fmt);
        }
    }
}

void printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

int report(int ok, const char *fmt, ...)
{
    va_list ap;
    tests++;
    if (!ok)
        failures++;
    puts(ok ? "PASS: " : "FAIL: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putc('\n');
    return ok;
}

void report_skip(const char *fmt, ...)
{
    va_list ap;
    skips++;
    puts("SKIP: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putc('\n');
}

int report_summary(void)
{
    report(unexpected_vector == 0, "no unexpected interrupt or exception (last vector %u)",
           unexpected_vector ? unexpected_vector & 0xFF : 0);
    printf("SUMMARY: %d tests, %d unexpected failures, %d skipped\n", tests, failures, skips);
    return failures;
}

int test_start(const char *title, u32 magic, int need_apic)
{
    printf("%s\n", title);
    report(magic == 0x2BADB002, "booted by a Multiboot loader");
    pic_init();
    tsc_calibrate();
    if (need_apic && !has_apic()) {
        report_skip("no local APIC (CPUID.1:EDX.APIC is 0)");
        return 0;
    }
    return 1;
}

void exit_tests(int failures)
{
    cli();
    outb(0xF4, failures ? 1 : 0);      /* isa-debug-exit: status (value << 1) | 1 */
    for (;;)
        __asm__ volatile("hlt");
}

/* Interrupts. */

void idt_init(void)
{
    extern u8 int_stubs[];
    extern u32 idt[];
    for (int v = 0; v < 256; v++) {
        u32 addr = (u32)(int_stubs + 16 * v);
        idt[2 * v] = 0x08 << 16 | (addr & 0xFFFF);
        idt[2 * v + 1] = (addr & 0xFFFF0000) | 0x8E00;   /* present, DPL 0, 32-bit interrupt gate */
    }
}

void set_handler(int vector, handler_t h)
{
    handlers[vector] = h;
}

void int_dispatch(struct frame *f)
{
    handler_t h = handlers[f->vector];
    if (h) {
        h(f);
        return;
    }
    unexpected_vector = 0x100 | f->vector;
    printf("unexpected vector %u (error %x) at eip %x\n", f->vector, f->error, f->eip);
    if (f->vector < 32) {
        report(0, "exception %u at eip %x", f->vector, f->eip);
        exit_tests(1);
    }
}

/* 8259 pair. */

void pic_init(void)
{
    outb(0x20, 0x11);           /* ICW1: edge, cascade, ICW4 */
    outb(0xA0, 0x11);
    outb(0x21, PIC_VECTOR_BASE);
    outb(0xA1, PIC_VECTOR_BASE + 8);
    outb(0x21, 0x04);           /* slave on IRQ 2 */
    outb(0xA1, 0x02);
    outb(0x21, 0x01);           /* 8086 mode */
    outb(0xA1, 0x01);
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
}

void pic_unmask(int irq)
{
    if (irq >= 8) {
        outb(0xA1, inb(0xA1) & ~(1 << (irq - 8)));
        irq = 2;
    }
    outb(0x21, inb(0x21) & ~(1 << irq));
}

void pic_mask(int irq)
{
    if (irq >= 8)
        outb(0xA1, inb(0xA1) | 1 << (irq - 8));
    else
        outb(0x21, inb(0x21) | 1 << irq);
}

void pic_eoi(int irq)
{
    if (irq >= 8)
        outb(0xA0, 0x20);
    outb(0x20, 0x20);
}

/* PIT. */

void pit_periodic(u32 hz)
{
    u32 count = PIT_HZ / hz;
    outb(0x43, 0x34);           /* channel 0, LSB then MSB, mode 2 */
    outb(0x40, count & 0xFF);
    outb(0x40, count >> 8);
}

void pit_stop(void)
{
    outb(0x43, 0x30);           /* channel 0, mode 0, no count written: output stays low */
}

void pit_delay_us(u32 us)
{
    u32 count = (u32)udiv64((u64)us * PIT_HZ, 1000000);
    if (count > 0xFFFF)
        count = 0xFFFF;
    if (count == 0)
        count = 1;
    outb(0x61, inb(0x61) & 0xFC);       /* gate low, speaker off */
    outb(0x43, 0xB0);                   /* channel 2, LSB then MSB, mode 0 */
    outb(0x42, count & 0xFF);
    outb(0x42, count >> 8);
    outb(0x61, (inb(0x61) & 0xFC) | 1); /* gate high: count */
    while (!(inb(0x61) & 0x20)) {       /* OUT2 */
        /* Some hundred instructions between polls: far fewer I/O exits on a VMM whose clock
         * counts instructions, at a resolution still well below a microsecond. */
        for (volatile int i = 0; i < 50; i++)
            ;
    }
}

void delay_ms(u32 ms)
{
    while (ms >= 50) {
        pit_delay_us(50000);
        ms -= 50;
    }
    if (ms)
        pit_delay_us(ms * 1000);
}

/* TSC. */

void tsc_calibrate(void)
{
    u64 t0 = rdtsc();
    pit_delay_us(50000);
    u64 t1 = rdtsc();
    tsc_per_ms = (u32)udiv64(t1 - t0, 50);
    if (tsc_per_ms == 0)
        tsc_per_ms = 1;
}

u32 elapsed_us(u64 t0, u64 t1)
{
    return (u32)udiv64((t1 - t0) * 1000, tsc_per_ms);
}

/* The application processors' C entry, for kernels that start none. */
__attribute__((weak)) void ap_main(void)
{
}

static int until(volatile u32 *counter, u32 value, u32 timeout_ms, int enable)
{
    u64 end = rdtsc() + (u64)tsc_per_ms * timeout_ms;
    while (*counter < value) {
        if (rdtsc() > end)
            return 0;
        if (enable)
            sti();
        pause();
    }
    return 1;
}

int halt_until(volatile u32 *counter, u32 value, u32 timeout_ms)
{
    u64 end = rdtsc() + (u64)tsc_per_ms * timeout_ms;
    for (;;) {
        cli();
        if (*counter >= value)
            return 1;
        if (rdtsc() > end)
            return 0;
        sti_hlt();
    }
}

int wait_until(volatile u32 *counter, u32 value, u32 timeout_ms)
{
    return until(counter, value, timeout_ms, 1);
}

int spin_until(volatile u32 *counter, u32 value, u32 timeout_ms)
{
    return until(counter, value, timeout_ms, 0);
}

/* CPU features. */

int has_apic(void)
{
    u32 a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    return (d >> 9) & 1;
}

int has_tsc_deadline(void)
{
    u32 a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    return (c >> 24) & 1;
}

/* Local APIC. */

void apic_enable(void)
{
    apic_write(APIC_SVR, 0x1FF);
    apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED | 0x700);
    apic_write(APIC_LVT_LINT1, 0x400);
    apic_write(APIC_LVT_ERROR, APIC_LVT_MASKED | 0xFE);
    apic_write(APIC_TPR, 0);
}

int apic_id(void)
{
    return apic_read(APIC_ID) >> 24;
}

int apic_vector_set(u32 base, int vector)
{
    return (apic_read(base + 0x10 * (vector >> 5)) >> (vector & 31)) & 1;
}

int apic_send_ipi(u32 dest, u32 icr_low)
{
    apic_write(APIC_ICR_HI, dest << 24);
    apic_write(APIC_ICR_LO, icr_low);
    for (int i = 0; i < 1000000; i++) {
        if (!(apic_read(APIC_ICR_LO) & APIC_ICR_BUSY))
            return 1;
        pause();
    }
    return 0;
}

/* IOAPIC. */

u32 ioapic_read(u32 reg)
{
    mmio_write(IOAPIC_BASE, reg);
    return mmio_read(IOAPIC_BASE + 0x10);
}

void ioapic_write(u32 reg, u32 v)
{
    mmio_write(IOAPIC_BASE, reg);
    mmio_write(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(int pin, u32 low, u32 dest_apic)
{
    ioapic_write(0x10 + 2 * pin, IOREDTBL_MASKED);
    ioapic_write(0x11 + 2 * pin, dest_apic << 24);
    ioapic_write(0x10 + 2 * pin, low);
}

u32 ioapic_entry(int pin)
{
    return ioapic_read(0x10 + 2 * pin);
}

/* CMOS: index bit 7 is the NMI mask; kept clear. */

u8 cmos_read(u8 index)
{
    outb(0x70, index & 0x7F);
    return inb(0x71);
}

void cmos_write(u8 index, u8 v)
{
    outb(0x70, index & 0x7F);
    outb(0x71, v);
}
