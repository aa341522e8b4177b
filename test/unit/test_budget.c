/* SPDX-License-Identifier: MIT */
/* test_budget: a SchedContext's time arithmetic (kernel/budget.h) driven by a simulated timer tick. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/budget.h"

/* The TSC rates and timer ticks Bochs gave in real boots: the calibration varies by a few
 * kHz from boot to boot (99 990 .. 100 010 kHz, LAPIC 6249 or 6250 kHz), and the tick in
 * TSC ticks with it. */
static const uint64_t rates_hz[] = { 99990000u, 99992000u, 99999999u, 100000000u, 100008000u, 2994372000u };
static const uint64_t tick_fraction_ppm[] = { 999840u, 999999u, 1000000u, 1000001u, 1000160u };

static void conversion_is_exact(void **state)
{
    (void)state;
    /* 99.992 MHz: 10 ms is 999 920 TSC ticks, not 10 000 * 99. */
    assert_int_equal(budget_us_to_ticks(10000, 99992000u), 999920u);
    assert_int_equal(budget_us_to_ticks(10000, 100000000u), 1000000u);
    assert_int_equal(budget_us_to_ticks(1, 2994372000u), 2994u);
    assert_int_equal(budget_us_to_ticks(3000, 2994372000u), 8983116u);
    /* The largest period the core accepts (60 s) at a 5 GHz TSC does not overflow. */
    assert_int_equal(budget_us_to_ticks(60000000u, 5000000000u), 300000000000u);
    assert_int_equal(budget_ticks_to_us(999920u, 99992000u), 10000u);
    assert_int_equal(budget_ticks_to_us(300000000000u, 5000000000u), 60000000u);
    assert_int_equal(budget_ticks_to_us(12345, 0), 0);
    for (unsigned i = 0; i < sizeof(rates_hz) / sizeof(rates_hz[0]); i++)
        for (uint64_t us = 1; us < 100000000u; us = us * 7 + 3)
            assert_true(budget_ticks_to_us(budget_us_to_ticks(us, rates_hz[i]), rates_hz[i]) + 1 >= us);
}

/*
 * One CPU, one thread that never blocks, the core's order of events at every timer
 * tick (kernel/sched.c): charge the running thread (sched_account), throttle it if its
 * budget is gone, refill due SCs (refill_due). Returns the ticks it was kept off the CPU.
 */
static uint64_t simulate(uint64_t budget_us, uint64_t period_us, uint64_t hz, uint64_t tick, uint64_t phase,
                         unsigned ticks, uint64_t *ran)
{
    struct sched_context sc = { 0 };
    sc.budget_ticks = budget_us_to_ticks(budget_us, hz);
    sc.period_ticks = budget_us_to_ticks(period_us, hz);
    sc.remaining = sc.budget_ticks;
    sc.period_start = 1000000000u;      /* sched_context_set: now */
    uint64_t now = sc.period_start, last_switch = now, lost = 0;
    bool throttled = false;
    *ran = 0;
    for (unsigned i = 0; i < ticks; i++) {
        now = (i == 0 ? now + phase : now + tick);
        if (!throttled) {
            budget_charge(&sc, now - last_switch, now, false);
            *ran += now - last_switch;
            if (sc.remaining == 0)
                throttled = true;
        } else {
            lost++;
        }
        last_switch = now;
        if (throttled && budget_start_period_if_due(&sc, now) && sc.remaining != 0)
            throttled = false;
    }
    return lost;
}

/* The trigger of the bochs.fuzz hang: a thread with budget == period must own the CPU. */
static void full_budget_is_never_throttled(void **state)
{
    (void)state;
    for (unsigned r = 0; r < sizeof(rates_hz) / sizeof(rates_hz[0]); r++) {
        for (unsigned t = 0; t < sizeof(tick_fraction_ppm) / sizeof(tick_fraction_ppm[0]); t++) {
            uint64_t tick = (uint64_t)((unsigned __int128)rates_hz[r] / 1000u * tick_fraction_ppm[t] / 1000000u);
            for (uint64_t phase = 1; phase < tick; phase += tick / 7) {
                uint64_t ran;
                uint64_t lost = simulate(10000, 10000, rates_hz[r], tick, phase, 20000, &ran);
                if (lost != 0)
                    fail_msg("rate %lu Hz, tick %lu, phase %lu: a full-budget thread lost %lu ticks",
                             (unsigned long)rates_hz[r], (unsigned long)tick, (unsigned long)phase,
                             (unsigned long)lost);
            }
        }
    }
}

/* Late ticks (an emulator descheduled by its host, an SMI): a full budget still never pays. */
static void full_budget_survives_late_ticks(void **state)
{
    (void)state;
    struct sched_context sc = { 0 };
    sc.budget_ticks = sc.period_ticks = budget_us_to_ticks(10000, 99992000u);
    sc.remaining = sc.budget_ticks;
    sc.period_start = 5000000;
    uint64_t now = sc.period_start;
    uint64_t gaps[] = { 99984, 99984, 2500000, 99984, 999920, 1, 3 * 999920 + 7, 99984, 12345678, 99984 };
    for (unsigned round = 0; round < 100; round++) {
        for (unsigned i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
            now += gaps[i] + round;
            budget_charge(&sc, gaps[i] + round, now, false);
            assert_true(sc.remaining > 0);
            assert_int_equal(sc.debt, 0);
            assert_true(now - sc.period_start < sc.period_ticks);
        }
    }
    /* A thread switched in long after its period_start (it was blocked): only what it ran counts. */
    sc.budget_ticks = 300;
    sc.period_ticks = 1000;
    sc.period_start = 0;
    sc.remaining = 300;
    sc.debt = 0;
    budget_charge(&sc, 250, 50200, false);     /* [49950, 50200): 50 in [49000, 50000), 200 now */
    assert_int_equal(sc.period_start, 50000);
    assert_int_equal(sc.debt, 0);
    assert_int_equal(sc.remaining, 100);
}

/* A partial budget still gets its share over time, within one tick of the exact amount. */
static void partial_budget_gets_its_share(void **state)
{
    (void)state;
    for (unsigned r = 0; r < sizeof(rates_hz) / sizeof(rates_hz[0]); r++) {
        for (unsigned t = 0; t < sizeof(tick_fraction_ppm) / sizeof(tick_fraction_ppm[0]); t++) {
            uint64_t tick = (uint64_t)((unsigned __int128)rates_hz[r] / 1000u * tick_fraction_ppm[t] / 1000000u);
            uint64_t ran;
            uint64_t lost = simulate(3000, 10000, rates_hz[r], tick, tick / 3, 10000, &ran);
            uint64_t total = 10000u * tick;
            /* 30% of the time, to within two ticks per 100 periods (the tick quantises it). */
            uint64_t want = total / 10u * 3u;
            uint64_t slack = 2u * tick * (10000u / 1000u);
            assert_true(lost > 0);
            if (ran + slack < want || ran > want + slack)
                fail_msg("rate %lu Hz, tick %lu: ran %lu of %lu ticks, want %lu +- %lu", (unsigned long)rates_hz[r],
                         (unsigned long)tick, (unsigned long)ran, (unsigned long)total, (unsigned long)want,
                         (unsigned long)slack);
        }
    }
}

/* The boundary split: time before the boundary goes to the old period, the rest to the new. */
static void charge_splits_at_the_boundary(void **state)
{
    (void)state;
    struct sched_context sc = { 0 };
    sc.budget_ticks = 600;
    sc.period_ticks = 1000;
    sc.period_start = 5000;
    sc.remaining = 100;     /* 100 left in [5000, 6000) */
    /* Ran [5950, 6250): 50 in the old period (fits), 250 in the new one. */
    budget_charge(&sc, 300, 6250, false);
    assert_int_equal(sc.period_start, 6000);
    assert_int_equal(sc.debt, 0);
    assert_int_equal(sc.remaining, 600 - 250);
    assert_int_equal(sc.consumed, 300);
    /* Ran [6850, 7100) with 350 left: 150 of the old period fit, the new one gets 100 taken. */
    budget_charge(&sc, 250, 7100, false);
    assert_int_equal(sc.period_start, 7000);
    assert_int_equal(sc.remaining, 500);
    /* An overrun of the old period is debt, repaid from the refill. */
    sc.remaining = 10;
    budget_charge(&sc, 200, 8050, false);   /* [7850, 8050): 150 old (10 fit, 140 debt), 50 new */
    assert_int_equal(sc.period_start, 8000);
    assert_int_equal(sc.debt, 0);
    assert_int_equal(sc.remaining, 600 - 140 - 50);
    /* A tick late by more than a period: [8900, 11300) spans the rest of [8000, 9000) (100,
     * fits in 350), two whole periods (1000 each: 400 over a 600 budget in each, 800 debt)
     * and 300 of [11000, 12000). */
    sc.remaining = 350;
    sc.period_start = 8000;
    budget_charge(&sc, 2400, 11300, false);
    assert_int_equal(sc.period_start, 11000);
    /* the refill repaid 600 of the 800 and the new period's 300 found nothing left */
    assert_int_equal(sc.debt, 800 - 600 + 300);
    assert_int_equal(sc.remaining, 0);
    sc.debt = 0;
    /* A throttled SC is refilled by the refill list, not here: all of it is taken now. */
    sc.remaining = 30;
    budget_charge(&sc, 100, 11400, true);
    assert_int_equal(sc.period_start, 11000);
    assert_int_equal(sc.remaining, 0);
    assert_int_equal(sc.debt, 70);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conversion_is_exact),
        cmocka_unit_test(full_budget_is_never_throttled),
        cmocka_unit_test(full_budget_survives_late_ticks),
        cmocka_unit_test(partial_budget_gets_its_share),
        cmocka_unit_test(charge_splits_at_the_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
