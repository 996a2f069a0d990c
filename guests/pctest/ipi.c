/*
 * ipi.c: inter-processor interrupts between two vCPUs (SDM Vol. 3A 10.6 and 8.4.4): the BSP
 * starts the AP with INIT, SIPI, SIPI (the AP runs start.S's real-mode trampoline, copied to
 * TRAMPOLINE); then fixed IPIs both ways, a self IPI, the shorthands "self", "all including self"
 * and "all excluding self", logical (flat) destinations, lowest-priority delivery (exactly one of
 * the destinations takes each interrupt; which one is model specific), and an NMI IPI. Every
 * delivery is counted per CPU and vector and asserted.
 */
#include "lib.h"

#define TRAMPOLINE      0x8000          /* startup vector 0x08 */
#define V_FIXED         0x50
#define V_TO_BSP        0x51
#define V_SELF          0x52
#define V_ALL           0x53
#define V_OTHERS        0x54
#define V_LOGICAL       0x55
#define V_LOWEST        0x56
#define V_WAKE          0x5F            /* wakes the AP for a command; not counted */

#define ICR_FIXED       (0 << 8)
#define ICR_LOWEST      (1 << 8)
#define ICR_NMI         (4 << 8)
#define ICR_INIT        (5 << 8)
#define ICR_STARTUP     (6 << 8)
#define ICR_LOGICAL     (1 << 11)
#define ICR_ASSERT      (1 << 14)
#define ICR_LEVEL       (1 << 15)
#define ICR_SELF        (1 << 18)
#define ICR_ALL         (2 << 18)
#define ICR_OTHERS      (3 << 18)

static volatile u32 count[2][256];      /* [cpu][vector] */
static volatile u32 ap_online, ap_apic_id, ap_cpuid_id, ap_command, ap_done;
static u8 ap_stack[8192] __attribute__((aligned(16)));
extern u8 ap_tramp_start[], ap_tramp_end[];
extern volatile u32 ap_stack_top;

static int cpu(void) { return apic_id() == 0 ? 0 : 1; }

static void ipi_handler(struct frame *f)
{
    count[cpu()][f->vector]++;
    apic_eoi();
}

static void wake_handler(struct frame *f)
{
    (void)f;
    apic_eoi();
}

static void nmi_handler(struct frame *f)
{
    count[cpu()][2]++;
    (void)f;
}

void ap_main(void)
{
    u32 a, b, c, d;
    apic_enable();
    cpuid(1, &a, &b, &c, &d);
    ap_cpuid_id = b >> 24;
    ap_apic_id = apic_id();
    apic_write(APIC_DFR, 0xFFFFFFFF);   /* flat model */
    apic_write(APIC_LDR, 0x02 << 24);
    ap_online = 1;
    for (;;) {
        cli();
        u32 cmd = ap_command;
        if (cmd) {
            /* Send cmd (count << 16 | vector) fixed IPIs to the BSP, one at a time. */
            for (u32 i = 0; i < cmd >> 16; i++) {
                u32 before = count[0][cmd & 0xFF];
                apic_send_ipi(0, ICR_FIXED | ICR_ASSERT | (cmd & 0xFF));
                spin_until(&count[0][cmd & 0xFF], before + 1, 1000);
            }
            ap_command = 0;
            ap_done++;
        }
        sti_hlt();
    }
}

static int start_ap(void)
{
    memcpy((void *)TRAMPOLINE, ap_tramp_start, ap_tramp_end - ap_tramp_start);
    ap_stack_top = (u32)(ap_stack + sizeof ap_stack);
    apic_send_ipi(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
    apic_send_ipi(1, ICR_INIT | ICR_LEVEL);            /* de-assert (ignored by modern APICs) */
    delay_ms(10);
    for (int i = 0; i < 2 && !ap_online; i++) {
        apic_send_ipi(1, ICR_STARTUP | (TRAMPOLINE >> 12));
        pit_delay_us(200);
    }
    return spin_until(&ap_online, 1, 1000);
}

/* Sends one IPI and waits until the expected counters moved or a time passed. */
static void send_and_wait(u32 dest, u32 icr, volatile u32 *a, u32 va, volatile u32 *b, u32 vb)
{
    apic_send_ipi(dest, icr);
    sti();
    if (a)
        wait_until(a, va, 200);
    if (b)
        wait_until(b, vb, 200);
    delay_ms(1);                        /* anything extra would arrive now */
    cli();
}

int main(u32 magic, struct mb_info *mbi)
{
    (void)mbi;
    if (!test_start("ipi: inter-processor interrupts", magic, 1))
        return report_summary();
    for (int v = V_FIXED; v <= V_LOWEST; v++)
        set_handler(v, ipi_handler);
    set_handler(V_WAKE, wake_handler);
    set_handler(2, nmi_handler);
    apic_enable();
    apic_write(APIC_DFR, 0xFFFFFFFF);
    apic_write(APIC_LDR, 0x01 << 24);
    report(apic_id() == 0, "BSP has APIC ID 0");

    int up = start_ap();
    report(up, "INIT, SIPI, SIPI start the AP");
    if (!up)
        return report_summary();
    report(ap_apic_id == 1 && ap_cpuid_id == 1, "AP has APIC ID 1 (register %u, CPUID %u)", ap_apic_id, ap_cpuid_id);
    delay_ms(1);

    /* Fixed, physical destination, BSP -> AP. */
    for (int i = 0; i < 10; i++)
        send_and_wait(1, ICR_FIXED | ICR_ASSERT | V_FIXED, &count[1][V_FIXED], i + 1, 0, 0);
    report(count[1][V_FIXED] == 10 && count[0][V_FIXED] == 0, "10 fixed IPIs BSP -> AP (AP %u, BSP %u)",
           count[1][V_FIXED], count[0][V_FIXED]);

    /* AP -> BSP. */
    ap_command = 10 << 16 | V_TO_BSP;
    apic_send_ipi(1, ICR_FIXED | ICR_ASSERT | V_WAKE);
    sti();
    wait_until(&ap_done, 1, 2000);
    delay_ms(1);
    cli();
    report(count[0][V_TO_BSP] == 10 && count[1][V_TO_BSP] == 0, "10 fixed IPIs AP -> BSP (BSP %u, AP %u)",
           count[0][V_TO_BSP], count[1][V_TO_BSP]);

    /* Self IPI through the shorthand: pending at once, taken when IF is set. */
    apic_send_ipi(0, ICR_SELF | ICR_FIXED | ICR_ASSERT | V_SELF);
    report(apic_vector_set(APIC_IRR, V_SELF) && count[0][V_SELF] == 0, "self IPI is pending in IRR while IF = 0");
    sti();
    delay_ms(1);
    cli();
    report(count[0][V_SELF] == 1 && count[1][V_SELF] == 0, "self IPI taken once by the sender (%u)", count[0][V_SELF]);

    /* Broadcast shorthands. */
    send_and_wait(0, ICR_ALL | ICR_FIXED | ICR_ASSERT | V_ALL, &count[0][V_ALL], 1, &count[1][V_ALL], 1);
    report(count[0][V_ALL] == 1 && count[1][V_ALL] == 1, "all including self: both CPUs once (BSP %u, AP %u)",
           count[0][V_ALL], count[1][V_ALL]);
    send_and_wait(0, ICR_OTHERS | ICR_FIXED | ICR_ASSERT | V_OTHERS, &count[1][V_OTHERS], 1, 0, 0);
    report(count[0][V_OTHERS] == 0 && count[1][V_OTHERS] == 1, "all excluding self: only the AP (BSP %u, AP %u)",
           count[0][V_OTHERS], count[1][V_OTHERS]);
    send_and_wait(0xFF, ICR_FIXED | ICR_ASSERT | V_OTHERS, &count[0][V_OTHERS], 1, &count[1][V_OTHERS], 2);
    report(count[0][V_OTHERS] == 1 && count[1][V_OTHERS] == 2, "physical destination 0xFF broadcasts (BSP %u, AP %u)",
           count[0][V_OTHERS], count[1][V_OTHERS]);

    /* Logical destinations, flat model: BSP is bit 0, AP bit 1. */
    send_and_wait(0x02, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | V_LOGICAL, &count[1][V_LOGICAL], 1, 0, 0);
    report(count[0][V_LOGICAL] == 0 && count[1][V_LOGICAL] == 1, "logical destination 0x02 reaches the AP only");
    send_and_wait(0x03, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | V_LOGICAL, &count[0][V_LOGICAL], 1,
                  &count[1][V_LOGICAL], 2);
    report(count[0][V_LOGICAL] == 1 && count[1][V_LOGICAL] == 2, "logical destination 0x03 reaches both");

    /* Lowest priority: each interrupt goes to exactly one CPU of the set. */
    for (int i = 0; i < 8; i++) {
        apic_send_ipi(0x03, ICR_LOGICAL | ICR_LOWEST | ICR_ASSERT | V_LOWEST);
        sti();
        delay_ms(2);
        cli();
    }
    u32 lb = count[0][V_LOWEST], la = count[1][V_LOWEST];
    printf("lowest priority to {BSP, AP}: BSP took %u, AP %u\n", lb, la);
    report(lb + la == 8, "lowest priority: 8 IPIs to two CPUs taken 8 times in all");
    send_and_wait(0x02, ICR_LOGICAL | ICR_LOWEST | ICR_ASSERT | V_LOWEST, &count[1][V_LOWEST], la + 1, 0, 0);
    report(count[1][V_LOWEST] == la + 1 && count[0][V_LOWEST] == lb, "lowest priority to the AP alone reaches it");

    /* NMI IPI. */
    send_and_wait(1, ICR_NMI | ICR_ASSERT, &count[1][2], 1, 0, 0);
    report(count[1][2] == 1 && count[0][2] == 0, "NMI IPI reaches the AP once (AP %u, BSP %u)", count[1][2],
           count[0][2]);
    apic_send_ipi(0, ICR_NMI | ICR_ASSERT);     /* to its own APIC ID (the self shorthand allows only fixed) */
    delay_ms(1);
    report(count[0][2] == 1, "NMI to self is taken even with IF = 0 (%u)", count[0][2]);
    return report_summary();
}
