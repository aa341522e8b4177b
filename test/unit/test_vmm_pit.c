/* SPDX-License-Identifier: MIT */
/* test_vmm_pit.c: the 8254 PIT (servers/vmm/devices/pit.c) against the Intel 8254 datasheet, including Linux's TSC calibration sequence. */
#include "vmm_test.h"

#include "pit.h"

static struct vpit T;

/* VM time of CLK pulse n (the first pulse after a write at time 0 is pulse 1). */
static uint64_t pulse_ns(uint64_t n)
{
    return (n * 1000000000ull + 1193181ull) / 1193182ull;
}

static int setup(void **state)
{
    (void)state;
    test_reset_common();
    vpit_init(&T, &test_clock, test_irq_line(0));
    return 0;
}

static uint16_t read_word(unsigned ch)
{
    uint8_t lo = vpit_read(&T, (uint16_t)(0x40 + ch));
    uint8_t hi = vpit_read(&T, (uint16_t)(0x40 + ch));
    return (uint16_t)(lo | hi << 8);
}

static void program(unsigned ch, unsigned mode, uint16_t count)
{
    vpit_write(&T, 0x43, (uint8_t)((ch << 6) | 0x30 | (mode << 1)));   /* lobyte/hibyte, binary */
    vpit_write(&T, (uint16_t)(0x40 + ch), (uint8_t)count);
    vpit_write(&T, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
}

static void test_mode0_counts_down_and_out_rises_after_n_plus_1(void **state)
{
    (void)state;
    vpit_write(&T, 0x43, 0x30);                     /* ch0, mode 0 */
    assert_false(vpit_out(&T, 0));                  /* OUT low after the control word */
    vpit_write(&T, 0x40, 100);
    vpit_write(&T, 0x40, 0);
    test_now = pulse_ns(1);                         /* the loading pulse: no decrement */
    assert_int_equal(vpit_counter(&T, 0), 100);
    test_now = pulse_ns(41);
    assert_int_equal(vpit_counter(&T, 0), 60);
    test_now = pulse_ns(100);
    assert_false(vpit_out(&T, 0));
    test_now = pulse_ns(101);                       /* N + 1 pulses after the write */
    assert_true(vpit_out(&T, 0));
    assert_int_equal(vpit_counter(&T, 0), 0);
    test_now = pulse_ns(103);                       /* keeps counting, wraps */
    assert_int_equal(vpit_counter(&T, 0), 0xfffe);
    assert_true(vpit_out(&T, 0));
}

static void test_mode0_irq_once(void **state)
{
    (void)state;
    program(0, 0, 1000);
    uint64_t d = vpit_next_deadline(&T);
    assert_int_equal(d, pulse_ns(1001));
    test_now = d - 1;
    vpit_tick(&T);
    assert_int_equal(test_irq.rises[0], 0);
    test_now = d;
    vpit_tick(&T);
    assert_int_equal(test_irq.rises[0], 1);
    assert_false(test_irq.level[0]);                /* pulsed: the PIC latched the edge */
    assert_int_equal(vpit_next_deadline(&T), VDEV_NO_DEADLINE);
}

static void test_mode2_rate_generator(void **state)
{
    (void)state;
    program(0, 2, 11932);                           /* ~100 Hz, as Linux's PIT tick */
    test_now = pulse_ns(1);
    assert_int_equal(vpit_counter(&T, 0), 11932);
    test_now = pulse_ns(11931);
    assert_int_equal(vpit_counter(&T, 0), 2);
    assert_true(vpit_out(&T, 0));
    test_now = pulse_ns(11932);                     /* count 1: OUT low for one clock */
    assert_int_equal(vpit_counter(&T, 0), 1);
    assert_false(vpit_out(&T, 0));
    test_now = pulse_ns(11933);                     /* reload */
    assert_int_equal(vpit_counter(&T, 0), 11932);
    assert_true(vpit_out(&T, 0));
    /* IRQ0 at every period. */
    test_now = 0;
    unsigned irqs = 0;
    for (int i = 0; i < 5; i++) {
        test_now = vpit_next_deadline(&T);
        vpit_tick(&T);
        irqs++;
    }
    assert_int_equal(test_irq.rises[0], irqs);
    assert_int_equal(test_now, pulse_ns(5 * 11932u + 1u));
}

static void test_mode3_square_wave(void **state)
{
    (void)state;
    program(0, 3, 1000);
    test_now = pulse_ns(1 + 250);
    assert_true(vpit_out(&T, 0));                   /* first half high */
    assert_int_equal(vpit_counter(&T, 0), 500);     /* decrements by two */
    test_now = pulse_ns(1 + 600);
    assert_false(vpit_out(&T, 0));                  /* second half low */
    test_now = pulse_ns(1 + 1000);
    assert_true(vpit_out(&T, 0));
    assert_int_equal(vpit_next_deadline(&T), pulse_ns(1 + 1000));   /* OUT rose: IRQ0 edge */
    vpit_tick(&T);
    assert_int_equal(test_irq.rises[0], 1);
    assert_int_equal(vpit_next_deadline(&T), pulse_ns(1 + 2000));
}

static void test_mode4_strobe(void **state)
{
    (void)state;
    program(1, 4, 10);
    test_now = pulse_ns(10);
    assert_true(vpit_out(&T, 1));
    test_now = pulse_ns(11);                        /* terminal count: one clock low */
    assert_false(vpit_out(&T, 1));
    test_now = pulse_ns(12);
    assert_true(vpit_out(&T, 1));
}

static void test_latch_command_freezes_value(void **state)
{
    (void)state;
    program(0, 2, 0);                               /* 0 = 65536 */
    test_now = pulse_ns(1001);
    vpit_write(&T, 0x43, 0x00);                     /* counter latch, ch0 */
    test_now = pulse_ns(5001);
    assert_int_equal(read_word(0), (uint16_t)(65536 - 1000));
    assert_int_equal(read_word(0), (uint16_t)(65536 - 5000));   /* latch released */
}

static void test_lsb_msb_only_access(void **state)
{
    (void)state;
    vpit_write(&T, 0x43, 0x50 | (2 << 1));          /* ch1, LSB only, mode 2 */
    vpit_write(&T, 0x41, 200);
    test_now = pulse_ns(51);
    assert_int_equal(vpit_read(&T, 0x41), 150);
    assert_int_equal(vpit_read(&T, 0x41), 150);     /* no flip-flop: always LSB */
    vpit_write(&T, 0x43, 0x60 | (2 << 1));          /* ch1, MSB only */
    vpit_write(&T, 0x41, 0x12);                     /* count 0x1200 */
    test_now += pulse_ns(1);
    assert_int_equal(vpit_read(&T, 0x41), 0x12);
}

static void test_readback_status_then_count(void **state)
{
    (void)state;
    program(2, 0, 500);
    vpit_write(&T, 0x61, 0x01);                     /* gate 2 high */
    /* Read-back before the count is loaded shows NULL COUNT. */
    vpit_write(&T, 0x43, 0xb0);                     /* ch2, mode 0 */
    vpit_write(&T, 0x43, 0xe8);                     /* read-back: status only, ch2 */
    uint8_t st = vpit_read(&T, 0x42);
    assert_int_equal(st & 0x40, 0x40);              /* NULL COUNT */
    assert_int_equal(st & 0x3f, 0x30);              /* RW=3, mode 0, binary */
    vpit_write(&T, 0x42, 0xf4);
    vpit_write(&T, 0x42, 0x01);                     /* 500 */
    test_now = pulse_ns(101);
    vpit_write(&T, 0x43, 0xc8);                     /* read-back: count and status, ch2 */
    st = vpit_read(&T, 0x42);
    assert_int_equal(st & 0xc0, 0x00);              /* OUT low, count loaded */
    test_now = pulse_ns(301);
    assert_int_equal(read_word(2), 400);            /* latched at pulse 101 */
}

static void test_bcd(void **state)
{
    (void)state;
    vpit_write(&T, 0x43, 0x75);                     /* ch1, word, mode 2, BCD */
    vpit_write(&T, 0x41, 0x00);
    vpit_write(&T, 0x41, 0x10);                     /* 1000 decimal */
    test_now = pulse_ns(1 + 1);
    assert_int_equal(read_word(1), 0x0999);
}

/* Linux's pit_calibrate_tsc(): gate high, ch2 mode 0, count, poll port 0x61 bit 5 (OUT2). */
static void test_linux_calibration_sequence(void **state)
{
    (void)state;
    uint8_t b = vpit_read(&T, 0x61);
    vpit_write(&T, 0x61, (uint8_t)((b & ~0x02) | 0x01));
    vpit_write(&T, 0x43, 0xb0);
    uint16_t latch = (uint16_t)(1193182 / 20);      /* 50 ms */
    vpit_write(&T, 0x42, (uint8_t)latch);
    vpit_write(&T, 0x42, (uint8_t)(latch >> 8));
    uint64_t t = 0;
    while (!(vpit_read(&T, 0x61) & 0x20)) {
        t += 10000;                                 /* the guest spins 10 us per poll */
        test_now = t;
        assert_true(t < 100000000ull);
    }
    assert_true(t >= 50000000ull && t <= 50000000ull + 10000 + 1000);
}

static void test_gate2_low_holds_count(void **state)
{
    (void)state;
    vpit_write(&T, 0x61, 0x01);
    program(2, 0, 1000);
    test_now = pulse_ns(101);
    vpit_write(&T, 0x61, 0x00);                     /* gate low: counting suspended */
    test_now = pulse_ns(601);
    assert_int_equal(vpit_counter(&T, 2), 900);
    assert_false(vpit_read(&T, 0x61) & 0x20);
    vpit_write(&T, 0x61, 0x01);
    test_now = pulse_ns(601) + pulse_ns(100);
    assert_int_equal(vpit_counter(&T, 2), 800);
}

static void test_mode1_gate_trigger(void **state)
{
    (void)state;
    program(2, 1, 100);
    test_now = pulse_ns(500);
    assert_true(vpit_out(&T, 2));                   /* waits for a trigger, OUT high */
    vpit_write(&T, 0x61, 0x01);                     /* rising gate: one-shot starts */
    uint64_t t0 = test_now;
    test_now = t0 + pulse_ns(50);
    assert_false(vpit_out(&T, 2));
    test_now = t0 + pulse_ns(101);
    assert_true(vpit_out(&T, 2));
}

static void test_port61_refresh_toggles(void **state)
{
    (void)state;
    test_now = 0;
    uint8_t a = vpit_read(&T, 0x61) & 0x10;
    test_now = 15085;
    uint8_t b = vpit_read(&T, 0x61) & 0x10;
    assert_int_not_equal(a, b);
    vpit_write(&T, 0x61, 0xff);
    assert_int_equal(vpit_read(&T, 0x61) & 0x0f, 0x0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_mode0_counts_down_and_out_rises_after_n_plus_1, setup),
        cmocka_unit_test_setup(test_mode0_irq_once, setup),
        cmocka_unit_test_setup(test_mode2_rate_generator, setup),
        cmocka_unit_test_setup(test_mode3_square_wave, setup),
        cmocka_unit_test_setup(test_mode4_strobe, setup),
        cmocka_unit_test_setup(test_latch_command_freezes_value, setup),
        cmocka_unit_test_setup(test_lsb_msb_only_access, setup),
        cmocka_unit_test_setup(test_readback_status_then_count, setup),
        cmocka_unit_test_setup(test_bcd, setup),
        cmocka_unit_test_setup(test_linux_calibration_sequence, setup),
        cmocka_unit_test_setup(test_gate2_low_holds_count, setup),
        cmocka_unit_test_setup(test_mode1_gate_trigger, setup),
        cmocka_unit_test_setup(test_port61_refresh_toggles, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
