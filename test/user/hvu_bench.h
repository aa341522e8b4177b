/* SPDX-License-Identifier: MIT */
/* hvu_bench: what the timing programs share — the time-stamp counter, command-line tokens, batch series. */
#ifndef HV_TEST_USER_HVU_BENCH_H
#define HV_TEST_USER_HVU_BENCH_H

#include <stdbool.h>
#include <stdint.h>

/* The time-stamp counter (an instruction counter under QEMU -icount shift=0, see bench/README.md).
 * The memory clobber keeps the compiler from moving the timed code across it. */
static inline uint64_t hvu_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

/* True if `token` stands in the space-separated `cmdline` as a whole word. */
bool hvu_cmdline_has(const char *cmdline, const char *token);

/*
 * A series of batch timings: the smallest (what the benchmarks report: the batch least
 * disturbed by interrupts), the sum (for the mean) and how many. Invariant: n == 0 exactly
 * when min == UINT64_MAX and total == 0.
 */
struct hvu_series {
    uint64_t min;
    uint64_t total;
    unsigned n;
};

#define HVU_SERIES_INIT { UINT64_MAX, 0, 0 }

void hvu_series_add(struct hvu_series *s, uint64_t ticks);
/* Mean over the n batches of per operations each, rounded down (0 for an empty series). */
uint64_t hvu_series_mean(const struct hvu_series *s, unsigned per);

#endif
