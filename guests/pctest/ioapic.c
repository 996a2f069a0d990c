/*
 * ioapic.c: the IOAPIC (82093AA datasheet; SDM Vol. 3A 10.8.4 for EOI) with ISA sources: the
 * version register, redirection-entry read-back, PIT channel 0 on pin 2 (ISA IRQ 0 is
 * overridden to GSI 2) and the RTC on pin 8, edge and level triggering, remote IRR set while a
 * level interrupt is in service and cleared by the local APIC's EOI or the IOAPIC's EOI register,
 * re-delivery of a level interrupt whose line stays high, and masking. The 8259s are masked and
 * LINT0 is masked, so every interrupt here comes through the IOAPIC.
 */
#include "lib.h"

#define PIT_VECTOR      0x30
#define RTC_VECTOR      0x38
#define LEVEL_VECTOR    0x39

static volatile u32 pit_ticks, pit_rirr_seen;
static volatile u32 rtc_ticks;
static volatile u32 level_calls, level_rirr, level_tmr, level_mode;

static void pit_handler(struct frame *f)
{
    (void)f;
    pit_ticks++;
    if (ioapic_entry(2) & IOREDTBL_RIRR)
        pit_rirr_seen++;
    apic_eoi();
}

static void rtc_handler(struct frame *f)
{
    (void)f;
    rtc_ticks++;
    cmos_read(0x0C);            /* reading register C lowers IRQ 8 */
    apic_eoi();
}

/*
 * Level-triggered RTC interrupt. Mode 0: the first call leaves register C unread (IRQ 8 stays
 * high) and sends EOI, so the interrupt must come again; the second reads C. Mode 1: reads C and
 * clears remote IRR through the IOAPIC's EOI register before the local EOI.
 */
static void level_handler(struct frame *f)
{
    (void)f;
    level_calls++;
    if (ioapic_entry(8) & IOREDTBL_RIRR)
        level_rirr++;
    if (apic_vector_set(APIC_TMR, LEVEL_VECTOR))
        level_tmr++;
    if (level_mode == 0 && level_calls == 1) {
        apic_eoi();
        return;
    }
    cmos_write(0x0B, 0x02);     /* periodic interrupt off */
    cmos_read(0x0C);
    if (level_mode == 1) {
        mmio_write(IOAPIC_BASE + IOAPIC_EOI, LEVEL_VECTOR);
        if (!(ioapic_entry(8) & IOREDTBL_RIRR))
            level_rirr |= 0x100;    /* cleared by the IOAPIC EOI register */
    }
    apic_eoi();
}

static int near(u32 value, u32 expected)
{
    u32 tol = expected / 4;
    return value + tol >= expected && value <= expected + tol;
}

/* Counts interrupts in a window of PIT channel 2; best of three against an expectation. */
static u32 count_in(volatile u32 *counter, u32 ms, u32 expected)
{
    u32 got = 0;
    for (int i = 0; i < 3; i++) {
        sti();
        delay_ms(1);            /* one that was pending before the window */
        cli();
        u32 before = *counter;
        sti();
        delay_ms(ms);
        cli();
        got = *counter - before;
        if (near(got, expected))
            break;
    }
    return got;
}

static void test_registers(void)
{
    u32 ver = ioapic_read(0x01);
    printf("ioapic: id %x, version %x\n", ioapic_read(0x00), ver);
    report((ver & 0xFF) == 0x11 || (ver & 0xFF) == 0x20, "version 0x11 or 0x20 (%x)", ver & 0xFF);
    report(((ver >> 16) & 0xFF) == 23, "24 redirection entries");
    int masked = 1;
    for (int pin = 0; pin < 24; pin++)
        masked &= (ioapic_entry(pin) & IOREDTBL_MASKED) != 0;
    report(masked, "all redirection entries masked after reset");
    ioapic_write(0x10 + 2 * 10, IOREDTBL_MASKED | IOREDTBL_LEVEL | 0x800 | 0x45);
    ioapic_write(0x11 + 2 * 10, 0x03000000);
    report(ioapic_entry(10) == (IOREDTBL_MASKED | IOREDTBL_LEVEL | 0x800 | 0x45)
           && ioapic_read(0x11 + 2 * 10) == 0x03000000, "redirection entry reads back (%x)", ioapic_entry(10));
    ioapic_write(0x10 + 2 * 10, IOREDTBL_MASKED);
}

static void test_pit(void)
{
    ioapic_route(2, PIT_VECTOR, apic_id());
    pit_periodic(1000);
    u32 got = count_in(&pit_ticks, 50, 50);
    report(near(got, 50), "PIT at 1 kHz on pin 2, edge: %u interrupts in 50 ms", got);
    report(pit_rirr_seen == 0, "edge-triggered: remote IRR stays 0");
    report(!apic_vector_set(APIC_TMR, PIT_VECTOR), "edge-triggered: TMR bit clear");
    ioapic_write(0x10 + 2 * 2, IOREDTBL_MASKED | PIT_VECTOR);
    got = count_in(&pit_ticks, 20, 0);
    report(got == 0, "masked pin 2 delivers nothing (%u)", got);
    ioapic_write(0x10 + 2 * 2, PIT_VECTOR);
    got = count_in(&pit_ticks, 20, 20);
    report(near(got, 20), "unmasked pin 2 delivers again (%u in 20 ms)", got);
    ioapic_write(0x10 + 2 * 2, IOREDTBL_MASKED | PIT_VECTOR);
    pit_stop();
}

static void test_rtc_edge(void)
{
    ioapic_route(8, RTC_VECTOR, apic_id());
    cmos_write(0x0A, 0x26);                 /* 32.768 kHz base, 1024 Hz periodic rate */
    cmos_read(0x0C);
    cmos_write(0x0B, 0x42);                 /* PIE, 24 hour */
    u32 got = count_in(&rtc_ticks, 50, 51);
    cmos_write(0x0B, 0x02);
    cmos_read(0x0C);
    report(near(got, 51), "RTC at 1024 Hz on pin 8, edge: %u interrupts in 50 ms", got);
    ioapic_write(0x10 + 2 * 8, IOREDTBL_MASKED | RTC_VECTOR);
}

static void test_level(int mode)
{
    level_calls = level_rirr = level_tmr = 0;
    level_mode = mode;
    ioapic_route(8, IOREDTBL_LEVEL | LEVEL_VECTOR, apic_id());
    cmos_write(0x0A, 0x26);
    cmos_read(0x0C);
    cmos_write(0x0B, 0x42);
    int ok = wait_until(&level_calls, mode == 0 ? 2 : 1, 500);
    delay_ms(5);
    cli();
    u32 entry = ioapic_entry(8);
    if (mode == 0) {
        report(ok && level_calls == 2, "level-triggered: EOI with the line still high delivers again (%u calls)",
               level_calls);
        report(level_rirr == 2, "remote IRR is set while a level interrupt is in service");
        report(level_tmr == 2, "TMR bit set for a level-triggered vector");
        report(!(entry & IOREDTBL_RIRR), "local APIC EOI clears remote IRR");
    } else {
        report(ok && level_calls == 1, "level-triggered: one interrupt when the handler lowers the line");
        report(level_rirr & 0x100, "the IOAPIC EOI register clears remote IRR");
    }
    ioapic_write(0x10 + 2 * 8, IOREDTBL_MASKED | IOREDTBL_LEVEL | LEVEL_VECTOR);
}

static void test_level_masked(void)
{
    /* Raise IRQ 8 with the pin masked; unmasking with the line still high delivers it. */
    level_calls = level_rirr = 0;
    level_mode = 2;
    ioapic_route(8, IOREDTBL_MASKED | IOREDTBL_LEVEL | LEVEL_VECTOR, apic_id());
    cmos_write(0x0A, 0x26);
    cmos_read(0x0C);
    cmos_write(0x0B, 0x42);
    sti();
    delay_ms(5);
    cli();
    report(level_calls == 0, "masked level pin delivers nothing");
    ioapic_write(0x10 + 2 * 8, IOREDTBL_LEVEL | LEVEL_VECTOR);
    int ok = wait_until(&level_calls, 1, 100);
    cli();
    report(ok, "unmasking a level pin whose line is high delivers");
    ioapic_write(0x10 + 2 * 8, IOREDTBL_MASKED | IOREDTBL_LEVEL | LEVEL_VECTOR);
    cmos_write(0x0B, 0x02);
    cmos_read(0x0C);
}

int main(u32 magic, struct mb_info *mbi)
{
    (void)mbi;
    if (!test_start("ioapic: redirection of ISA interrupts", magic, 1))
        return report_summary();
    set_handler(PIT_VECTOR, pit_handler);
    set_handler(RTC_VECTOR, rtc_handler);
    set_handler(LEVEL_VECTOR, level_handler);
    apic_enable();
    cmos_write(0x0B, 0x02);
    cmos_read(0x0C);
    test_registers();
    test_pit();
    test_rtc_edge();
    test_level(0);
    test_level(1);
    test_level_masked();
    return report_summary();
}
