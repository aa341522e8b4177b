/* SPDX-License-Identifier: MIT */
/* test_vmm_rtc.c: the CMOS RTC (servers/vmm/devices/rtc.c) against the MC146818A datasheet and PC CMOS conventions. */
#include "vmm_test.h"

#include "rtc.h"

static struct vrtc R;
#define SEC 1000000000ull

/* 2024-02-29 23:59:58 UTC, a Thursday. */
#define T0 1709251198LL

static uint8_t cmos(uint8_t reg)
{
    vrtc_write(&R, 0x70, reg);
    return vrtc_read(&R, 0x71);
}

static void cmos_set(uint8_t reg, uint8_t v)
{
    vrtc_write(&R, 0x70, reg);
    vrtc_write(&R, 0x71, v);
}

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    vrtc_init(&R, &test_clock, T0, test_irq_line(8));
    return 0;
}

static void test_calendar_helpers(void **state)
{
    (void)state;
    assert_int_equal(vrtc_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(vrtc_days_from_civil(2000, 3, 1), 11017);
    int64_t y;
    unsigned m, d;
    vrtc_civil_from_days(19782, &y, &m, &d);        /* 2024-02-29 */
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
}

static void test_bcd_24h_default(void **state)
{
    (void)state;
    assert_int_equal(cmos(0x0b), 0x02);             /* 24h, BCD */
    assert_int_equal(cmos(0x00), 0x58);
    assert_int_equal(cmos(0x02), 0x59);
    assert_int_equal(cmos(0x04), 0x23);
    assert_int_equal(cmos(0x06), 0x05);             /* Thursday (Sunday = 1) */
    assert_int_equal(cmos(0x07), 0x29);
    assert_int_equal(cmos(0x08), 0x02);
    assert_int_equal(cmos(0x09), 0x24);
    assert_int_equal(cmos(0x32), 0x20);             /* century */
    assert_int_equal(cmos(0x0d), 0x80);             /* VRT */
}

static void test_time_advances_across_midnight_leap_day(void **state)
{
    (void)state;
    test_now = 3 * SEC;                             /* 2024-03-01 00:00:01 */
    assert_int_equal(cmos(0x00), 0x01);
    assert_int_equal(cmos(0x04), 0x00);
    assert_int_equal(cmos(0x07), 0x01);
    assert_int_equal(cmos(0x08), 0x03);
    assert_int_equal(cmos(0x06), 0x06);             /* Friday */
}

static void test_binary_and_12h(void **state)
{
    (void)state;
    cmos_set(0x0b, 0x04);                           /* binary, 12-hour */
    assert_int_equal(cmos(0x00), 58);
    assert_int_equal(cmos(0x04), 0x80 | 11);        /* 11 PM */
    test_now = 2 * SEC;                             /* 00:00:00 = 12 AM */
    assert_int_equal(cmos(0x04), 12);
    cmos_set(0x0b, 0x00);                           /* BCD, 12-hour */
    assert_int_equal(cmos(0x04), 0x12);
    test_now = (2 + 13 * 3600) * SEC;               /* 13:00 = 1 PM */
    assert_int_equal(cmos(0x04), 0x81);
}

static void test_set_time_with_set_bit(void **state)
{
    (void)state;
    cmos_set(0x0b, 0x82);                           /* SET: updates stop */
    cmos_set(0x00, 0x30);
    cmos_set(0x02, 0x15);
    cmos_set(0x04, 0x10);
    cmos_set(0x07, 0x04);
    cmos_set(0x08, 0x07);
    cmos_set(0x09, 0x25);
    test_now = 5 * SEC;
    assert_int_equal(cmos(0x00), 0x30);             /* frozen while SET */
    cmos_set(0x0b, 0x02);
    test_now = 7 * SEC;
    assert_int_equal(cmos(0x00), 0x32);
    assert_int_equal(cmos(0x09), 0x25);
    assert_int_equal(cmos(0x06), 0x06);             /* 2025-07-04 was a Friday */
    assert_int_equal(vrtc_wall_time(&R), 1751624132LL);
}

static void test_uip_window(void **state)
{
    (void)state;
    test_now = SEC / 2;
    assert_int_equal(cmos(0x0a) & 0x80, 0);
    test_now = SEC - 100000;                        /* 100 us before the update */
    assert_int_equal(cmos(0x0a) & 0x80, 0x80);
    test_now = SEC - 300000;                        /* 300 us before: not yet */
    assert_int_equal(cmos(0x0a) & 0x80, 0);
    test_now = SEC + 1000000;                       /* 1 ms into the update cycle */
    assert_int_equal(cmos(0x0a) & 0x80, 0x80);
    test_now = SEC + 3000000;
    assert_int_equal(cmos(0x0a) & 0x80, 0);
    cmos_set(0x0a, 0xa6);                           /* UIP is read-only */
    assert_int_equal(cmos(0x0a), 0x26);
}

static void test_update_interrupt_and_c_read_clear(void **state)
{
    (void)state;
    cmos_set(0x0b, 0x12);                           /* UIE */
    assert_int_equal(vrtc_next_deadline(&R), SEC);
    test_now = SEC;
    vrtc_tick(&R);
    assert_true(test_irq.level[8]);
    uint8_t c = cmos(0x0c);
    assert_int_equal(c & 0x90, 0x90);               /* IRQF + UF */
    assert_false(test_irq.level[8]);
    assert_int_equal(cmos(0x0c), 0x00);             /* cleared by the read */
    assert_int_equal(vrtc_next_deadline(&R), 2 * SEC);
}

static void test_periodic_interrupt(void **state)
{
    (void)state;
    cmos_set(0x0a, 0x2f);                           /* RS = 15: 2 Hz */
    cmos_set(0x0b, 0x42);                           /* PIE */
    assert_int_equal(vrtc_next_deadline(&R), SEC / 2);
    test_now = SEC / 2;
    vrtc_tick(&R);
    assert_int_equal(test_irq.rises[8], 1);
    assert_int_equal(cmos(0x0c) & 0xc0, 0xc0);
    cmos_set(0x0a, 0x23);                           /* RS = 3: 8192 Hz, 122.07 us */
    assert_int_equal(vrtc_next_deadline(&R), 122070 * 4097ull);
}

static void test_flags_set_without_enable(void **state)
{
    (void)state;
    test_now = 2 * SEC;
    uint8_t c = cmos(0x0c);
    assert_int_equal(c & 0x10, 0x10);               /* UF set by the update ... */
    assert_int_equal(c & 0x80, 0);                  /* ... but no IRQF without UIE */
    assert_int_equal(test_irq.rises[8], 0);
}

static void test_alarm(void **state)
{
    (void)state;
    cmos_set(0x01, 0x05);                           /* alarm 00:00:05 */
    cmos_set(0x03, 0x00);
    cmos_set(0x05, 0x00);
    cmos_set(0x0b, 0x22);                           /* AIE */
    test_now = 3 * SEC;                             /* 00:00:01 */
    vrtc_tick(&R);
    assert_false(test_irq.level[8]);
    test_now = 7 * SEC;                             /* 00:00:05 */
    vrtc_tick(&R);
    assert_true(test_irq.level[8]);
    assert_int_equal(cmos(0x0c) & 0xa0, 0xa0);
    /* Don't-care bytes: every second matches. */
    cmos_set(0x01, 0xff);
    cmos_set(0x03, 0xff);
    cmos_set(0x05, 0xff);
    test_now = 8 * SEC;
    vrtc_tick(&R);
    assert_int_equal(cmos(0x0c) & 0xa0, 0xa0);
}

static void test_nmi_bit_and_nvram(void **state)
{
    (void)state;
    vrtc_write(&R, 0x70, 0x80 | 0x40);
    assert_true(vrtc_nmi_masked(&R));
    vrtc_write(&R, 0x71, 0x5a);                     /* index 0x40 with the NMI bit stripped */
    vrtc_write(&R, 0x70, 0x40);
    assert_false(vrtc_nmi_masked(&R));
    assert_int_equal(vrtc_read(&R, 0x71), 0x5a);
}

static void test_memory_size_bytes(void **state)
{
    (void)state;
    /* 1 GiB below 4 GiB (no hole reached), 2 GiB above, 4 CPUs. */
    vrtc_set_memory(&R, 1ull << 30, 2ull << 30, 4);
    assert_int_equal(cmos(0x15) | cmos(0x16) << 8, 640);
    assert_int_equal(cmos(0x17) | cmos(0x18) << 8, 0xffff);       /* capped */
    assert_int_equal(cmos(0x30) | cmos(0x31) << 8, 0xffff);
    assert_int_equal(cmos(0x34) | cmos(0x35) << 8, ((1u << 30) - (16u << 20)) >> 16);
    assert_int_equal(cmos(0x5b) | cmos(0x5c) << 8 | cmos(0x5d) << 16, (2u << 30) >> 16);
    assert_int_equal(cmos(0x5f), 3);
    vrtc_set_memory(&R, 32ull << 20, 0, 1);
    assert_int_equal(cmos(0x17) | cmos(0x18) << 8, 31u * 1024u);
    assert_int_equal(cmos(0x34) | cmos(0x35) << 8, 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_calendar_helpers, setup),
        cmocka_unit_test_setup(test_bcd_24h_default, setup),
        cmocka_unit_test_setup(test_time_advances_across_midnight_leap_day, setup),
        cmocka_unit_test_setup(test_binary_and_12h, setup),
        cmocka_unit_test_setup(test_set_time_with_set_bit, setup),
        cmocka_unit_test_setup(test_uip_window, setup),
        cmocka_unit_test_setup(test_update_interrupt_and_c_read_clear, setup),
        cmocka_unit_test_setup(test_periodic_interrupt, setup),
        cmocka_unit_test_setup(test_flags_set_without_enable, setup),
        cmocka_unit_test_setup(test_alarm, setup),
        cmocka_unit_test_setup(test_nmi_bit_and_nvram, setup),
        cmocka_unit_test_setup(test_memory_size_bytes, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
