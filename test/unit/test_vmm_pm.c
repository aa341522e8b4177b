/* SPDX-License-Identifier: MIT */
/* test_vmm_pm.c: ACPI fixed hardware (servers/vmm/devices/pm.c): PM1 status/enable/control, S5 power-off, the PM timer, SCI. */
#include "vmm_test.h"

#include "pm.h"

static struct vpm PM;

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    vpm_init(&PM, &test_clock, test_irq_line(9), test_event_sink);
    return 0;
}

static uint64_t rd(unsigned port, unsigned size) { return vpm_bus_read(&PM, 0, port, size); }
static void wr(unsigned port, unsigned size, uint64_t v) { vpm_bus_write(&PM, 0, port, size, v); }

static void test_sci_en_always_set(void **state)
{
    (void)state;
    assert_int_equal(rd(0x604, 2) & 1, 1);          /* no SMI_CMD: already in ACPI mode */
    wr(0x604, 2, 0);
    assert_int_equal(rd(0x604, 2) & 1, 1);
}

static void test_linux_poweroff_sequence(void **state)
{
    (void)state;
    /* acpi_hw_legacy_sleep(): clear WAK_STS, write SLP_TYP, then SLP_TYP | SLP_EN. */
    wr(0x600, 2, 0x8000);
    uint16_t cnt = (uint16_t)rd(0x604, 2);
    cnt = (uint16_t)((cnt & ~0x3c00u) | (5u << 10));
    wr(0x604, 2, cnt);
    assert_int_equal(test_events, 0);
    assert_int_equal(rd(0x604, 2) & 0x1c00, 5u << 10);
    wr(0x604, 2, cnt | 0x2000u);
    assert_int_equal(test_events, VDEV_EVENT_POWEROFF);
    assert_int_equal(rd(0x604, 2) & 0x2000, 0);     /* SLP_EN is write-only */
}

static void test_other_sleep_types_ignored(void **state)
{
    (void)state;
    wr(0x604, 2, (3u << 10) | 0x2000u);             /* S3 is not offered */
    assert_int_equal(test_events, 0);
    wr(0x605, 1, ((5u << 10) | 0x2000u) >> 8);      /* byte write of the high half */
    assert_int_equal(test_events, VDEV_EVENT_POWEROFF);
}

static void test_pm_timer_frequency(void **state)
{
    (void)state;
    test_now = 0;
    uint32_t a = (uint32_t)rd(0x608, 4);
    test_now = 1000000000ull;
    uint32_t b = (uint32_t)rd(0x608, 4);
    assert_int_equal(b - a, 3579545u);              /* 3.579545 MHz */
    test_now = 2000000000ull;
    assert_int_equal((uint32_t)rd(0x608, 4) - b, 3579545u);
}

static void test_power_button_sci(void **state)
{
    (void)state;
    vpm_press_power_button(&PM);
    assert_false(test_irq.level[9]);                /* not enabled yet */
    assert_int_equal(rd(0x600, 2) & 0x0100, 0x0100);
    wr(0x602, 2, 0x0100);                           /* PWRBTN_EN */
    assert_true(test_irq.level[9]);                 /* SCI is a level */
    wr(0x600, 2, 0x0100);                           /* write 1 to clear */
    assert_false(test_irq.level[9]);
    assert_int_equal(rd(0x600, 2) & 0x0100, 0);
}

static void test_timer_overflow_status(void **state)
{
    (void)state;
    wr(0x602, 2, 0x0001);                           /* TMR_EN */
    uint64_t d = vpm_next_deadline(&PM);
    /* Bit 31 of the 32-bit timer toggles after 2^31 ticks (~600 s). */
    assert_true(d > 599000000000ull && d < 601000000000ull);
    test_now = d;
    vpm_tick(&PM);
    assert_true(test_irq.level[9]);
    assert_int_equal(rd(0x600, 2) & 1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_sci_en_always_set, setup),
        cmocka_unit_test_setup(test_linux_poweroff_sequence, setup),
        cmocka_unit_test_setup(test_other_sleep_types_ignored, setup),
        cmocka_unit_test_setup(test_pm_timer_frequency, setup),
        cmocka_unit_test_setup(test_power_button_sci, setup),
        cmocka_unit_test_setup(test_timer_overflow_status, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
