/* SPDX-License-Identifier: MIT */
/* ktest: suite lookup, check reporting and the summary line the harness reads. */
#include "ktest.h"

#include <stdarg.h>
#include <stdint.h>

#include "../kernel/console.h"
#include "../kernel/platform.h"
#include "../lib/kstring.h"

extern const struct ktest_suite __ktest_start[];
extern const struct ktest_suite __ktest_end[];

static const char *current_suite = "?";

/* The suites are linker-collected; count them by address (no cross-object pointer compare). */
static size_t suite_count(void)
{
    return ((uintptr_t)__ktest_end - (uintptr_t)__ktest_start) / sizeof(struct ktest_suite);
}
static unsigned checks_run;
static unsigned checks_failed;

void ktest_check(bool ok, const char *name, const char *detail_fmt, ...)
{
    checks_run++;
    if (ok) {
        kprintf("PASS: %s.%s\n", current_suite, name);
        return;
    }
    checks_failed++;
    kprintf("FAIL: %s.%s: ", current_suite, name);
    va_list ap;
    va_start(ap, detail_fmt);
    kvprintf(detail_fmt, ap);
    va_end(ap);
    kprintf("\n");
}

bool ktest_cmdline_u64(const struct boot_info *bi, const char *key, unsigned long *out)
{
    char buf[24];
    if (!bootinfo_cmdline_get(bi, key, buf, sizeof(buf)) || buf[0] == '\0')
        return false;
    unsigned long v = 0;
    for (const char *p = buf; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    *out = v;
    return true;
}

void ktest_run(const char *suite, const struct boot_info *bi)
{
    const struct ktest_suite *found = NULL;
    for (size_t i = 0; i < suite_count(); i++) {
        if (strcmp(__ktest_start[i].name, suite) == 0)
            found = &__ktest_start[i];
    }
    if (found == NULL) {
        kprintf("ktest: no suite named '%s'; suites:", suite);
        for (size_t i = 0; i < suite_count(); i++)
            kprintf(" %s", __ktest_start[i].name);
        kprintf("\n");
        platform_exit(false);
    }
    current_suite = found->name;
    kprintf("ktest: running suite %s\n", found->name);
    found->run(bi);
    kprintf("SUMMARY: %u tests, %u failures\n", checks_run, checks_failed);
    platform_exit(checks_run > 0 && checks_failed == 0);
}
