/* SPDX-License-Identifier: MIT */
/* budget: a SchedContext's time arithmetic: exact µs <-> TSC conversion and charging run time to periods. */
#ifndef HV_KERNEL_BUDGET_H
#define HV_KERNEL_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "../object/sched_context.h"

#define BUDGET_US_PER_S 1000000u

/*
 * Exact conversions (128-bit intermediate): a budget of `us` is us * tsc_hz / 10^6 TSC
 * ticks, not us * floor(tsc_hz / 10^6) — truncating the rate to whole MHz made every
 * budget and period up to 1% short on a 100 MHz TSC (Bochs), and whether it was short
 * depended on the calibration's noise (99 992 kHz -> 99 ticks/µs, 100 000 kHz -> 100).
 */
static inline uint64_t budget_us_to_ticks(uint64_t us, uint64_t tsc_hz)
{
    return (uint64_t)((unsigned __int128)us * tsc_hz / BUDGET_US_PER_S);
}

static inline uint64_t budget_ticks_to_us(uint64_t ticks, uint64_t tsc_hz)
{
    return tsc_hz != 0 ? (uint64_t)((unsigned __int128)ticks * BUDGET_US_PER_S / tsc_hz) : 0;
}

/*
 * If the SC's next period has begun (periods form a fixed grid from its
 * configuration), moves to it and refills, paying back overrun debt first.
 * Returns false if it is not time yet.
 */
static inline bool budget_start_period_if_due(struct sched_context *sc, uint64_t now)
{
    if (now - sc->period_start < sc->period_ticks)
        return false;
    sc->period_start += (now - sc->period_start) / sc->period_ticks * sc->period_ticks;
    uint64_t repay = sc->debt < sc->budget_ticks ? sc->debt : sc->budget_ticks;
    sc->debt -= repay;
    sc->remaining = sc->budget_ticks - repay;
    return true;
}

/* Takes `ticks` from this period's budget; what exceeds it is debt for the next refills. */
static inline void budget_take(struct sched_context *sc, uint64_t ticks)
{
    if (ticks > sc->remaining) {
        sc->debt += ticks - sc->remaining;
        sc->remaining = 0;
    } else {
        sc->remaining -= ticks;
    }
}

/*
 * Charges the run time [now - used, now) of a running thread to its SC, each part to the
 * period it lies in: the part before the SC's period ends to that period's budget;
 * periods the thread ran through whole (a late timer tick) each to a budget of their
 * own, so only what exceeds it there is debt; and only the rest, after the boundary,
 * to the refilled current period. (Charging all of it after the refill took up to one
 * timer tick of the new period for time spent in the old one: a thread whose budget
 * equals its period — entitled to the whole CPU — was then throttled for a tick in some
 * periods, and how often depended on the ratio of the timer tick to the calibrated TSC
 * rate, i.e. on boot-time noise; a tick late by more than a period cost it whole
 * periods.) Invariant: a thread is never charged more within one period than the time
 * that elapsed in it, so budget == period is never throttled. `throttled`: the SC waits
 * on the refill list, which refills it; everything is taken from what it has.
 */
static inline void budget_charge(struct sched_context *sc, uint64_t used, uint64_t now, bool throttled)
{
    sc->consumed += used;
    if (!throttled && now - sc->period_start >= sc->period_ticks) {
        uint64_t from = now - used;
        uint64_t old_end = sc->period_start + sc->period_ticks;
        uint64_t boundary = sc->period_start + (now - sc->period_start) / sc->period_ticks * sc->period_ticks;
        budget_take(sc, from < old_end ? old_end - from : 0);   /* old_end <= now: within `used` */
        uint64_t start = from > old_end ? from : old_end;
        uint64_t between = boundary > start ? boundary - start : 0;
        uint64_t periods = (between + sc->period_ticks - 1) / sc->period_ticks;
        if (between > periods * sc->budget_ticks)
            sc->debt += between - periods * sc->budget_ticks;
        used = from > boundary ? used : now - boundary;
        budget_start_period_if_due(sc, now);
    }
    budget_take(sc, used);
}

#endif
