/*
 * lib.h: what the PC test kernels share: port and MMIO access, COM1 output, test reports,
 * interrupt handlers, the 8259 pair, PIT channel 2 timing, the TSC, the local APIC and the IOAPIC.
 */
#ifndef PCTEST_LIB_H
#define PCTEST_LIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* Multiboot information (the fields the tests read). */
struct mb_info {
    u32 flags, mem_lower, mem_upper;
};

/* What int_common leaves on the stack (pushal, then vector and error code, then the CPU's frame). */
struct frame {
    u32 edi, esi, ebp, esp, ebx, edx, ecx, eax;
    u32 vector, error, eip, cs, eflags;
};

typedef void (*handler_t)(struct frame *f);

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 mmio_read(u32 addr) { return *(volatile u32 *)addr; }
static inline void mmio_write(u32 addr, u32 v) { *(volatile u32 *)addr = v; }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* STI; HLT: the interrupt shadow of STI makes the pair atomic, so a pending interrupt wakes HLT. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return (u64)hi << 32 | lo; }
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return (u64)hi << 32 | lo; }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))); }
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* Output. */
void putc(char c);
void puts(const char *s);
void printf(const char *fmt, ...);

/* Reports: "PASS: what" / "FAIL: what" / "SKIP: what"; main returns report_summary(). */
int report(int ok, const char *fmt, ...);
void report_skip(const char *fmt, ...);
int report_summary(void);
/* Prints the title, checks the Multiboot magic, masks the 8259s, calibrates the TSC; returns 0
 * (after a SKIP line) if the test needs a local APIC and CPUID reports none. */
int test_start(const char *title, u32 magic, int need_apic);
void exit_tests(int failures);

/* Interrupts. */
void set_handler(int vector, handler_t h);
extern volatile u32 unexpected_vector;

/* 8259 pair: vectors 0x20-0x27 and 0x28-0x2F, all masked. */
#define PIC_VECTOR_BASE 0x20
void pic_init(void);
void pic_unmask(int irq);
void pic_mask(int irq);
void pic_eoi(int irq);

/* PIT: channel 0 periodic (mode 2) at a rate; channel 2 as a stopwatch. */
#define PIT_HZ 1193182
void pit_periodic(u32 hz);
void pit_stop(void);
void pit_delay_us(u32 us);      /* busy wait on channel 2, up to 54 ms */
void delay_ms(u32 ms);          /* busy wait on channel 2 */

/* TSC, calibrated against PIT channel 2. */
extern u32 tsc_per_ms;
u64 udiv64(u64 n, u32 d);
u32 elapsed_us(u64 t0, u64 t1);
void tsc_calibrate(void);
int wait_until(volatile u32 *counter, u32 value, u32 timeout_ms);   /* sti; hlt/poll; 1 if reached */
int spin_until(volatile u32 *counter, u32 value, u32 timeout_ms);   /* polling with IF as is */
/* sti; hlt until the counter reaches the value: only where interrupts keep coming (a VMM whose
 * clock counts instructions skips the halted time). Returns with IF = 0. */
int halt_until(volatile u32 *counter, u32 value, u32 timeout_ms);

/* CPU features. */
int has_apic(void);
int has_tsc_deadline(void);

/* Local APIC (xAPIC MMIO). */
#define APIC_BASE       0xFEE00000
#define APIC_ID         0x020
#define APIC_VERSION    0x030
#define APIC_TPR        0x080
#define APIC_PPR        0x0A0
#define APIC_EOI        0x0B0
#define APIC_LDR        0x0D0
#define APIC_DFR        0x0E0
#define APIC_SVR        0x0F0
#define APIC_ISR        0x100
#define APIC_TMR        0x180
#define APIC_IRR        0x200
#define APIC_ESR        0x280
#define APIC_ICR_LO     0x300
#define APIC_ICR_HI     0x310
#define APIC_LVT_TIMER  0x320
#define APIC_LVT_LINT0  0x350
#define APIC_LVT_LINT1  0x360
#define APIC_LVT_ERROR  0x370
#define APIC_TMICT      0x380
#define APIC_TMCCT      0x390
#define APIC_TDCR       0x3E0
#define APIC_LVT_MASKED (1 << 16)
#define APIC_ICR_BUSY   (1 << 12)
static inline u32 apic_read(u32 reg) { return mmio_read(APIC_BASE + reg); }
static inline void apic_write(u32 reg, u32 v) { mmio_write(APIC_BASE + reg, v); }
static inline void apic_eoi(void) { apic_write(APIC_EOI, 0); }
void apic_enable(void);         /* software-enable, spurious vector 0xFF, LINT0 masked, LINT1 NMI */
int apic_id(void);
int apic_vector_set(u32 base, int vector);  /* bit of vector in IRR/ISR/TMR at base */
int apic_send_ipi(u32 dest, u32 icr_low);   /* 1 if the ICR went idle */

/* IOAPIC. */
#define IOAPIC_BASE     0xFEC00000
#define IOAPIC_EOI      0x40
#define IOREDTBL_MASKED (1 << 16)
#define IOREDTBL_LEVEL  (1 << 15)
#define IOREDTBL_RIRR   (1 << 14)
u32 ioapic_read(u32 reg);
void ioapic_write(u32 reg, u32 v);
void ioapic_route(int pin, u32 low, u32 dest_apic);
u32 ioapic_entry(int pin);

/* CMOS / RTC. */
u8 cmos_read(u8 index);
void cmos_write(u8 index, u8 v);

void *memcpy(void *d, const void *s, u32 n);
void *memset(void *d, int c, u32 n);

#endif
