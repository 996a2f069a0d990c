/*
 * rtc.c: the MC146818 RTC and CMOS (Motorola MC146818A datasheet; the memory-size bytes as the
 * PC BIOS conventions and QEMU's pc_cmos_init fill them): time and date in BCD and binary, 24 and
 * 12 hour modes, setting the time with SET and the date rolling over a leap day, the
 * update-in-progress bit, and the update-ended, alarm and periodic interrupts on IRQ 8, first
 * through the 8259 pair and then through IOAPIC pin 8; NVRAM bytes and the memory sizes, which
 * must agree with each other and with the Multiboot loader's mem_upper. (The AT checksum at
 * 0x2E/0x2F is not checked: under QEMU it does not cover bytes the firmware changes later.)
 */
#include "lib.h"

#define REG_A 0x0A
#define REG_B 0x0B
#define REG_C 0x0C
#define REG_D 0x0D
#define A_UIP 0x80
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10

#define RTC_VECTOR_PIC  (PIC_VECTOR_BASE + 8)
#define RTC_VECTOR_APIC 0x38

static volatile u32 irqs, pf, af, uf, irqf_missing, alarm_second;
static volatile u64 uf_tsc[4];
static volatile u32 uip_seen;
static volatile int via_ioapic;

static void rtc_handler(struct frame *f)
{
    (void)f;
    u8 c = cmos_read(REG_C);
    irqs++;
    if (!(c & C_IRQF))
        irqf_missing++;
    if (c & C_PF) {
        pf++;
        if (cmos_read(REG_A) & A_UIP)
            uip_seen++;
    }
    if (c & C_UF) {
        if (uf < 4)
            uf_tsc[uf] = rdtsc();
        uf++;
    }
    if (c & C_AF) {
        af++;
        alarm_second = cmos_read(0x00);
    }
    if (via_ioapic)
        apic_eoi();
    else
        pic_eoi(8);
}

static u32 bcd(u8 v) { return (v >> 4) * 10 + (v & 0xF); }
static int is_bcd(u8 v) { return (v & 0xF) <= 9 && (v >> 4) <= 9; }

struct tm { u32 sec, min, hour, day, mon, year; };

static void read_raw(u8 r[6])
{
    static const u8 idx[6] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09};
    for (int tries = 0; tries < 1000; tries++) {
        while (cmos_read(REG_A) & A_UIP)
            ;
        for (int i = 0; i < 6; i++)
            r[i] = cmos_read(idx[i]);
        if (cmos_read(0x00) == r[0])
            return;
    }
}

static void to_tm(const u8 r[6], int binary, struct tm *t)
{
    u32 v[6];
    for (int i = 0; i < 6; i++)
        v[i] = binary ? r[i] : bcd(r[i]);
    t->sec = v[0]; t->min = v[1]; t->hour = v[2]; t->day = v[3]; t->mon = v[4]; t->year = v[5];
}

static u32 seconds_of_day(const struct tm *t) { return (t->hour * 60 + t->min) * 60 + t->sec; }

static int valid(const struct tm *t)
{
    return t->sec < 60 && t->min < 60 && t->hour < 24 && t->day >= 1 && t->day <= 31 && t->mon >= 1 && t->mon <= 12
           && t->year < 100;
}

/* Stops the clock, writes a time in the current mode, restarts it. */
static void set_time(u8 b, u8 sec, u8 min, u8 hour, u8 day, u8 mon, u8 year)
{
    /* The century byte too, in the same format: QEMU (as the PC BIOS convention) keeps it with the
     * time and reads it in the current mode. */
    cmos_write(REG_B, b | B_SET);
    cmos_write(0x32, b & B_DM_BINARY ? 20 : 0x20);
    cmos_write(REG_B, b | B_SET);
    cmos_write(0x00, sec);
    cmos_write(0x02, min);
    cmos_write(0x04, hour);
    cmos_write(0x07, day);
    cmos_write(0x08, mon);
    cmos_write(0x09, year);
    cmos_write(REG_B, b);
}

static void test_time(void)
{
    report(cmos_read(REG_D) & 0x80, "register D: valid RAM and time");
    cmos_write(REG_A, 0x26);
    cmos_write(REG_B, B_24H);
    u8 raw[6];
    struct tm b, n;
    int same = 0, bcd_ok = 0;
    for (int tries = 0; tries < 3 && !same; tries++) {
        read_raw(raw);
        bcd_ok = 1;
        for (int i = 0; i < 6; i++)
            bcd_ok &= is_bcd(raw[i]);
        to_tm(raw, 0, &b);
        cmos_write(REG_B, B_24H | B_DM_BINARY);
        read_raw(raw);
        to_tm(raw, 1, &n);
        cmos_write(REG_B, B_24H);
        same = b.day == n.day && b.mon == n.mon && b.year == n.year && seconds_of_day(&n) - seconds_of_day(&b) <= 1;
    }
    printf("rtc: 20%2u-%2u-%2u %2u:%2u:%2u\n", b.year, b.mon, b.day, b.hour, b.min, b.sec);
    report(bcd_ok && valid(&b), "BCD mode: time and date are valid BCD");
    report(valid(&n), "binary mode: time and date in range");
    report(same, "binary and BCD modes give the same time");
    u8 century = cmos_read(0x32);
    report(century == 0x19 || century == 0x20 || century == 0x21, "century byte in BCD (%x)", century);
}

/* Waits for two updates (update-ended interrupts), so a time just set has rolled over. */
static void two_updates(void)
{
    u32 target = uf + 2;
    halt_until(&uf, target, 3500);
}

/* Setting the time and rolling over; IRQ 8 must reach the CPU (update-ended interrupts). */
static void test_rollover(void)
{
    u8 raw[6];
    struct tm n;
    /* 2024-02-28 23:59:58 binary: the next day is the leap day. */
    set_time(B_24H | B_DM_BINARY | B_UIE, 58, 59, 23, 28, 2, 24);
    two_updates();
    read_raw(raw);
    to_tm(raw, 1, &n);
    report(n.hour == 0 && n.min == 0 && n.sec <= 1 && n.day == 29 && n.mon == 2 && n.year == 24,
           "2024-02-28 23:59:59 is followed by 2024-02-29 00:00:00 (%u-%u-%u %u:%u:%u)",
           n.year, n.mon, n.day, n.hour, n.min, n.sec);

    /* 12 hour BCD: 11:59:59 PM is followed by 12:00:00 AM of the next day. */
    set_time(B_UIE, 0x59, 0x59, 0x91, 0x31, 0x12, 0x24);
    two_updates();
    read_raw(raw);
    report(raw[2] == 0x12 && raw[1] == 0 && raw[3] == 0x01 && raw[4] == 0x01 && raw[5] == 0x25,
           "12 hour mode: 11:59:59 PM on 2024-12-31 becomes 12:00 AM on 2025-01-01 (hour %x, day %x, month %x, year %x)",
           raw[2], raw[3], raw[4], raw[5]);
    set_time(0, 0x30, 0x45, 0x81, 0x01, 0x01, 0x25);   /* 1:45:30 PM */
    read_raw(raw);
    report(raw[2] == 0x81 && raw[1] == 0x45, "12 hour mode: 1 PM reads back with the PM bit (%x)", raw[2]);
    set_time(B_24H, 0x00, 0x00, 0x12, 0x15, 0x06, 0x24);
    cmos_read(REG_C);
}

/*
 * UIP is set in the last 244 us before each update. Periodic interrupts at 8192 Hz (122 us) put a
 * handler that reads register A inside that window at least once a second; counted over two
 * seconds (between update-ended interrupts).
 */
static void test_uip(void)
{
    cmos_write(REG_A, 0x23);                /* 8192 Hz */
    cmos_read(REG_C);
    uf = 0;
    cmos_write(REG_B, B_24H | B_UIE);
    int ok = halt_until(&uf, 1, 1500);
    uip_seen = 0;
    cmos_write(REG_B, B_24H | B_UIE | B_PIE);
    ok &= halt_until(&uf, 3, 3000);
    cmos_write(REG_B, B_24H);
    cmos_write(REG_A, 0x26);
    cmos_read(REG_C);
    report(ok && uip_seen >= 2, "update-in-progress bit seen before each update (%u times in two seconds)", uip_seen);
}

static int near(u32 value, u32 expected)
{
    u32 tol = expected / 4;
    return value + tol >= expected && value <= expected + tol;
}

static void test_interrupts(const char *path)
{
    /* Update-ended: one a second. The first may come at once (an update just before UIE was set
     * leaves UF in register C), so the spacing is taken between the second and the third. */
    cmos_read(REG_C);
    irqs = uf = af = pf = irqf_missing = 0;
    cmos_write(REG_B, B_24H | B_UIE);
    int ok = halt_until(&uf, 3, 3500);
    cli();
    cmos_write(REG_B, B_24H);
    u32 ms = ok ? elapsed_us(uf_tsc[1], uf_tsc[2]) / 1000 : 0;
    report(ok && near(ms, 1000), "%s: update-ended interrupts one second apart (%u ms)", path, ms);
    report(irqs == uf, "%s: update-ended interrupts carry only UF (%u irqs, %u UF)", path, irqs, uf);

    /* Alarm two seconds ahead; hours and minutes don't care. */
    u8 raw[6];
    read_raw(raw);
    u8 alarm = (u8)(((bcd(raw[0]) + 2) % 60 / 10) << 4 | ((bcd(raw[0]) + 2) % 60 % 10));
    cmos_write(0x01, alarm);
    cmos_write(0x03, 0xC0);
    cmos_write(0x05, 0xC0);
    cmos_read(REG_C);
    af = 0;
    cmos_write(REG_B, B_24H | B_AIE | B_UIE);   /* UIE: interrupts keep coming while halted */
    ok = halt_until(&af, 1, 3500);
    cli();
    cmos_write(REG_B, B_24H);
    report(ok && alarm_second == alarm, "%s: alarm interrupt at second %x (read %x)", path, alarm, alarm_second);

    /* Periodic at 16 Hz and 8 Hz, counted between two update-ended interrupts (one second of the
     * RTC, itself checked against the TSC above). Slow rates, so that a vCPU the host does not run
     * for some milliseconds loses no interrupt to coalescing. */
    static const struct { u8 rs; u32 expected; } rates[2] = {{12, 16}, {13, 8}};
    for (int i = 0; i < 2; i++) {
        cmos_write(REG_A, 0x20 | rates[i].rs);
        cmos_read(REG_C);
        uf = 0;
        cmos_write(REG_B, B_24H | B_PIE | B_UIE);
        ok = halt_until(&uf, 1, 1500);
        u32 before = pf;
        ok &= halt_until(&uf, 2, 1500);
        u32 got = pf - before;
        cmos_write(REG_B, B_24H);
        report(ok && got + 1 >= rates[i].expected && got <= rates[i].expected + 1,
               "%s: periodic rate %u: %u interrupts in one second (expected %u)", path, rates[i].rs, got,
               rates[i].expected);
    }
    cmos_write(REG_A, 0x26);
    report(irqf_missing == 0, "%s: IRQF set in register C with every interrupt", path);
    /* PF is set at the periodic rate whatever PIE says, and UF once a second: stop the periodic
     * rate and retry if a second boundary falls between the two reads. */
    cmos_write(REG_A, 0x20);
    u8 c2 = 0xFF;
    for (int tries = 0; tries < 3 && c2; tries++) {
        u8 s0 = cmos_read(0x00);
        cmos_read(REG_C);
        c2 = cmos_read(REG_C);
        if (cmos_read(0x00) != s0)
            c2 = 0xFF;
    }
    cmos_write(REG_A, 0x26);
    report(c2 == 0, "%s: reading register C clears it", path);
}

static void test_nvram(struct mb_info *mbi, int have_mem)
{
    u8 saved[16];
    int ok = 1;
    for (int i = 0; i < 16; i++) {
        saved[i] = cmos_read(0x40 + i);
        cmos_write(0x40 + i, (u8)(i * 37 + 0x5A));
    }
    for (int i = 0; i < 16; i++) {
        ok &= cmos_read(0x40 + i) == (u8)(i * 37 + 0x5A);
        cmos_write(0x40 + i, saved[i]);
    }
    report(ok, "NVRAM 0x40-0x4F keeps what was written");
    u32 base = cmos_read(0x15) | cmos_read(0x16) << 8;
    u32 ext1 = cmos_read(0x17) | cmos_read(0x18) << 8;
    u32 ext2 = cmos_read(0x30) | cmos_read(0x31) << 8;
    u32 high = cmos_read(0x34) | cmos_read(0x35) << 8;
    printf("cmos: base %u KiB, extended %u KiB, above 16 MiB %u x 64 KiB\n", base, ext1, high);
    report(base == 640, "base memory 640 KiB (0x15/0x16)");
    report(ext1 == ext2, "extended memory bytes 0x17/0x18 and 0x30/0x31 agree");
    if (!have_mem) {
        report_skip("memory size bytes against mem_upper: no Multiboot memory information");
        return;
    }
    u32 upper = mbi->mem_upper;            /* KiB from 1 MiB */
    /* The loader's map may keep a little at the top of RAM for itself (SeaBIOS does). */
    report(ext1 >= (upper > 0xFFFF ? 0xFFFF : upper) && ext1 - (upper > 0xFFFF ? 0xFFFF : upper) < 1024,
           "extended memory within 1 MiB of the Multiboot mem_upper (%u KiB)", upper);
    if (ext1 < 0xFFFF && ext1 > 15 * 1024)
        report(high == (ext1 - 15 * 1024) / 64, "64 KiB blocks above 16 MiB agree with the extended memory");
    else
        report_skip("64 KiB blocks above 16 MiB: extended memory below 16 MiB or capped");
}

/* Takes an edge the interrupt controller latched while the input was masked. */
static void drain(void)
{
    sti();
    delay_ms(2);
    cli();
}

int main(u32 magic, struct mb_info *mbi)
{
    int have_mem = magic == 0x2BADB002 && (mbi->flags & 1);
    test_start("rtc: MC146818 RTC and CMOS", magic, 0);
    set_handler(RTC_VECTOR_PIC, rtc_handler);
    set_handler(RTC_VECTOR_APIC, rtc_handler);
    test_nvram(mbi, have_mem);
    test_time();

    if (has_apic()) {
        apic_enable();
        apic_write(APIC_LVT_LINT0, 0x700);      /* the 8259 reaches the CPU as ExtINT (virtual wire) */
    }
    pic_unmask(8);
    drain();
    test_rollover();
    test_uip();
    test_interrupts("8259 IRQ 8");
    pic_mask(8);
    if (has_apic()) {
        apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED | 0x700);
        via_ioapic = 1;
        ioapic_route(8, RTC_VECTOR_APIC, apic_id());
        drain();
        test_interrupts("IOAPIC pin 8");
        ioapic_write(0x10 + 2 * 8, IOREDTBL_MASKED | RTC_VECTOR_APIC);
    } else {
        report_skip("IRQ 8 through the IOAPIC: no local APIC");
    }
    return report_summary();
}
