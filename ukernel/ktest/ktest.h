/* SPDX-License-Identifier: MIT */
/* ktest: in-core test suites selected by "test=<suite>" on the command line; PASS/FAIL/SUMMARY over serial. */
#ifndef HV_KTEST_KTEST_H
#define HV_KTEST_KTEST_H

#include <stdbool.h>

#include "../kernel/bootinfo.h"

struct ktest_suite {
    const char *name;
    void (*run)(const struct boot_info *bi);
};

/* Defines and registers a suite (collected from the .ktest section). */
#define KTEST_SUITE(suite_name)                                                        \
    static void ktest_suite_fn_##suite_name(const struct boot_info *bi);               \
    static const struct ktest_suite ktest_suite_##suite_name                           \
        __attribute__((section(".ktest"), used, aligned(8))) = {                       \
            #suite_name, ktest_suite_fn_##suite_name };                                \
    static void ktest_suite_fn_##suite_name(const struct boot_info *bi)

/*
 * Reports one check: "PASS: <suite>.<name>" or "FAIL: <suite>.<name>: <detail>".
 * The detail is formatted only on failure, so it can show the values that differed.
 */
void ktest_check(bool ok, const char *name, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs the named suite, prints "SUMMARY: N tests, M failures" and ends the run. */
__attribute__((noreturn)) void ktest_run(const char *suite, const struct boot_info *bi);

/* Parses an unsigned decimal command-line value; false if absent or malformed. */
bool ktest_cmdline_u64(const struct boot_info *bi, const char *key, unsigned long *out);

#endif
