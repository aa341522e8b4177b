/* SPDX-License-Identifier: MIT */
/* test_vmm_platform.c: the wired platform (servers/vmm/devices/platform.c): dispatch, ISA IRQ routing via 8259A and I/O APIC, IPIs, events. */
#include "vmm_test.h"

#include "platform.h"

static struct vmm_platform P;
static char console[64];
static unsigned nconsole;

static void to_console(void *ctx, uint8_t b)
{
    (void)ctx;
    if (nconsole + 1 < sizeof(console))
        console[nconsole++] = (char)b;
}

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    nconsole = 0;
    memset(console, 0, sizeof(console));
    struct vmm_platform_config cfg = {
        .cpus = 2, .clock = &test_clock, .wall_time = 1700000000, .ram = 512ull << 20,
        .console = to_console, .console_ctx = 0,
    };
    assert_int_equal(vmm_platform_init(&P, &cfg), VMM_PLATFORM_OK);
    return 0;
}

static void outb(uint16_t port, uint8_t v) { assert_true(vmm_platform_pio_write(&P, 0, port, 1, v)); }
static uint8_t inb(uint16_t port)
{
    uint32_t v;
    (void)vmm_platform_pio_read(&P, 0, port, 1, &v);
    return (uint8_t)v;
}
static void lapic_write(unsigned cpu, unsigned off, uint32_t v)
{
    assert_true(vmm_platform_mmio_write(&P, cpu, 0xfee00000ull + off, 4, v));
}
static uint32_t lapic_read(unsigned cpu, unsigned off)
{
    uint64_t v;
    assert_true(vmm_platform_mmio_read(&P, cpu, 0xfee00000ull + off, 4, &v));
    return (uint32_t)v;
}
static void ioapic_rte(unsigned pin, uint32_t lo, uint32_t hi)
{
    assert_true(vmm_platform_mmio_write(&P, 0, 0xfec00000ull, 4, 0x11 + 2 * pin));
    assert_true(vmm_platform_mmio_write(&P, 0, 0xfec00010ull, 4, hi));
    assert_true(vmm_platform_mmio_write(&P, 0, 0xfec00000ull, 4, 0x10 + 2 * pin));
    assert_true(vmm_platform_mmio_write(&P, 0, 0xfec00010ull, 4, lo));
}

static void test_config_checks(void **state)
{
    (void)state;
    struct vmm_platform p;
    struct vmm_platform_config cfg = { .cpus = 0, .clock = &test_clock };
    assert_int_equal(vmm_platform_init(&p, &cfg), VMM_PLATFORM_ERR_CPUS);
    cfg.cpus = VMM_MAX_VCPUS + 1;
    assert_int_equal(vmm_platform_init(&p, &cfg), VMM_PLATFORM_ERR_CPUS);
}

static void test_unclaimed_ports_and_mmio(void **state)
{
    (void)state;
    uint32_t v;
    assert_false(vmm_platform_pio_read(&P, 0, 0x3e8, 1, &v));      /* no COM3 */
    assert_int_equal(v, 0xff);
    assert_false(vmm_platform_pio_read(&P, 0, 0x1234, 4, &v));
    assert_int_equal(v, 0xffffffffu);
    assert_false(vmm_platform_pio_write(&P, 0, 0x80, 1, 0));       /* POST port: dropped */
    uint64_t m;
    assert_false(vmm_platform_mmio_read(&P, 0, 0xfed00000ull, 4, &m));
    assert_int_equal(m, 0xffffffffu);
}

static void test_console_output(void **state)
{
    (void)state;
    outb(0x3f8, 'o');
    outb(0x3f8, 'k');
    assert_string_equal(console, "ok");
}

static void test_uart_irq_through_ioapic(void **state)
{
    (void)state;
    lapic_write(1, 0xf0, 0x1ff);
    ioapic_rte(4, 0x0034, 1u << 24);                /* IRQ4 -> vector 0x34 on APIC 1 */
    outb(0x3fc, 0x08);                              /* MCR OUT2 */
    outb(0x3f9, 0x02);                              /* ETBEI: THRE interrupt */
    assert_true(vmm_platform_intr_pending(&P, 1));
    assert_false(vmm_platform_intr_pending(&P, 0));
    uint8_t v;
    assert_true(vmm_platform_intr_take(&P, 1, &v));
    assert_int_equal(v, 0x34);
    assert_int_equal(lapic_read(1, 0x100 + 0x10), 1u << 20);  /* ISR bit 0x34 */
    lapic_write(1, 0xb0, 0);
    assert_false(vmm_platform_intr_take(&P, 1, &v));
}

static void test_pit_irq0_arrives_on_pin2(void **state)
{
    (void)state;
    lapic_write(0, 0xf0, 0x1ff);
    ioapic_rte(0, 0x0030, 0);                       /* pin 0: would be wrong */
    ioapic_rte(2, 0x0031, 0);                       /* pin 2: the override */
    outb(0x43, 0x34);                               /* ch0 mode 2 */
    outb(0x40, 0x9c);
    outb(0x40, 0x2e);                               /* 11932: 100 Hz */
    uint64_t d = vmm_platform_next_deadline(&P);
    assert_true(d > 9900000 && d < 10100000);
    test_now = d;
    vmm_platform_tick(&P);
    uint8_t v;
    assert_true(vmm_platform_intr_take(&P, 0, &v));
    assert_int_equal(v, 0x31);
}

static void test_pic_through_lint0(void **state)
{
    (void)state;
    /* 8259A at 0x20/0x28, BSP LINT0 in ExtINT mode (virtual wire). */
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, 0x00); outb(0xa1, 0x00);
    vmm_platform_set_isa_irq(&P, 1, true);
    assert_false(vmm_platform_intr_pending(&P, 0)); /* LINT0 masked at reset */
    lapic_write(0, 0xf0, 0x1ff);
    lapic_write(0, 0x350, 0x700);
    assert_true(vmm_platform_intr_pending(&P, 0));
    assert_false(vmm_platform_intr_pending(&P, 1)); /* only the BSP's LINT0 is wired */
    uint8_t v;
    assert_true(vmm_platform_intr_take(&P, 0, &v));
    assert_int_equal(v, 0x21);
    outb(0x20, 0x20);
    vmm_platform_set_isa_irq(&P, 1, false);
    assert_false(vmm_platform_intr_pending(&P, 0));
}

static void test_extint_through_ioapic(void **state)
{
    (void)state;
    /* Linux's check_timer fallback: I/O APIC pin 0 in ExtINT mode carries the 8259A's INT. */
    outb(0x20, 0x11); outb(0x21, 0x30); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0x21, 0xfe);                               /* only IRQ0 */
    lapic_write(1, 0xf0, 0x1ff);
    ioapic_rte(0, 0x0700, 1u << 24);                /* ExtINT to APIC 1 */
    vmm_platform_set_isa_irq(&P, 0, true);          /* PIC input 0 (pin 2 stays masked) */
    assert_false(vmm_platform_intr_pending(&P, 0)); /* LINT0 masked: only pin 0 carries it */
    assert_true(vmm_platform_intr_pending(&P, 1));
    uint8_t v;
    assert_true(vmm_platform_intr_take(&P, 1, &v));
    assert_int_equal(v, 0x30);                      /* the vector comes from the 8259A */
    assert_false(vmm_platform_intr_pending(&P, 1));
    /* Two requests: the second is delivered after the first's INTA without a new device edge. */
    outb(0x20, 0x20);
    outb(0x21, 0xfc);
    vmm_platform_set_isa_irq(&P, 0, false);
    vmm_platform_set_isa_irq(&P, 0, true);
    vmm_platform_set_isa_irq(&P, 1, true);
    assert_true(vmm_platform_intr_take(&P, 1, &v));
    assert_int_equal(v, 0x30);
    outb(0x20, 0x20);
    assert_true(vmm_platform_intr_take(&P, 1, &v));
    assert_int_equal(v, 0x31);
}

static void test_level_sci_eoi_broadcast(void **state)
{
    (void)state;
    lapic_write(0, 0xf0, 0x1ff);
    ioapic_rte(9, 0x8049, 0);                       /* level, vector 0x49 */
    vpm_press_power_button(&P.pm);
    assert_true(vmm_platform_pio_write(&P, 0, 0x602, 2, 0x0100));   /* PWRBTN_EN: SCI asserted */
    uint8_t v;
    assert_true(vmm_platform_intr_take(&P, 0, &v));
    assert_int_equal(v, 0x49);
    assert_true(lapic_read(0, 0x180 + 0x20) & (1u << 9));          /* TMR: level */
    assert_true(vmm_platform_pio_write(&P, 0, 0x600, 2, 0x0100));   /* handler clears status */
    lapic_write(0, 0xb0, 0);                        /* EOI -> I/O APIC remote IRR cleared */
    assert_true(vmm_platform_mmio_write(&P, 0, 0xfec00000ull, 4, 0x10 + 18));
    uint64_t lo;
    assert_true(vmm_platform_mmio_read(&P, 0, 0xfec00010ull, 4, &lo));
    assert_false(lo & (1u << 14));
    assert_false(vmm_platform_intr_pending(&P, 0));
}

static void test_init_sipi_ipis(void **state)
{
    (void)state;
    lapic_write(0, 0xf0, 0x1ff);
    lapic_write(0, 0x310, 1u << 24);
    lapic_write(0, 0x300, 0x00004500);              /* INIT assert to APIC 1 */
    assert_true(vmm_platform_take_init(&P, 1));
    assert_false(vmm_platform_take_init(&P, 1));
    assert_false(vmm_platform_take_init(&P, 0));
    lapic_write(0, 0x300, 0x0000069a);              /* SIPI, vector 0x9a */
    uint8_t v;
    assert_true(vmm_platform_take_sipi(&P, 1, &v));
    assert_int_equal(v, 0x9a);
    lapic_write(0, 0x300, 0x000c4400);              /* NMI to all but self */
    assert_true(vmm_platform_take_nmi(&P, 1));
    assert_false(vmm_platform_take_nmi(&P, 0));
}

static void test_fixed_and_lowest_priority_ipis(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 2; c++) {
        lapic_write(c, 0xf0, 0x1ff);
        lapic_write(c, 0xd0, (1u << c) << 24);      /* flat logical IDs 1, 2 */
    }
    lapic_write(0, 0x310, 1u << 24);
    lapic_write(0, 0x300, 0x000000f0);              /* fixed 0xf0 to physical APIC 1 */
    uint8_t v;
    assert_true(vmm_platform_intr_take(&P, 1, &v));
    assert_int_equal(v, 0xf0);
    lapic_write(1, 0xb0, 0);                        /* EOI: CPU 1 back to PPR 0 */
    lapic_write(0, 0x80, 0x10);                     /* CPU 0 busier (TPR) */
    lapic_write(0, 0x310, 0x03u << 24);
    lapic_write(0, 0x300, 0x00000941);              /* lowest priority, logical 0x03 */
    assert_false(vmm_platform_intr_pending(&P, 0));
    assert_true(vmm_platform_intr_take(&P, 1, &v));
    assert_int_equal(v, 0x41);
    lapic_write(0, 0x300, 0x00040052);              /* fixed to self */
    assert_true(vmm_platform_intr_take(&P, 0, &v));
    assert_int_equal(v, 0x52);
}

static void test_reset_and_poweroff_events(void **state)
{
    (void)state;
    outb(0x64, 0xfe);
    assert_int_equal(vmm_platform_take_events(&P), VDEV_EVENT_RESET_KBC);
    assert_int_equal(vmm_platform_take_events(&P), 0);
    outb(0xcf9, 0x02);                              /* Linux's sequence: select, then start */
    assert_int_equal(vmm_platform_take_events(&P), 0);
    outb(0xcf9, 0x06);
    assert_int_equal(vmm_platform_take_events(&P), VDEV_EVENT_RESET_RCR);
    assert_true(vmm_platform_pio_write(&P, 0, 0x604, 2, (5u << 10) | 0x2000u));
    assert_int_equal(vmm_platform_take_events(&P), VDEV_EVENT_POWEROFF);
}

static void test_cmos_memory_and_pci(void **state)
{
    (void)state;
    outb(0x70, 0x34);
    uint8_t lo = inb(0x71);
    outb(0x70, 0x35);
    uint8_t hi = inb(0x71);
    assert_int_equal(lo | hi << 8, (512u - 16u) * 16u);
    assert_true(vmm_platform_pio_write(&P, 0, 0xcf8, 4, 0x80000000u));
    uint32_t id;
    assert_true(vmm_platform_pio_read(&P, 0, 0xcfc, 4, &id));
    assert_int_equal(id, 0x12378086u);
}

static void test_lapic_timer_deadline_aggregated(void **state)
{
    (void)state;
    lapic_write(1, 0xf0, 0x1ff);
    lapic_write(1, 0x3e0, 0xb);
    lapic_write(1, 0x320, 0x60);
    lapic_write(1, 0x380, 5000);
    assert_int_equal(vmm_platform_next_deadline(&P), 5000);
    test_now = 5000;
    vmm_platform_tick(&P);
    uint8_t v;
    assert_true(vmm_platform_intr_take(&P, 1, &v));
    assert_int_equal(v, 0x60);
}

/* vmm_platform_reset: the devices as at power-on, the RTC's clock and NVRAM kept. */
static void test_reset_restores_power_on_state(void **state)
{
    (void)state;
    outb(0x21, 0x5a);                               /* 8259A IMR */
    lapic_write(0, 0x80, 0x30);                     /* TPR */
    lapic_write(1, 0xf0, 0x1ff);
    lapic_write(1, 0x320, 0x60);
    lapic_write(1, 0x380, 5000);                    /* a timer armed on CPU 1 */
    ioapic_rte(4, 0x31, 0);                         /* pin 4 unmasked */
    outb(0x60, 0xf5);                               /* keyboard: scanning off (queues an ACK) */
    outb(0x70, 0x48);
    outb(0x71, 0xa5);                               /* a CMOS scratch byte */
    outb(0x70, 0x0b);
    uint8_t b = inb(0x71);
    outb(0x71, (uint8_t)(b | 0x40u));               /* RTC periodic interrupt on */
    outb(0x64, 0xfe);
    int64_t wall = vrtc_wall_time(&P.rtc);

    vmm_platform_reset(&P);
    assert_int_equal(vmm_platform_take_events(&P), 0);  /* the pending reset went with it */
    assert_int_equal(inb(0x21), 0);                 /* 8259A: as vpic_init leaves it */
    assert_int_equal(lapic_read(0, 0x80), 0);
    assert_int_equal(lapic_read(1, 0x320) & 0x10000u, 0x10000u);    /* LVT timer masked */
    assert_int_equal(vmm_platform_next_deadline(&P), VDEV_NO_DEADLINE);
    assert_true(vmm_platform_mmio_write(&P, 0, 0xfec00000ull, 4, 0x10 + 2 * 4));
    uint64_t lo;
    assert_true(vmm_platform_mmio_read(&P, 0, 0xfec00010ull, 4, &lo));
    assert_int_equal(lo & 0x10000u, 0x10000u);      /* masked again */
    assert_int_equal(inb(0x64) & 1u, 0);            /* the KBC's output buffer is empty */
    outb(0x70, 0x48);
    assert_int_equal(inb(0x71), 0xa5);              /* NVRAM kept */
    outb(0x70, 0x0b);
    assert_int_equal(inb(0x71) & 0x40u, 0);         /* PIE cleared by RESET */
    assert_int_equal(vrtc_wall_time(&P.rtc), wall); /* the clock ran on */
    outb(0x70, 0x35);
    assert_int_equal(inb(0x71), 0x1f);              /* memory-size bytes still there */
    /* The devices still work and are wired: console and events. */
    outb(0x3f8, 'R');
    assert_string_equal(console, "R");
    outb(0x64, 0xfe);
    assert_int_equal(vmm_platform_take_events(&P), VDEV_EVENT_RESET_KBC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_config_checks, setup),
        cmocka_unit_test_setup(test_unclaimed_ports_and_mmio, setup),
        cmocka_unit_test_setup(test_console_output, setup),
        cmocka_unit_test_setup(test_uart_irq_through_ioapic, setup),
        cmocka_unit_test_setup(test_pit_irq0_arrives_on_pin2, setup),
        cmocka_unit_test_setup(test_pic_through_lint0, setup),
        cmocka_unit_test_setup(test_extint_through_ioapic, setup),
        cmocka_unit_test_setup(test_level_sci_eoi_broadcast, setup),
        cmocka_unit_test_setup(test_init_sipi_ipis, setup),
        cmocka_unit_test_setup(test_fixed_and_lowest_priority_ipis, setup),
        cmocka_unit_test_setup(test_reset_and_poweroff_events, setup),
        cmocka_unit_test_setup(test_cmos_memory_and_pci, setup),
        cmocka_unit_test_setup(test_reset_restores_power_on_state, setup),
        cmocka_unit_test_setup(test_lapic_timer_deadline_aggregated, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
