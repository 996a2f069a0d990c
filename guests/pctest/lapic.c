/*
 * lapic.c: the local APIC timer (SDM Vol. 3A 10.5.4): the divide configuration against PIT
 * channel 2, the current-count register, one-shot and periodic interrupts, a masked LVT, stopping
 * by a zero initial count, and TSC-deadline mode when CPUID reports it. (Not tested: that a
 * software disable sets the LVT mask bits, SDM 10.4.7.2: QEMU's TCG APIC does not do it.)
 * Rates are measured against the PIT, so no bus frequency is assumed; tolerances are +-25%.
 */
#include "lib.h"

#define TIMER_VECTOR    0x40
#define MODE_PERIODIC   (1 << 17)
#define MODE_DEADLINE   (2 << 17)
#define MSR_TSC_DEADLINE 0x6E0

static volatile u32 ticks;
static volatile u32 count_at_irq;

static void timer_handler(struct frame *f)
{
    (void)f;
    ticks++;
    count_at_irq = apic_read(APIC_TMCCT);
    apic_eoi();
}

static void spurious_handler(struct frame *f)
{
    (void)f;   /* a spurious interrupt needs no EOI */
}

/* TDCR encodings of divide by 1, 2, 4 ... 128 (SDM Figure 10-10). */
static const u32 tdcr[8] = {0xB, 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA};

/* Timer counts in a 10 ms window of PIT channel 2, masked one-shot from 0xFFFFFFFF. */
static u32 counts_per_10ms(int log2div)
{
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | TIMER_VECTOR);
    apic_write(APIC_TDCR, tdcr[log2div]);
    apic_write(APIC_TMICT, 0xFFFFFFFF);
    u32 c0 = apic_read(APIC_TMCCT);
    pit_delay_us(10000);
    u32 c1 = apic_read(APIC_TMCCT);
    apic_write(APIC_TMICT, 0);
    return c0 - c1;
}

static int near(u32 value, u32 expected)
{
    u32 tol = expected / 4;
    return value + tol >= expected && value <= expected + tol;
}

/* The best of three tries, so that one descheduled measurement does not fail a test. */
static u32 measure(int log2div, u32 expected)
{
    u32 r = 0;
    for (int i = 0; i < 3; i++) {
        r = counts_per_10ms(log2div);
        if (expected == 0 || near(r, expected))
            break;
    }
    return r;
}

static void test_divide(u32 *rate16)
{
    u32 r1 = measure(0, 0);
    printf("timer: %u counts per 10 ms at divide 1 (bus %u kHz)\n", r1, r1 / 10);
    report(r1 > 1000, "timer counts down at divide 1");
    int ok = 1;
    for (int d = 1; d < 8; d++) {
        u32 expected = r1 >> d;
        u32 r = measure(d, expected);
        if (!near(r, expected)) {
            printf("divide %u: %u counts, expected %u\n", 1u << d, r, expected);
            ok = 0;
        }
        if (d == 4)
            *rate16 = r;
    }
    report(ok, "divide configuration 2..128 scales the count rate");
    apic_write(APIC_TDCR, 0x3);
    report((apic_read(APIC_TDCR) & 0xB) == 0x3, "divide configuration reads back");
}

static void test_current_count(u32 rate16)
{
    apic_write(APIC_TDCR, 0x3);
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | TIMER_VECTOR);
    report(apic_read(APIC_TMCCT) == 0, "current count is 0 before the timer is started");
    u32 init = rate16 / 10;                 /* 1 ms */
    apic_write(APIC_TMICT, init);
    u32 c0 = apic_read(APIC_TMCCT);
    u32 c1 = apic_read(APIC_TMCCT);
    report(apic_read(APIC_TMICT) == init, "initial count reads back");
    report(c0 <= init && c1 <= c0 && c0 > 0, "current count starts at the initial count and decreases (%u, %u of %u)",
           c0, c1, init);
    delay_ms(3);
    report(apic_read(APIC_TMCCT) == 0, "one-shot current count stays 0 after expiry");
    report(!apic_vector_set(APIC_IRR, TIMER_VECTOR), "masked LVT: expiry sets no IRR bit");
    report(ticks == 0, "masked LVT: no interrupt");
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR);
    delay_ms(2);
    sti();
    delay_ms(2);
    cli();
    report(ticks == 0, "unmasking after a masked expiry delivers nothing");
}

static void test_one_shot(u32 rate16)
{
    ticks = 0;
    apic_write(APIC_TDCR, 0x3);
    apic_write(APIC_LVT_TIMER, TIMER_VECTOR);
    u64 t0 = rdtsc();
    apic_write(APIC_TMICT, rate16 / 5);     /* 2 ms */
    int fired = wait_until(&ticks, 1, 500);
    u64 t1 = rdtsc();
    cli();
    report(fired, "one-shot interrupt arrives");
    u32 us = elapsed_us(t0, t1);
    report(fired && us >= 1500, "one-shot not before its time (%u us for 2000)", us);
    report(count_at_irq == 0, "current count is 0 in the handler");
    sti();
    delay_ms(10);
    cli();
    report(ticks == 1, "one-shot fires once (%u)", ticks);
}

static void test_periodic(u32 rate16)
{
    ticks = 0;
    apic_write(APIC_TDCR, 0x3);
    apic_write(APIC_LVT_TIMER, MODE_PERIODIC | TIMER_VECTOR);
    report(apic_read(APIC_LVT_TIMER) == (MODE_PERIODIC | TIMER_VECTOR), "LVT timer reads back periodic mode");
    u32 got = 0;
    for (int i = 0; i < 3; i++) {
        ticks = 0;
        apic_write(APIC_TMICT, rate16 * 2 / 5); /* 4 ms period */
        sti();
        delay_ms(100);
        cli();
        got = ticks;
        if (near(got, 25))
            break;
    }
    report(near(got, 25), "periodic at 4 ms: %u interrupts in 100 ms", got);
    u32 c = apic_read(APIC_TMCCT);
    report(c > 0 && c <= rate16 * 2 / 5, "periodic current count reloads (%u)", c);
    apic_write(APIC_TMICT, 0);
    report(apic_read(APIC_TMCCT) == 0, "initial count 0 stops the timer");
    sti();
    delay_ms(2);                            /* a period that expired before the stop may be pending */
    cli();
    u32 before = ticks;
    sti();
    delay_ms(5);
    cli();
    report(ticks == before, "no interrupt after the timer is stopped");
}

static void test_deadline(void)
{
    if (!has_tsc_deadline()) {
        report_skip("TSC-deadline mode: CPUID.1:ECX.TSC_DEADLINE is 0");
        return;
    }
    ticks = 0;
    apic_write(APIC_LVT_TIMER, MODE_DEADLINE | TIMER_VECTOR);
    u64 t0 = rdtsc();
    wrmsr(MSR_TSC_DEADLINE, t0 + 2ULL * tsc_per_ms);
    report(rdmsr(MSR_TSC_DEADLINE) == t0 + 2ULL * tsc_per_ms, "TSC deadline reads back while armed");
    int fired = wait_until(&ticks, 1, 500);
    u64 t1 = rdtsc();
    cli();
    report(fired, "TSC-deadline interrupt arrives");
    report(fired && t1 >= t0 + 2ULL * tsc_per_ms, "TSC-deadline interrupt not before the deadline");
    report(rdmsr(MSR_TSC_DEADLINE) == 0, "TSC deadline reads 0 after it fired");
    wrmsr(MSR_TSC_DEADLINE, rdtsc() + 3ULL * tsc_per_ms);
    wrmsr(MSR_TSC_DEADLINE, 0);
    sti();
    delay_ms(6);
    cli();
    report(ticks == 1, "writing 0 disarms the deadline (%u)", ticks);
    wrmsr(MSR_TSC_DEADLINE, 1);
    fired = wait_until(&ticks, 2, 100);
    cli();
    report(fired, "a deadline in the past fires at once");
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | TIMER_VECTOR);
}

int main(u32 magic, struct mb_info *mbi)
{
    (void)mbi;
    if (!test_start("lapic: local APIC timer", magic, 1))
        return report_summary();
    set_handler(TIMER_VECTOR, timer_handler);
    set_handler(0xFF, spurious_handler);
    apic_enable();
    u32 version = apic_read(APIC_VERSION);
    report((version & 0xFF) >= 0x10 && ((version >> 16) & 0xFF) >= 4,
           "integrated APIC with at least 5 LVT entries (version %x)", version);
    u32 rate16 = 0;
    test_divide(&rate16);
    test_current_count(rate16);
    test_one_shot(rate16);
    test_periodic(rate16);
    test_deadline();
    return report_summary();
}
