/* SPDX-License-Identifier: MIT */
/* schedtest: root task checking budgets are exact: budget == period owns the CPU, a partial budget leaves the rest. */
#include "hvu.h"

/*
 * The regression test of the bochs.fuzz hang: the fuzz root spun at priority 128 on the
 * core's full budget (10 ms per 10 ms) while the hostile had lowered its own priority
 * to 10. The hostile then ran only in the ticks the core wrongly took from the root —
 * every period, or almost never, depending on the TSC calibration's noise. Here the
 * same trigger, deterministic: a full budget must never leave a tick to a lower
 * priority, and a partial budget must leave the rest of each period.
 */
#define LOW_PRIORITY 10u
#define LOW_BUDGET_US 3000u
#define PERIOD_US 10000u
#define SPIN_MS 500u
#define US_PER_MS 1000u
#define US_PER_S 1000000u
#define TICK_US 1000ull       /* the core charges at its 1 kHz tick */

static volatile uint64_t low_loops;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static void low_thread(uint64_t arg)
{
    (void)arg;
    for (;;)
        low_loops++;
}

static uint64_t consumed_us(uint64_t sc)
{
    struct hv_msg out;
    return hvu_invoke(sc, HV_INV_SC_CONSUMED, 0, NULL, &out) == HV_OK ? out.w[0] : 0;
}

static uint64_t configure(uint64_t sc, uint64_t budget_us, uint64_t period_us)
{
    uint64_t cfg[3] = { budget_us, period_us, 0 };
    return hvu_invoke(sc, HV_INV_SC_CONFIGURE, 3, cfg, NULL);
}

/* Spins `ms` by the TSC; returns the elapsed microseconds. */
static uint64_t spin(uint64_t tsc_hz, uint64_t ms)
{
    uint64_t t0 = rdtsc(), ticks = tsc_hz / US_PER_MS * ms, t;
    while ((t = rdtsc()) - t0 < ticks)
        ;
    return (t - t0) * US_PER_MS / (tsc_hz / US_PER_MS);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    uint64_t hz = bi->tsc_hz;
    hvu_printf("sched: TSC %lu kHz; the root task runs at budget == period (%u us)\n", hz / 1000u, PERIOD_US);

    struct hvu_thread low;
    uint64_t err = hvu_thread_start(&low, low_thread, 0, LOW_PRIORITY, 0, LOW_BUDGET_US, PERIOD_US);
    hvu_check(err == HV_OK, "sched.low_thread_started", "error %lu", err);

    /* 1. Full budget: not one loop of the lower priority, and what the core counts as
     * consumed is the time that passed (exact µs <-> TSC conversion). */
    uint64_t loops0 = low_loops, used0 = consumed_us(HV_ROOT_SCHED_CONTEXT);
    uint64_t elapsed = spin(hz, SPIN_MS);
    uint64_t loops1 = low_loops, used1 = consumed_us(HV_ROOT_SCHED_CONTEXT);
    hvu_check(loops1 == loops0, "sched.full_budget_owns_the_cpu",
              "a priority-%u thread ran %lu loops while the root spun %lu us on budget == period", LOW_PRIORITY,
              loops1 - loops0, elapsed);
    uint64_t used = used1 - used0, slack = 2u * TICK_US + elapsed / 1000u;
    hvu_check(used + slack >= elapsed && used <= elapsed + slack, "sched.consumed_is_elapsed",
              "the core counted %lu us of %lu us spun (+- %lu)", used, elapsed, slack);

    /* 2. Half the budget: the lower priority gets its own budget of every period. */
    err = configure(HV_ROOT_SCHED_CONTEXT, PERIOD_US / 2u, PERIOD_US);
    uint64_t low_used0 = consumed_us(low.sc);
    loops0 = low_loops;
    elapsed = spin(hz, SPIN_MS);
    loops1 = low_loops;
    uint64_t low_used = consumed_us(low.sc) - low_used0;
    err |= configure(HV_ROOT_SCHED_CONTEXT, PERIOD_US, PERIOD_US);
    uint64_t want = elapsed / PERIOD_US * LOW_BUDGET_US;
    hvu_check(err == HV_OK && loops1 > loops0 && low_used + want / 4u >= want && low_used <= want + want / 4u,
              "sched.partial_budget_leaves_the_rest",
              "error %lu; the priority-%u thread ran %lu loops, %lu us of %lu us (want %lu)", err, LOW_PRIORITY,
              loops1 - loops0, low_used, elapsed, want);

    /* 3. Full budget again (reconfigured while running): the lower priority stops. */
    (void)spin(hz, 20u);     /* let the new period begin */
    loops0 = low_loops;
    elapsed = spin(hz, SPIN_MS);
    loops1 = low_loops;
    hvu_check(loops1 == loops0, "sched.full_budget_again", "%lu loops of the priority-%u thread in %lu us",
              loops1 - loops0, LOW_PRIORITY, elapsed);
    (void)hvu_invoke(low.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    hvu_finish();
}
