/* SPDX-License-Identifier: MIT */
/* test_vmm_kbc.c: the i8042 (servers/vmm/devices/kbc.c): Linux's i8042/atkbd probe sequence, IRQ 1/12 and the reboot pulse. */
#include "vmm_test.h"

#include "kbc.h"

static struct vkbc K;

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    vkbc_init(&K, test_irq_line(1), test_irq_line(12), test_event_sink);
    return 0;
}

static uint8_t status(void) { return vkbc_read(&K, 0x64); }
static uint8_t data(void) { return vkbc_read(&K, 0x60); }
static void cmd(uint8_t c) { vkbc_write(&K, 0x64, c); }
static void put(uint8_t d) { vkbc_write(&K, 0x60, d); }

static void test_flush_and_selftest(void **state)
{
    (void)state;
    assert_int_equal(status() & 0x03, 0x00);        /* nothing to flush, input buffer empty */
    cmd(0xaa);
    assert_true(status() & 0x01);
    assert_int_equal(data(), 0x55);
    assert_false(status() & 0x01);
    assert_true(status() & 0x04);                   /* system flag */
}

static void test_ctr_read_write(void **state)
{
    (void)state;
    cmd(0x20);
    uint8_t ctr = data();
    assert_true(ctr & 0x01);                        /* keyboard interrupt enabled */
    cmd(0x60);
    assert_true(status() & 0x08);                   /* last write was a command */
    put((uint8_t)(ctr & ~0x03));
    assert_false(status() & 0x08);
    cmd(0x20);
    assert_int_equal(data(), ctr & ~0x03);
}

static void test_aux_loopback_and_enable_bits(void **state)
{
    (void)state;
    cmd(0xd3);
    put(0x5a);
    assert_int_equal(status() & 0x21, 0x21);        /* output full, from AUX */
    assert_true(test_irq.level[12]);
    assert_int_equal(data(), 0x5a);
    assert_false(test_irq.level[12]);
    cmd(0xa7);                                      /* AUX disable sets CTR bit 5 */
    cmd(0x20);
    assert_true(data() & 0x20);
    cmd(0xa8);
    cmd(0x20);
    assert_false(data() & 0x20);
    cmd(0xa9);
    assert_int_equal(data(), 0x00);                 /* AUX interface test OK */
}

static void test_keyboard_identify_and_reset(void **state)
{
    (void)state;
    put(0xf2);                                      /* atkbd: GETID */
    assert_true(test_irq.level[1]);
    assert_int_equal(data(), 0xfa);
    assert_int_equal(data(), 0xab);
    assert_int_equal(data(), 0x83);
    assert_false(test_irq.level[1]);
    put(0xff);
    assert_int_equal(data(), 0xfa);
    assert_int_equal(data(), 0xaa);                 /* BAT passed */
    put(0xed);                                      /* LEDs: ACK, parameter, ACK */
    assert_int_equal(data(), 0xfa);
    put(0x07);
    assert_int_equal(data(), 0xfa);
    put(0xf0);                                      /* get scan code set */
    assert_int_equal(data(), 0xfa);
    put(0x00);
    assert_int_equal(data(), 0xfa);
    assert_int_equal(data(), 0x02);
    put(0x12);                                      /* unknown: resend */
    assert_int_equal(data(), 0xfe);
}

static void test_irq1_gated_by_ctr(void **state)
{
    (void)state;
    cmd(0x60);
    put(0x44);                                      /* interrupts off */
    put(0xee);
    assert_false(test_irq.level[1]);
    assert_int_equal(data(), 0xee);
}

static void test_reset_pulse(void **state)
{
    (void)state;
    /* Linux's reboot: for each try, kb_wait() (IBF clear) then 0xfe to port 0x64. */
    assert_false(status() & 0x02);
    cmd(0xfe);
    assert_int_equal(test_events, VDEV_EVENT_RESET_KBC);
    test_events = 0;
    cmd(0xff);                                      /* pulse nothing */
    assert_int_equal(test_events, 0);
    cmd(0xd1);                                      /* output port with bit 0 low */
    put(0x00);
    assert_int_equal(test_events, VDEV_EVENT_RESET_KBC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flush_and_selftest, setup),
        cmocka_unit_test_setup(test_ctr_read_write, setup),
        cmocka_unit_test_setup(test_aux_loopback_and_enable_bits, setup),
        cmocka_unit_test_setup(test_keyboard_identify_and_reset, setup),
        cmocka_unit_test_setup(test_irq1_gated_by_ctr, setup),
        cmocka_unit_test_setup(test_reset_pulse, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
