/* SPDX-License-Identifier: MIT */
/* test_hvu_bench.c: the timing programs' shared helpers (test/user/hvu_bench.c) — command-line tokens, batch series. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "hvu_bench.h"

static void test_cmdline_tokens(void **state)
{
    (void)state;
    assert_true(hvu_cmdline_has("bench_icount=1", "bench_icount=1"));
    assert_true(hvu_cmdline_has("a bench_icount=1 b", "bench_icount=1"));
    assert_true(hvu_cmdline_has("x fastpath=off", "fastpath=off"));
    /* whole words only: not a prefix, not a suffix, not inside another word */
    assert_false(hvu_cmdline_has("bench_icount=10", "bench_icount=1"));
    assert_false(hvu_cmdline_has("xbench_icount=1", "bench_icount=1"));
    assert_false(hvu_cmdline_has("fastpath=offline", "fastpath=off"));
    assert_false(hvu_cmdline_has("", "fastpath=off"));
    assert_false(hvu_cmdline_has("a b", ""));
    /* a later occurrence counts after a near miss */
    assert_true(hvu_cmdline_has("fastpath=offx fastpath=off", "fastpath=off"));
    printf("PASS: hvu_cmdline_has\n");
}

static void test_series(void **state)
{
    (void)state;
    struct hvu_series s = HVU_SERIES_INIT;
    assert_int_equal(s.n, 0);
    assert_int_equal(hvu_series_mean(&s, 10), 0);
    static const uint64_t d[] = { 700, 500, 900, 500, 650 };
    for (unsigned i = 0; i < 5; i++)
        hvu_series_add(&s, d[i]);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.min, 500);
    assert_int_equal(s.total, 3250);
    assert_int_equal(hvu_series_mean(&s, 10), 65);   /* 3250 over 5 batches of 10 */
    printf("PASS: hvu_series min, total, mean\n");
}

static void test_rdtsc_advances(void **state)
{
    (void)state;
    uint64_t a = hvu_rdtsc();
    volatile unsigned spin = 0;
    for (unsigned i = 0; i < 100000; i++)
        spin = spin + i;
    uint64_t b = hvu_rdtsc();
    assert_true(b > a);
    printf("PASS: hvu_rdtsc advances\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdline_tokens),
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_rdtsc_advances),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("SUMMARY: 3 tests, %d failures\n", failed);
    return failed;
}
