/* SPDX-License-Identifier: MIT */
/* suite smp: every CPU is online, runs code on request as itself, takes timer ticks, and the spinlock excludes. */
#include "../arch/x86_64/cpu.h"
#include "../arch/x86_64/extable.h"
#include "../arch/x86_64/lapic.h"
#include "../arch/x86_64/percpu.h"
#include "../arch/x86_64/pit.h"
#include "../arch/x86_64/smp.h"
#include "../kernel/config.h"
#include "../kernel/console.h"
#include "../kernel/spinlock.h"
#include "ktest.h"

#define TICK_WINDOW_MS 200u
#define US_PER_MS 1000u
#define MS_PER_S 1000u
/* Enough rounds that a lock which let two CPUs in would lose updates. */
#define COUNTER_ROUNDS 20000u
#define READY_TIMEOUT_MS 1000u

/* What a CPU says about itself when asked to run report_identity(). */
struct cpu_report {
    bool ran;
    unsigned index;             /* this_cpu()->index */
    uint32_t percpu_apic_id;    /* this_cpu()->apic_id */
    uint32_t lapic_id;          /* read from its own local APIC */
    uint64_t gs_base;
    const struct percpu *self;
};

static void report_identity(void *arg)
{
    struct cpu_report *r = arg;
    r->index = this_cpu()->index;
    r->percpu_apic_id = this_cpu()->apic_id;
    r->lapic_id = lapic_id();
    r->gs_base = rdmsr(MSR_GS_BASE);
    r->self = this_cpu();
    r->ran = true;
}

static void do_nothing(void *arg)
{
    (void)arg;
}

static struct spinlock counter_lock = SPINLOCK_INIT;
static volatile uint64_t shared_counter;
static volatile uint32_t counting_ready[CONFIG_MAX_CPUS];
static volatile uint32_t counting_go;
static volatile uint32_t contended_rounds[CONFIG_MAX_CPUS];

/*
 * Increments with a separate load and store, so without mutual exclusion two
 * CPUs would overwrite each other's updates. The CPUs start together on the go
 * flag once all are ready: an IPI takes long enough to arrive that a CPU
 * starting alone could finish before the next one begins, proving nothing.
 */
static void count_under_lock(void *arg)
{
    (void)arg;
    unsigned self = this_cpu_index();
    atomic_store_release_u32(&counting_ready[self], 1);
    while (atomic_load_acquire_u32(&counting_go) == 0)
        cpu_relax();
    for (unsigned i = 0; i < COUNTER_ROUNDS; i++) {
        if (!spin_trylock(&counter_lock)) {
            contended_rounds[self]++;
            spin_lock(&counter_lock);
        }
        uint64_t v = shared_counter;
        shared_counter = v + 1;
        spin_unlock(&counter_lock);
    }
}

static void check_identities(void)
{
    struct cpu_report reports[CONFIG_MAX_CPUS] = { 0 };
    bool all_ran = true;
    bool all_match = true;
    unsigned mismatch_cpu = 0;
    for (unsigned cpu = 0; cpu < smp_cpu_count(); cpu++) {
        if (!smp_cpu_online(cpu))
            continue;
        bool called = smp_call_on_cpu(cpu, report_identity, &reports[cpu]);
        if (!called || !reports[cpu].ran) {
            all_ran = false;
            continue;
        }
        const struct cpu_report *r = &reports[cpu];
        bool match = r->index == cpu && r->lapic_id == smp_cpu_apic_id(cpu) &&
                     r->percpu_apic_id == r->lapic_id && r->self == percpu_of(cpu) &&
                     r->gs_base == (uint64_t)(uintptr_t)r->self;
        if (!match && all_match) {
            all_match = false;
            mismatch_cpu = cpu;
        }
    }
    ktest_check(all_ran, "every_cpu_runs_code_on_request", "a call did not complete");
    const struct cpu_report *bad = &reports[mismatch_cpu];
    ktest_check(all_match, "cpu_identity_matches_madt",
                "cpu %u: index %u, local APIC id %u, per-CPU APIC id %u, MADT APIC id %u, "
                "GS base 0x%lx, block %p expected %p",
                mismatch_cpu, bad->index, bad->lapic_id, bad->percpu_apic_id,
                smp_cpu_apic_id(mismatch_cpu), bad->gs_base, (const void *)bad->self,
                (void *)percpu_of(mismatch_cpu));

    bool distinct = true;
    for (unsigned a = 0; a < smp_cpu_count(); a++) {
        for (unsigned b = a + 1; b < smp_cpu_count(); b++) {
            if (reports[a].ran && reports[b].ran && reports[a].lapic_id == reports[b].lapic_id)
                distinct = false;
        }
    }
    ktest_check(distinct, "apic_ids_distinct", "two CPUs reported the same local APIC id");
}

static void check_ticks(void)
{
    uint64_t before[CONFIG_MAX_CPUS];
    for (unsigned cpu = 0; cpu < CONFIG_MAX_CPUS; cpu++)
        before[cpu] = lapic_timer_ticks_of(cpu);
    pit_delay_us((uint64_t)TICK_WINDOW_MS * US_PER_MS);
    /* Wide bounds as in suite timer: a loaded host merges ticks; a silent, 10x-slow or 2x-fast timer is broken. */
    uint64_t expected = (uint64_t)CONFIG_TIMER_HZ * TICK_WINDOW_MS / MS_PER_S;
    bool all_tick = true;
    bool all_in_rate = true;
    unsigned bad_cpu = 0;
    uint64_t bad_ticks = 0;
    for (unsigned cpu = 0; cpu < smp_cpu_count(); cpu++) {
        if (!smp_cpu_online(cpu))
            continue;
        uint64_t ticks = lapic_timer_ticks_of(cpu) - before[cpu];
        kprintf("smp: cpu %u took %lu timer ticks in %u ms\n", cpu, ticks, TICK_WINDOW_MS);
        if (ticks == 0 && all_tick) {
            all_tick = false;
            bad_cpu = cpu;
        }
        if ((ticks < expected / 10 || ticks > expected * 2) && all_in_rate) {
            all_in_rate = false;
            bad_ticks = ticks;
            if (all_tick)
                bad_cpu = cpu;
        }
    }
    ktest_check(all_tick, "every_cpu_timer_ticks", "cpu %u took no tick in %u ms", bad_cpu,
                TICK_WINDOW_MS);
    ktest_check(all_in_rate, "every_cpu_tick_rate_matches_calibration",
                "cpu %u: %lu ticks in %u ms, expected about %lu", bad_cpu, bad_ticks,
                TICK_WINDOW_MS, expected);
}

static void check_spinlock(void)
{
    struct spinlock probe = SPINLOCK_INIT;
    bool first = spin_trylock(&probe);
    bool second = spin_trylock(&probe);
    spin_unlock(&probe);
    bool after_unlock = spin_trylock(&probe);
    ktest_check(first && !second && after_unlock, "trylock_excludes",
                "first=%d second=%d after_unlock=%d", first, second, after_unlock);

    shared_counter = 0;
    counting_go = 0;
    unsigned participants = 1;
    bool posted[CONFIG_MAX_CPUS] = { false };
    for (unsigned cpu = 1; cpu < smp_cpu_count(); cpu++) {
        counting_ready[cpu] = 0;
        if (smp_cpu_online(cpu) && smp_call_post(cpu, count_under_lock, NULL)) {
            posted[cpu] = true;
            participants++;
        }
    }
    uint64_t budget = lapic_timer_info()->tsc_hz / MS_PER_S * READY_TIMEOUT_MS;
    uint64_t start = rdtsc();
    for (unsigned cpu = 1; cpu < smp_cpu_count(); cpu++) {
        while (posted[cpu] && atomic_load_acquire_u32(&counting_ready[cpu]) == 0 &&
               rdtsc() - start < budget)
            cpu_relax();
    }
    atomic_store_release_u32(&counting_go, 1);
    count_under_lock(NULL);
    bool all_finished = true;
    for (unsigned cpu = 1; cpu < smp_cpu_count(); cpu++) {
        if (posted[cpu] && !smp_call_wait(cpu))
            all_finished = false;
    }
    uint32_t contended = 0;
    for (unsigned cpu = 0; cpu < CONFIG_MAX_CPUS; cpu++)
        contended += contended_rounds[cpu];
    kprintf("smp: %u cpus counted %u rounds each; the lock was contended %u times\n",
            participants, COUNTER_ROUNDS, contended);
    ktest_check(participants == smp_online_count() && all_finished, "every_cpu_counted",
                "%u of %u cpus took part, all finished=%d", participants, smp_online_count(),
                all_finished);
    uint64_t expected = (uint64_t)participants * COUNTER_ROUNDS;
    ktest_check(shared_counter == expected, "shared_counter_exact_under_lock",
                "counter %lu, expected %lu", shared_counter, expected);
}

KTEST_SUITE(smp)
{
    unsigned long expected_cpus = 0;
    bool have = ktest_cmdline_u64(bi, "expect_cpus", &expected_cpus);
    ktest_check(have, "harness_gave_expected_cpus", "expect_cpus missing from command line");
    ktest_check(smp_cpu_count() == expected_cpus, "madt_lists_every_cpu",
                "MADT gave %u cpus, machine has %lu", smp_cpu_count(), expected_cpus);
    ktest_check(smp_online_count() == expected_cpus, "every_cpu_online", "%u cpus online, expected %lu",
                smp_online_count(), expected_cpus);

    struct percpu *self = this_cpu();
    ktest_check(self->self == self && self->index == 0 && self->apic_id == lapic_id() &&
                    rdmsr(MSR_GS_BASE) == (uint64_t)(uintptr_t)self,
                "boot_cpu_is_cpu0_via_gs", "index %u apic %u (local APIC %u) gs 0x%lx block %p",
                self->index, self->apic_id, lapic_id(), rdmsr(MSR_GS_BASE), (void *)self);

    check_identities();
    ktest_check(!smp_call_on_cpu(CONFIG_MAX_CPUS, do_nothing, NULL), "call_to_absent_cpu_refused",
                "a call to cpu %u was accepted", CONFIG_MAX_CPUS);

    uint64_t page = smp_trampoline_page();
    uint64_t value = 0;
    bool faulted = page == 0 || probe_read64(page, &value);
    ktest_check(faulted, "trampoline_page_unmapped", "0x%lx still readable at its identity address",
                page);

    check_ticks();
    check_spinlock();
}
