/* SPDX-License-Identifier: MIT */
/* timertest: the root task of the notification-timer tests (NOTIFICATION_SET_TIMER: a TSC deadline on a notification). */
#include "hvu.h"

#define LATENCY_BOUND_MS 50u        /* generous: emulator timing is noisy; the core aims at 1 ms */
#define LATENCY_SAMPLES 8u
#define QUIET_MS 20u                /* how long a timer that must not fire is watched */
#define MARGIN_MS 60u               /* a deadline that must not pass between two invocations (emulator stalls) */
#define ORDER_TIMERS 4u
#define POOL_BITS 12u               /* 4 KiB: 32 notifications */
#define POOL_SLOTS 40u
#define POOL_ARMED 8u
#define WORKER_PRIORITY 100u        /* below the root (128): it runs while the root blocks */
#define SMP_ROUNDS 4u
#define STRESS_ROUNDS 200u
#define SPIN_LIMIT_MS 2000u         /* any wait for the other CPU gives up after this */

static uint64_t tsc_per_ms;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t ms(uint64_t n) { return n * tsc_per_ms; }
static uint64_t to_us(uint64_t cycles) { return cycles * 1000u / tsc_per_ms; }

static void spin_until(uint64_t tsc)
{
    while (rdtsc() < tsc)
        ;
}

static uint64_t set_timer(uint64_t n, uint64_t deadline, uint64_t bits)
{
    uint64_t args[2] = { deadline, bits };
    return hvu_invoke(n, HV_INV_NOTIFICATION_SET_TIMER, 2, args, NULL);
}

static uint64_t poll_bits(uint64_t n)
{
    uint64_t bits = 0;
    (void)hv_poll(n, &bits);
    return bits;
}

static uint64_t new_ntfn(void)
{
    uint64_t err;
    uint64_t n = hvu_retype(HV_OBJ_NOTIFICATION, 0, &err);
    if (n == 0)
        hvu_printf("timertest: notification retype failed: %lu\n", err);
    return n;
}

/* ---- arguments and rights: every failure changes nothing ---- */

static void test_errors(void)
{
    uint64_t n = new_ntfn(), ro, tcb_err, err;
    uint64_t args[2] = { rdtsc() + ms(1), 1 };
    err = hvu_invoke(n, HV_INV_NOTIFICATION_SET_TIMER, 1, args, NULL);
    hvu_check(err == HV_ERR_TRUNCATED, "timer.truncated", "error %lu", err);
    (void)hvu_copy(n, HV_RIGHT_READ, &ro);
    err = set_timer(ro, rdtsc() + ms(1), 1);
    hvu_check(err == HV_ERR_INSUFFICIENT_RIGHTS, "timer.needs_write", "error %lu", err);
    err = set_timer(n, rdtsc() + ms(1), 0);
    hvu_check(err == HV_ERR_INVALID_ARGUMENT, "timer.zero_bits", "error %lu", err);
    err = hvu_invoke(n, HV_INV_NOTIFICATION_SET_TIMER + 1, 2, args, NULL);
    hvu_check(err == HV_ERR_UNKNOWN_INVOCATION, "timer.unknown_label", "error %lu", err);
    tcb_err = set_timer(HV_ROOT_TCB, rdtsc() + ms(1), 1);
    err = set_timer(HV_ROOT_BOOTINFO_FRAME, rdtsc() + ms(1), 1);
    hvu_check(tcb_err == HV_ERR_UNKNOWN_INVOCATION && err == HV_ERR_UNKNOWN_INVOCATION, "timer.wrong_object_type",
              "tcb %lu frame %lu", tcb_err, err);
    err = set_timer(hvu_alloc_slot(), rdtsc() + ms(1), 1);
    hvu_check(err == HV_ERR_EMPTY_SLOT, "timer.empty_slot", "error %lu", err);

    /* None of those armed anything; a failed re-arm leaves the armed timer as it was. */
    spin_until(rdtsc() + ms(QUIET_MS));
    uint64_t bits = poll_bits(n);
    hvu_check(bits == 0, "timer.failed_arms_armed_nothing", "bits 0x%lx arrived", bits);
    uint64_t deadline = rdtsc() + ms(5);
    err = set_timer(n, deadline, 0x4);
    uint64_t e1 = set_timer(n, rdtsc() + ms(1), 0);
    uint64_t e2 = set_timer(ro, 0, 0);
    uint64_t werr = hv_wait(n, &bits);
    uint64_t woke = rdtsc();
    hvu_check(err == HV_OK && e1 == HV_ERR_INVALID_ARGUMENT && e2 == HV_ERR_INSUFFICIENT_RIGHTS && werr == HV_OK &&
                  bits == 0x4 && woke >= deadline,
              "timer.failed_rearm_keeps_deadline", "arm %lu bad %lu/%lu wait %lu bits 0x%lx early by %ld us", err, e1,
              e2, werr, bits, woke >= deadline ? 0L : (long)to_us(deadline - woke));

    /* A call with label 0 still signals, as before the timer existed. */
    struct hv_msg m = { hv_tag(0, 0, 0), 0, { 0, 0, 0, 0 } };
    uint64_t badged;
    (void)hvu_mint(n, HV_RIGHT_WRITE, 0x100, &badged);
    err = hv_call(badged, &m);
    bits = poll_bits(n);
    hvu_check(err == HV_OK && bits == 0x100, "timer.unlabelled_call_signals", "call %lu bits 0x%lx", err, bits);
    (void)hvu_delete(badged);
    (void)hvu_delete(ro);
    (void)hvu_delete(n);
}

/* ---- the deadline: never early, soon after; the latency is printed ---- */

static void test_latency(void)
{
    uint64_t n = new_ntfn(), min = ~0ull, max = 0, sum = 0;
    unsigned early = 0, wrong = 0;
    for (unsigned i = 0; i < LATENCY_SAMPLES; i++) {
        uint64_t deadline = rdtsc() + ms(2 + i) + ms(1) * i / 3;   /* not in step with the tick */
        uint64_t bits = 0, err = set_timer(n, deadline, 1ull << i);
        uint64_t werr = hv_wait(n, &bits);
        uint64_t now = rdtsc();
        if (err != HV_OK || werr != HV_OK || bits != 1ull << i)
            wrong++;
        if (now < deadline) {
            early++;
            continue;
        }
        uint64_t late = now - deadline;
        min = late < min ? late : min;
        max = late > max ? late : max;
        sum += late;
    }
    hvu_printf("timertest: latency over %u timers: min %lu us, avg %lu us, max %lu us\n", LATENCY_SAMPLES,
               to_us(min), early < LATENCY_SAMPLES ? to_us(sum / (LATENCY_SAMPLES - early)) : 0, to_us(max));
    hvu_check(wrong == 0, "timer.fires_with_its_bits", "%u of %u wrong", wrong, LATENCY_SAMPLES);
    hvu_check(early == 0, "timer.never_early", "%u of %u woke before the deadline", early, LATENCY_SAMPLES);
    hvu_check(max < ms(LATENCY_BOUND_MS), "timer.latency_bounded", "max %lu us (bound %u ms)", to_us(max),
              LATENCY_BOUND_MS);

    /* Once: a fired timer is disarmed. */
    spin_until(rdtsc() + ms(QUIET_MS));
    uint64_t bits = poll_bits(n);
    hvu_check(bits == 0, "timer.fires_once", "bits 0x%lx arrived again", bits);
    (void)hvu_delete(n);
}

/* ---- the notification's word: OR-ed, waking a waiter or a poll ---- */

static void test_bits_or(void)
{
    uint64_t n = new_ntfn(), badged;
    (void)hvu_mint(n, HV_RIGHT_WRITE, 0x1, &badged);
    uint64_t serr = hv_signal(badged);
    uint64_t deadline = rdtsc() + ms(3);
    uint64_t err = set_timer(n, deadline, 0x30);
    spin_until(deadline + ms(QUIET_MS));
    uint64_t bits = poll_bits(n);
    hvu_check(serr == HV_OK && err == HV_OK && bits == 0x31, "timer.bits_or_into_word", "signal %lu arm %lu bits 0x%lx",
              serr, err, bits);
    /* Bits the word already has, and the timer's own, in one take. */
    (void)hv_signal(badged);
    deadline = rdtsc() + ms(MARGIN_MS);
    err = set_timer(n, deadline, 0x2);
    uint64_t werr = hv_wait(n, &bits);
    hvu_check(err == HV_OK && werr == HV_OK && bits == 0x1, "timer.pending_signal_taken_first",
              "arm %lu wait %lu bits 0x%lx", err, werr, bits);
    werr = hv_wait(n, &bits);
    hvu_check(werr == HV_OK && bits == 0x2 && rdtsc() >= deadline, "timer.then_the_timer", "wait %lu bits 0x%lx",
              werr, bits);
    (void)hvu_delete(badged);
    (void)hvu_delete(n);
}

/* ---- disarm, re-arm, and deadlines already past ---- */

static void test_disarm_rearm(void)
{
    uint64_t n = new_ntfn(), bits, werr;
    uint64_t start = rdtsc();
    uint64_t err = set_timer(n, start + ms(MARGIN_MS), 0x1);
    uint64_t derr = set_timer(n, 0, 0);
    spin_until(start + ms(MARGIN_MS + QUIET_MS));
    bits = poll_bits(n);
    hvu_check(err == HV_OK && derr == HV_OK && bits == 0, "timer.disarm", "arm %lu disarm %lu bits 0x%lx", err, derr,
              bits);
    derr = set_timer(n, 0, 0);
    hvu_check(derr == HV_OK, "timer.disarm_unarmed", "error %lu", derr);

    /* A later deadline replaces an earlier one: nothing at the first. */
    start = rdtsc();
    err = set_timer(n, start + ms(MARGIN_MS), 0x1);
    uint64_t e2 = set_timer(n, start + ms(MARGIN_MS + QUIET_MS), 0x2);
    werr = hv_wait(n, &bits);
    uint64_t now = rdtsc();
    hvu_check(err == HV_OK && e2 == HV_OK && werr == HV_OK && bits == 0x2 && now >= start + ms(MARGIN_MS + QUIET_MS),
              "timer.rearm_later_replaces", "arm %lu/%lu wait %lu bits 0x%lx after %lu us", err, e2, werr, bits,
              to_us(now - start));
    /* An earlier deadline replaces a later one: the later never comes. */
    start = rdtsc();
    err = set_timer(n, start + ms(MARGIN_MS), 0x4);
    e2 = set_timer(n, start + ms(2), 0x8);
    werr = hv_wait(n, &bits);
    spin_until(start + ms(MARGIN_MS + QUIET_MS));
    uint64_t late = poll_bits(n);
    hvu_check(err == HV_OK && e2 == HV_OK && werr == HV_OK && bits == 0x8 && late == 0, "timer.rearm_earlier_replaces",
              "arm %lu/%lu wait %lu bits 0x%lx, then 0x%lx", err, e2, werr, bits, late);

    /* A deadline already reached signals inside the invocation. */
    err = set_timer(n, 1, 0x10);
    bits = poll_bits(n);
    e2 = set_timer(n, rdtsc(), 0x20);
    uint64_t bits2 = poll_bits(n);
    hvu_check(err == HV_OK && bits == 0x10 && e2 == HV_OK && bits2 == 0x20, "timer.past_deadline_fires_at_once",
              "arm %lu bits 0x%lx, arm-now %lu bits 0x%lx", err, bits, e2, bits2);
    /* ... and replaces an armed one. */
    start = rdtsc();
    err = set_timer(n, start + ms(MARGIN_MS), 0x40);
    e2 = set_timer(n, 1, 0x80);
    bits = poll_bits(n);
    spin_until(start + ms(MARGIN_MS + QUIET_MS));
    bits2 = poll_bits(n);
    hvu_check(err == HV_OK && e2 == HV_OK && bits == 0x80 && bits2 == 0, "timer.past_deadline_replaces",
              "bits 0x%lx then 0x%lx", bits, bits2);
    (void)hvu_delete(n);
}

/*
 * ---- several armed timers: they fire in deadline order, whatever the arming order ----
 * Arrival times seen by polling are not proof of order (a stalled emulator lets several
 * deadlines pass between two polls), so the check is the property itself: whenever a
 * timer has fired, every timer with an earlier deadline has fired too. Each sweep polls
 * the latest deadline first, so a timer found fired proves the earlier ones fired before
 * the polls that follow in the same sweep.
 */
static void test_order(void)
{
    static const unsigned due_ms[ORDER_TIMERS] = { 12, 4, 16, 8 };   /* head, before, tail, middle */
    static const unsigned by_deadline[ORDER_TIMERS] = { 1, 3, 0, 2 };
    uint64_t n[ORDER_TIMERS], deadline[ORDER_TIMERS], seen[ORDER_TIMERS], got[ORDER_TIMERS];
    uint64_t start = rdtsc(), err = HV_OK;
    for (unsigned i = 0; i < ORDER_TIMERS; i++) {
        n[i] = new_ntfn();
        deadline[i] = start + ms(due_ms[i]);
        seen[i] = 0;
        got[i] = 0;
        err |= set_timer(n[i], deadline[i], 1ull << i);
    }
    unsigned left = ORDER_TIMERS, out_of_order = 0, sweeps = 0;
    while (left > 0 && rdtsc() < start + ms(SPIN_LIMIT_MS)) {
        for (unsigned k = ORDER_TIMERS; k-- > 0;) {
            unsigned i = by_deadline[k];
            if (seen[i] != 0)
                continue;
            uint64_t bits = poll_bits(n[i]);
            if (bits != 0) {
                seen[i] = rdtsc();
                got[i] = bits;
                left--;
            }
        }
        sweeps++;
        for (unsigned k = 1; k < ORDER_TIMERS; k++) {
            if (seen[by_deadline[k]] != 0 && seen[by_deadline[k - 1]] == 0)
                out_of_order++;
        }
    }
    bool ok = err == HV_OK && left == 0 && out_of_order == 0;
    for (unsigned i = 0; i < ORDER_TIMERS; i++) {
        hvu_printf("timertest: timer %u due +%u ms arrived +%lu us\n", i, due_ms[i],
                   seen[i] ? to_us(seen[i] - start) : 0);
        ok = ok && got[i] == 1ull << i && seen[i] >= deadline[i];
    }
    hvu_check(ok, "timer.interleaved_deadlines_in_order",
              "arm 0x%lx, %u not arrived, %u sweeps saw a later deadline fired before an earlier one", err, left,
              out_of_order);

    /* Two notifications with the same deadline both fire. */
    uint64_t same = rdtsc() + ms(3);
    err = set_timer(n[0], same, 0x1) | set_timer(n[1], same, 0x2);
    spin_until(same + ms(QUIET_MS));
    uint64_t b0 = poll_bits(n[0]), b1 = poll_bits(n[1]);
    hvu_check(err == HV_OK && b0 == 0x1 && b1 == 0x2, "timer.equal_deadlines_both_fire", "bits 0x%lx 0x%lx", b0, b1);
    for (unsigned i = 0; i < ORDER_TIMERS; i++)
        (void)hvu_delete(n[i]);
}

/* ---- a thread blocked in recv on an endpoint, with the notification bound to it ---- */

static volatile uint64_t bound_woke_tsc, bound_badge, bound_err, bound_rounds;
static uint64_t bound_ep, bound_done;

static void bound_receiver(uint64_t arg)
{
    (void)arg;
    for (;;) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        uint64_t err = hv_recv(bound_ep, 0, &m);
        bound_woke_tsc = rdtsc();
        bound_err = err;
        bound_badge = m.badge;
        bound_rounds++;
        (void)hv_signal(bound_done);
    }
}

static void test_bound(void)
{
    uint64_t n = new_ntfn(), err, bits;
    bound_ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    bound_done = new_ntfn();
    struct hvu_thread t;
    err = hvu_thread_start(&t, bound_receiver, 0, WORKER_PRIORITY, 0, 10000, 10000);
    uint64_t bind[1] = { n };
    uint64_t berr = hvu_invoke(t.tcb, HV_INV_TCB_BIND_NOTIFICATION, 1, bind, NULL);
    /* Let it block in recv: it runs whenever the root waits. */
    uint64_t y = set_timer(bound_done, rdtsc() + ms(2), 0x1);
    (void)hv_wait(bound_done, &bits);
    uint64_t rounds = bound_rounds;
    uint64_t deadline = rdtsc() + ms(5);
    uint64_t aerr = set_timer(n, deadline, 0x55);
    uint64_t werr = hv_wait(bound_done, &bits);
    hvu_printf("timertest: bound receiver woke %lu us after the deadline\n",
               bound_woke_tsc >= deadline ? to_us(bound_woke_tsc - deadline) : 0);
    hvu_check(err == HV_OK && berr == HV_OK && y == HV_OK && aerr == HV_OK && werr == HV_OK &&
                  bound_rounds == rounds + 1 && bound_err == HV_OK && bound_badge == 0x55 && bound_woke_tsc >= deadline &&
                  bound_woke_tsc - deadline < ms(LATENCY_BOUND_MS),
              "timer.wakes_bound_receiver", "start %lu bind %lu arm %lu wait %lu rounds %lu err %lu badge 0x%lx",
              err, berr, aerr, werr, bound_rounds - rounds, bound_err, bound_badge);
    (void)hvu_invoke(t.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    (void)hvu_delete(t.tcb);
    (void)hvu_delete(t.sc);
    (void)hvu_delete(bound_ep);
    (void)hvu_delete(bound_done);
    (void)hvu_delete(n);
}

/* ---- the object goes while armed: no dangling entry on the core's timer list ---- */

static void test_lifetime(void)
{
    uint64_t err, bits;
    /* A witness armed across everything below: the list around the dead entries stays whole. */
    uint64_t witness = new_ntfn();
    uint64_t witness_deadline = rdtsc() + ms(3ull * QUIET_MS);
    err = set_timer(witness, witness_deadline, 0x1);

    /* Deleting one of two caps keeps the timer; deleting the last disarms it. */
    uint64_t n = new_ntfn(), copy;
    (void)hvu_copy(n, HV_RIGHTS_ALL, &copy);
    uint64_t a = set_timer(copy, rdtsc() + ms(2), 0x2);
    uint64_t d = hvu_delete(copy);
    uint64_t werr = hv_wait(n, &bits);
    hvu_check(err == HV_OK && a == HV_OK && d == HV_OK && werr == HV_OK && bits == 0x2,
              "timer.survives_delete_of_a_copy", "arm %lu delete %lu wait %lu bits 0x%lx", a, d, werr, bits);
    a = set_timer(n, rdtsc() + ms(2), 0x2);
    d = hvu_delete(n);
    spin_until(rdtsc() + ms(QUIET_MS));
    hvu_check(a == HV_OK && d == HV_OK, "timer.delete_armed_notification", "arm %lu delete %lu (and the core lives)", a, d);

    /*
     * Revoke: armed notifications (head, middle and tail of the list, around the
     * witness) in a pool whose untyped is revoked; then the same memory is made into
     * new notifications, zeroed. A dangling list entry would now be a zeroed object
     * on the list: the core's invariant check would stop the machine at the next
     * tick, or the new objects would be signalled.
     */
    struct hvu_pool pool;
    err = hvu_pool_create(&pool, POOL_BITS, POOL_SLOTS);
    struct hvu_pool *prev = hvu_pool_use(&pool);
    uint64_t now = rdtsc();
    for (unsigned i = 0; i < POOL_ARMED; i++) {
        uint64_t p = hvu_retype(HV_OBJ_NOTIFICATION, 0, NULL), pc;
        err |= p == 0 ? HV_ERR_NOT_ENOUGH_MEMORY : HV_OK;
        err |= hvu_copy(p, HV_RIGHT_WRITE, &pc);
        /* Deadlines before, around and after the witness's. */
        err |= set_timer(pc, now + ms(QUIET_MS / 2) + ms(QUIET_MS) * i / 2, 1ull << i);
    }
    uint64_t rerr = hvu_pool_reset(&pool);
    uint64_t fresh[POOL_ARMED], made = 0;
    for (unsigned i = 0; i < POOL_ARMED; i++) {
        fresh[i] = hvu_retype(HV_OBJ_NOTIFICATION, 0, NULL);
        made += fresh[i] != 0;
    }
    spin_until(now + ms(QUIET_MS / 2) + ms(QUIET_MS) * POOL_ARMED / 2 + ms(QUIET_MS));
    uint64_t stray = 0;
    for (unsigned i = 0; i < POOL_ARMED; i++)
        stray |= poll_bits(fresh[i]);
    hvu_check(err == HV_OK && rerr == HV_OK && made == POOL_ARMED && stray == 0, "timer.revoke_armed_notifications",
              "setup 0x%lx revoke %lu made %lu stray bits 0x%lx", err, rerr, made, stray);
    /* The reused memory works as a notification timer of its own. */
    a = set_timer(fresh[3], rdtsc() + ms(2), 0x8);
    werr = hv_wait(fresh[3], &bits);
    hvu_check(a == HV_OK && werr == HV_OK && bits == 0x8, "timer.reused_memory_arms", "arm %lu wait %lu bits 0x%lx", a,
              werr, bits);
    (void)hvu_pool_reset(&pool);
    (void)hvu_pool_use(prev);

    werr = hv_wait(witness, &bits);
    now = rdtsc();
    hvu_check(werr == HV_OK && bits == 0x1 && now >= witness_deadline, "timer.list_intact_after_deletes",
              "wait %lu bits 0x%lx", werr, bits);
    (void)hvu_delete(witness);
}

/* ---- SMP: arming on one CPU, firing for a thread on the other ---- */

static volatile uint64_t smp_cmd_deadline, smp_arm_err, smp_arms, smp_woke, smp_bits, smp_stress_done;
static uint64_t smp_go, smp_target, smp_wait_n, smp_done, smp_stress_n;
static uint64_t go_arm, go_wait, go_stress;     /* smp_go minted with the command as badge */

/* On CPU 1: what the root asks (the badge of the signal on smp_go says what). */
static void smp_worker(uint64_t arg)
{
    (void)arg;
    for (;;) {
        uint64_t cmd = 0;
        (void)hv_wait(smp_go, &cmd);
        if (cmd & 0x1) {            /* arm smp_target at smp_cmd_deadline */
            smp_arm_err = set_timer(smp_target, smp_cmd_deadline, 0x9);
            smp_arms++;
        }
        if (cmd & 0x2) {            /* wait for a timer the root armed */
            uint64_t bits = 0;
            (void)hv_wait(smp_wait_n, &bits);
            smp_woke = rdtsc();
            smp_bits = bits;
            (void)hv_signal(smp_done);
        }
        if (cmd & 0x4) {            /* arm and disarm against the root doing the same */
            for (unsigned i = 0; i < STRESS_ROUNDS; i++) {
                uint64_t d = rdtsc() + (i % 3 == 0 ? 1 : ms(1 + i % 2));
                (void)set_timer(smp_stress_n, d, 1ull << (i % 8));
                if (i % 2)
                    (void)set_timer(smp_stress_n, 0, 0);
            }
            smp_stress_done = 1;
        }
    }
}

static void test_smp(const struct hv_bootinfo *bi)
{
    if (bi->cpu_count < 2)
        return;
    uint64_t err, bits;
    smp_go = new_ntfn();
    smp_target = new_ntfn();
    smp_wait_n = new_ntfn();
    smp_done = new_ntfn();
    smp_stress_n = new_ntfn();
    err = hvu_mint(smp_go, HV_RIGHT_WRITE, 0x1, &go_arm);
    err |= hvu_mint(smp_go, HV_RIGHT_WRITE, 0x2, &go_wait);
    err |= hvu_mint(smp_go, HV_RIGHT_WRITE, 0x4, &go_stress);
    hvu_check(err == HV_OK, "timer.smp_setup", "mint 0x%lx", err);
    struct hvu_thread w;
    err = hvu_thread_start(&w, smp_worker, 0, WORKER_PRIORITY, 0, 10000, 10000);
    uint64_t cpu[1] = { 1 };
    uint64_t aerr = hvu_invoke(w.tcb, HV_INV_TCB_SET_AFFINITY, 1, cpu, NULL);
    hvu_check(err == HV_OK && aerr == HV_OK, "timer.smp_worker_on_cpu1", "start %lu affinity %lu", err, aerr);

    /* The other CPU arms; the root, on CPU 0, waits. */
    unsigned ok = 0;
    uint64_t max = 0;
    for (unsigned i = 0; i < SMP_ROUNDS; i++) {
        uint64_t arms = smp_arms;
        smp_cmd_deadline = rdtsc() + ms(4 + i);
        (void)hv_signal(go_arm);
        uint64_t sig = 0;
        uint64_t werr = hv_wait(smp_target, &sig);
        uint64_t now = rdtsc();
        /* The timer may fire (from this CPU's tick) before CPU 1 is back from its invocation. */
        for (uint64_t limit = now + ms(SPIN_LIMIT_MS); smp_arms != arms + 1 && rdtsc() < limit;)
            ;
        if (werr == HV_OK && sig == 0x9 && smp_arms == arms + 1 && smp_arm_err == HV_OK && now >= smp_cmd_deadline) {
            ok++;
            max = now - smp_cmd_deadline > max ? now - smp_cmd_deadline : max;
        }
    }
    hvu_printf("timertest: armed on CPU 1, waited on CPU 0: max latency %lu us\n", to_us(max));
    hvu_check(ok == SMP_ROUNDS && max < ms(LATENCY_BOUND_MS), "timer.smp_armed_on_other_cpu", "%u of %u, max %lu us",
              ok, SMP_ROUNDS, to_us(max));

    /* The root arms; the worker on CPU 1 waits. */
    ok = 0;
    max = 0;
    for (unsigned i = 0; i < SMP_ROUNDS; i++) {
        uint64_t deadline = rdtsc() + ms(4 + i);
        err = hv_signal(go_wait);
        err |= set_timer(smp_wait_n, deadline, 0x3);
        uint64_t werr = hv_wait(smp_done, &bits);
        if (err == HV_OK && werr == HV_OK && smp_bits == 0x3 && smp_woke >= deadline) {
            ok++;
            max = smp_woke - deadline > max ? smp_woke - deadline : max;
        }
    }
    hvu_printf("timertest: armed on CPU 0, waited on CPU 1: max latency %lu us\n", to_us(max));
    hvu_check(ok == SMP_ROUNDS && max < ms(LATENCY_BOUND_MS), "timer.smp_fires_for_other_cpu", "%u of %u, max %lu us",
              ok, SMP_ROUNDS, to_us(max));

    /* Both CPUs arm, re-arm and disarm at once (the kernel lock orders them); then a clean timer still works. */
    smp_stress_done = 0;
    err = hv_signal(go_stress);
    uint64_t mine = new_ntfn();
    for (unsigned i = 0; i < STRESS_ROUNDS; i++) {
        (void)set_timer(mine, rdtsc() + (i % 3 == 0 ? 1 : ms(1 + i % 2)), 1);
        (void)set_timer(smp_stress_n, i % 2 ? 0 : rdtsc() + ms(1), 1ull << 9);
    }
    uint64_t limit = rdtsc() + ms(SPIN_LIMIT_MS);
    while (!smp_stress_done && rdtsc() < limit)
        ;
    (void)set_timer(mine, 0, 0);
    (void)set_timer(smp_stress_n, 0, 0);
    (void)poll_bits(mine);
    (void)poll_bits(smp_stress_n);
    uint64_t deadline = rdtsc() + ms(3);
    uint64_t a = set_timer(smp_stress_n, deadline, 0x100);
    uint64_t werr = hv_wait(smp_stress_n, &bits);
    hvu_check(err == HV_OK && smp_stress_done && a == HV_OK && werr == HV_OK && bits == 0x100 && rdtsc() >= deadline,
              "timer.smp_concurrent_arming", "done %lu arm %lu wait %lu bits 0x%lx", smp_stress_done, a, werr, bits);
    (void)hvu_invoke(w.tcb, HV_INV_TCB_SUSPEND, 0, NULL, NULL);
    (void)hvu_delete(w.tcb);
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    hvu_printf("timertest: root task running on %lu CPUs, TSC %lu kHz\n", bi->cpu_count, bi->tsc_hz / 1000);
    tsc_per_ms = bi->tsc_hz / 1000;
    hvu_check(tsc_per_ms != 0, "timer.tsc_rate_known", "bootinfo tsc_hz %lu", bi->tsc_hz);
    if (tsc_per_ms == 0)
        hvu_finish();
    test_errors();
    test_latency();
    test_bits_or();
    test_disarm_rearm();
    test_order();
    test_bound();
    test_lifetime();
    test_smp(bi);
    hvu_finish();
}
