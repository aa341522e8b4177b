/* SPDX-License-Identifier: MIT */
/* vmm_test: what the vmm device tests share — cmocka includes, a settable VM clock, an IRQ-line recorder. */
#ifndef VMM_TEST_H
#define VMM_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vdev.h"

/* VM time is whatever the test says it is. */
static uint64_t test_now;
static uint64_t test_clock_now(void *ctx)
{
    (void)ctx;
    return test_now;
}
static const struct vclock test_clock = { test_clock_now, 0 };

/* Interrupt lines: level now and rising edges seen, per line. */
struct test_irqs {
    bool level[32];
    unsigned rises[32];
};
static struct test_irqs test_irq;
static void test_irq_set(void *ctx, unsigned line, bool asserted)
{
    struct test_irqs *t = ctx;
    if (asserted && !t->level[line])
        t->rises[line]++;
    t->level[line] = asserted;
}
static inline struct vdev_irq test_irq_line(unsigned line)
{
    return (struct vdev_irq){ test_irq_set, &test_irq, line };
}

/* Whole-VM events. */
static uint32_t test_events;
static void test_event(void *ctx, enum vdev_event ev)
{
    (void)ctx;
    test_events |= (uint32_t)ev;
}
static const struct vdev_events test_event_sink = { test_event, 0 };

static inline void test_reset_common(void)
{
    test_now = 0;
    memset(&test_irq, 0, sizeof(test_irq));
    test_events = 0;
}

#endif
