/* SPDX-License-Identifier: MIT */
/* bench_ipc: root task that counts the instructions of an IPC round trip and of the null system call. */
#include "hvu.h"
#include "hvu_bench.h"

#include "lib/kstring.h"

/*
 * Under QEMU with `-icount shift=0` the guest's TSC advances by exactly one per executed
 * instruction (checked below, before anything is measured), so rdtsc deltas are
 * instruction counts. Each figure is the smallest of BATCHES batches of PER operations:
 * timer interrupts (1 ms = 10^6 instructions) and any idle time while a budget is
 * throttled land in some batches, and the smallest is the undisturbed steady state. The
 * loop overhead is the same loop compiled without the `syscall` instruction (same message
 * setup and result accumulation), measured the same way and subtracted, so a figure runs
 * from the client's `syscall` to its return.
 *
 * Figures: a call + reply_recv round trip with 4 words to a higher-priority echo server
 * thread (same address space), which is always back in recv when the client calls; the
 * null system call, HV_SYS_YIELD with nothing else runnable at the caller's priority; and,
 * for comparison only, a call on an empty slot (HV_ERR_EMPTY_SLOT).
 *
 * The command-line token `bench_icount=1` (scripts/bench) makes the counter check a
 * test; without it (the ctest smoke run) the figures are printed with a note.
 */

#define LABEL 0x42
#define PER 100u            /* operations per batch */
#define BATCHES 100u        /* PER * BATCHES = 10000 measured operations */
#define WARMUP 200u
#define SERVER_PRIORITY 200u
#define SPIN_SHORT 1000u
#define SPIN_LONG 101000u
#define SPIN_REPEATS 20u

static uint64_t ep;             /* the server receives here */
static uint64_t reply_obj;      /* its reply object */
static uint64_t empty_slot;     /* a slot that stays empty */

/* Counter ticks between two rdtsc around a loop of 2n instructions (plus a fixed few). */
static uint64_t spin_ticks(uint64_t n)
{
    uint64_t d;
    __asm__ volatile("rdtsc\n\t"
                     "shl $32, %%rdx\n\t"
                     "or %%rdx, %%rax\n\t"
                     "mov %%rax, %%rsi\n\t"
                     "1: dec %%rcx\n\t"
                     "jnz 1b\n\t"
                     "rdtsc\n\t"
                     "shl $32, %%rdx\n\t"
                     "or %%rdx, %%rax\n\t"
                     "sub %%rsi, %%rax"
                     : "=a"(d), "+c"(n)
                     :
                     : "rdx", "rsi", "cc", "memory");
    return d;
}

static uint64_t min_spin_ticks(uint64_t n)
{
    uint64_t best = UINT64_MAX;
    for (unsigned i = 0; i < SPIN_REPEATS; i++) {
        uint64_t d = spin_ticks(n);
        if (d < best)
            best = d;
    }
    return best;
}

/*
 * hv_syscall with the `syscall` instruction present (real) or left out (the overhead
 * loop): everything else compiles the same, so the two loops differ by one instruction.
 */
static inline __attribute__((always_inline)) uint64_t bench_syscall(bool real, uint64_t nr, uint64_t cptr,
                                                                    struct hv_msg *m)
{
    // cppcheck-suppress constStatement
    register uint64_t r8 __asm__("r8") = m->w[1];
    // cppcheck-suppress constStatement
    register uint64_t r9 __asm__("r9") = m->w[2];
    // cppcheck-suppress constStatement
    register uint64_t r10 __asm__("r10") = m->w[3];
    register uint64_t r12 __asm__("r12") = 0;
    uint64_t rax = nr, rdi = cptr, rsi = m->tag, rdx = m->w[0];
    if (real)
        __asm__ volatile("syscall"
                         : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                         : "r"(r12)
                         : "rcx", "r11", "memory");
    else
        __asm__ volatile(""
                         : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                         : "r"(r12)
                         : "rcx", "r11", "memory");
    m->tag = rsi;
    m->badge = rdi;
    m->w[0] = rdx;
    m->w[1] = r8;
    m->w[2] = r9;
    m->w[3] = r10;
    return rax;
}

/* n calls with 4 words; *acc sums error and two reply words (branch-free, so both variants match). */
static inline __attribute__((always_inline)) uint64_t call_loop(bool real, unsigned n, uint64_t *acc)
{
    uint64_t sum = 0;
    uint64_t t0 = hvu_rdtsc();
    for (unsigned i = 0; i < n; i++) {
        struct hv_msg m = { hv_tag(LABEL, 4, 0), 0, { i, i + 1u, i + 2u, i + 3u } };
        uint64_t err = bench_syscall(real, HV_SYS_CALL, ep, &m);
        sum += err + m.w[0] + m.w[3];
    }
    uint64_t t1 = hvu_rdtsc();
    *acc += sum;
    return t1 - t0;
}

static inline __attribute__((always_inline)) uint64_t yield_loop(bool real, unsigned n, uint64_t *acc)
{
    uint64_t sum = 0;
    uint64_t t0 = hvu_rdtsc();
    for (unsigned i = 0; i < n; i++) {
        struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
        sum += bench_syscall(real, HV_SYS_YIELD, 0, &m);
    }
    uint64_t t1 = hvu_rdtsc();
    *acc += sum;
    return t1 - t0;
}

/* Calls on an empty slot: the core looks the slot up and returns HV_ERR_EMPTY_SLOT. */
static inline __attribute__((always_inline)) uint64_t empty_loop(bool real, unsigned n, uint64_t *acc)
{
    uint64_t sum = 0;
    uint64_t t0 = hvu_rdtsc();
    for (unsigned i = 0; i < n; i++) {
        struct hv_msg m = { hv_tag(0, 0, 0), 0, { 0, 0, 0, 0 } };
        sum += bench_syscall(real, HV_SYS_CALL, empty_slot, &m);
    }
    uint64_t t1 = hvu_rdtsc();
    *acc += sum;
    return t1 - t0;
}

static __attribute__((noinline)) uint64_t call_batch(unsigned n, uint64_t *acc) { return call_loop(true, n, acc); }
static __attribute__((noinline)) uint64_t call_batch_overhead(unsigned n, uint64_t *acc)
{
    return call_loop(false, n, acc);
}
static __attribute__((noinline)) uint64_t yield_batch(unsigned n, uint64_t *acc) { return yield_loop(true, n, acc); }
static __attribute__((noinline)) uint64_t yield_batch_overhead(unsigned n, uint64_t *acc)
{
    return yield_loop(false, n, acc);
}

static __attribute__((noinline)) uint64_t empty_batch(unsigned n, uint64_t *acc) { return empty_loop(true, n, acc); }
static __attribute__((noinline)) uint64_t empty_batch_overhead(unsigned n, uint64_t *acc)
{
    return empty_loop(false, n, acc);
}

/* Echo server: every word plus one, label plus one; always back in recv before the client runs. */
static void server(uint64_t arg)
{
    (void)arg;
    struct hv_msg m = { 0, 0, { 0, 0, 0, 0 } };
    uint64_t err = hv_recv(ep, reply_obj, &m);
    for (;;) {
        if (err != HV_OK) {
            err = hv_recv(ep, reply_obj, &m);
            continue;
        }
        m.w[0] += 1;
        m.w[1] += 1;
        m.w[2] += 1;
        m.w[3] += 1;
        m.tag = hv_tag(hv_tag_label(m.tag) + 1, 4, 0);
        err = hv_reply_recv(ep, reply_obj, &m);
    }
}

struct series {
    struct hvu_series t;
    unsigned above_min;     /* batches that took longer than the smallest (interrupts, idle) */
};

typedef uint64_t (*batch_fn)(unsigned n, uint64_t *acc);

static struct series run_batches(batch_fn fn, uint64_t *acc)
{
    struct series s = { HVU_SERIES_INIT, 0 };
    uint64_t d[BATCHES];
    for (unsigned b = 0; b < BATCHES; b++) {
        d[b] = fn(PER, acc);
        hvu_series_add(&s.t, d[b]);
    }
    for (unsigned b = 0; b < BATCHES; b++)
        s.above_min += d[b] > s.t.min;
    return s;
}

/* Sum over the run of what call_loop adds up: err + w[0] + w[3] per call, for i = 0..PER-1 per batch. */
static uint64_t expected_call_sum(bool real)
{
    uint64_t per_batch = 0;
    for (unsigned i = 0; i < PER; i++)
        per_batch += real ? (uint64_t)(i + 1u) + (i + 4u) : HV_SYS_CALL + (uint64_t)i + (i + 3u);
    return per_batch * BATCHES;
}

/* Prints v/d rounded to two decimals. */
static void print_fixed2(const char *prefix, uint64_t v, uint64_t d, const char *suffix)
{
    uint64_t hundredths = d == 0 ? 0 : (v * 100u + d / 2u) / d;
    hvu_printf("%s%lu.%02lu%s", prefix, hundredths / 100u, hundredths % 100u, suffix);
}

/*
 * Prints one figure's batches and returns its cost per operation: smallest batch less
 * smallest overhead batch, over PER. The mean over all batches is shown for comparison;
 * it also counts timer interrupts and any idle time while a budget was throttled.
 */
static uint64_t report(const char *name, const char *what, struct series real, struct series overhead,
                       bool icount)
{
    bool sane = real.t.min > overhead.t.min && real.t.total > overhead.t.total;
    hvu_check(sane, name, "%s: %lu vs overhead %lu", what, real.t.min, overhead.t.min);
    if (!sane)
        return 0;
    uint64_t diff = real.t.min - overhead.t.min;
    hvu_printf("bench_ipc: %s: batch of %u min %lu, overhead loop min %lu: %lu per operation "
               "(%u of %u batches above the min)\n",
               what, PER, real.t.min, overhead.t.min, (diff + PER / 2u) / PER, real.above_min, BATCHES);
    print_fixed2("bench_ipc:   mean over all batches: ", real.t.total - overhead.t.total, (uint64_t)PER * BATCHES,
                 "\n");
    if (icount && diff % PER != 0)
        hvu_printf("bench_ipc: note: %lu is not a multiple of %u: operations differ\n", diff, PER);
    return (diff + PER / 2u) / PER;
}

/* Checks that the counter is an instruction counter: returns true when it is exactly one. */
static bool check_counter(void)
{
    uint64_t short_ticks = min_spin_ticks(SPIN_SHORT);
    uint64_t long_ticks = min_spin_ticks(SPIN_LONG);
    uint64_t instructions = 2ull * (SPIN_LONG - SPIN_SHORT);
    uint64_t ticks = long_ticks - short_ticks;
    hvu_printf("bench_ipc: counter: a loop of 2*%u instructions took %lu ticks, of 2*%u took %lu: "
               "%lu ticks per %lu instructions (fixed part %ld)\n",
               SPIN_SHORT, short_ticks, SPIN_LONG, long_ticks, ticks, instructions,
               (long)short_ticks - (long)(2u * SPIN_SHORT));
    print_fixed2("bench_ipc: counter: ", ticks, instructions, " ticks per instruction\n");
    return ticks == instructions;
}

void user_main(const struct hv_bootinfo *bi);

void user_main(const struct hv_bootinfo *bi)
{
    hvu_init(bi);
    bool icount = hvu_cmdline_has(bi->cmdline, "bench_icount=1");
    hvu_printf("bench_ipc: %u batches of %u operations; command line \"%s\"\n", BATCHES, PER, bi->cmdline);

    bool exact = check_counter();
    if (icount)
        hvu_check(exact, "bench.tsc_counts_instructions", "rdtsc does not advance once per instruction");

    uint64_t err;
    ep = hvu_retype(HV_OBJ_ENDPOINT, 0, &err);
    reply_obj = hvu_retype(HV_OBJ_REPLY, 0, &err);
    hvu_check(ep != 0 && reply_obj != 0, "bench.objects", "error %lu", err);
    struct hvu_thread srv;
    /* Above the root's priority: it is back in recv before the client runs again. Full budget. */
    err = hvu_thread_start(&srv, server, 0, SERVER_PRIORITY, 0, 10000, 10000);
    hvu_check(err == HV_OK, "bench.start_server", "error %lu", err);

    struct hv_msg m = { hv_tag(LABEL, 4, 0), 0, { 10, 20, 30, 40 } };
    err = hv_call(ep, &m);
    hvu_check(err == HV_OK && hv_tag_label(m.tag) == LABEL + 1 && hv_tag_length(m.tag) == 4 && m.w[0] == 11 &&
                  m.w[1] == 21 && m.w[2] == 31 && m.w[3] == 41,
              "bench.echo_reply", "err %lu label 0x%lx words %lu %lu %lu %lu", err, hv_tag_label(m.tag),
              m.w[0], m.w[1], m.w[2], m.w[3]);

    empty_slot = hvu_alloc_slot();
    uint64_t scratch = 0;
    for (unsigned i = 0; i < WARMUP / PER; i++) {
        (void)call_batch(PER, &scratch);
        (void)call_batch_overhead(PER, &scratch);
        (void)yield_batch(PER, &scratch);
        (void)yield_batch_overhead(PER, &scratch);
        (void)empty_batch(PER, &scratch);
        (void)empty_batch_overhead(PER, &scratch);
    }

    uint64_t acc_call = 0, acc_call0 = 0, acc_yield = 0, acc_yield0 = 0, acc_empty = 0, acc_empty0 = 0;
    struct series call = run_batches(call_batch, &acc_call);
    struct series call0 = run_batches(call_batch_overhead, &acc_call0);
    struct series yield = run_batches(yield_batch, &acc_yield);
    struct series yield0 = run_batches(yield_batch_overhead, &acc_yield0);
    /* The other candidate for the null system call: a call on an empty slot (an error). */
    struct series empty = run_batches(empty_batch, &acc_empty);
    struct series empty0 = run_batches(empty_batch_overhead, &acc_empty0);

    hvu_check(acc_call == expected_call_sum(true), "bench.all_replies_correct", "sum %lu expected %lu",
              acc_call, expected_call_sum(true));
    hvu_check(acc_call0 == expected_call_sum(false), "bench.overhead_loop_ran", "sum %lu expected %lu",
              acc_call0, expected_call_sum(false));
    hvu_check(acc_yield == HV_OK, "bench.yields_succeeded", "error sum %lu", acc_yield);
    hvu_check(acc_empty == (uint64_t)HV_ERR_EMPTY_SLOT * PER * BATCHES, "bench.empty_slot_is_error",
              "error sum %lu", acc_empty);

    uint64_t ipc = report("bench.ipc_costs_more_than_loop", "call + reply_recv round trip, 4 words", call,
                          call0, icount);
    uint64_t null_sc = report("bench.yield_costs_more_than_loop", "yield, nothing else runnable at its priority",
                              yield, yield0, icount);
    (void)report("bench.error_costs_more_than_loop", "call on an empty slot (HV_ERR_EMPTY_SLOT)", empty, empty0,
                 icount);
    if (!exact)
        hvu_printf("bench_ipc: note: rdtsc is not an instruction counter here (no -icount shift=0): "
                   "the figures below are timestamp ticks, for a smoke test only\n");

    hvu_printf("BENCH ipc_roundtrip_instructions %lu instructions\n", ipc);
    hvu_printf("BENCH null_syscall_instructions %lu instructions\n", null_sc);
    print_fixed2("BENCH ipc_to_null_syscall_ratio ", ipc, null_sc, " x\n");
    hvu_finish();
}
