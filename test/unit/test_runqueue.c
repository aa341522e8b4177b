/* SPDX-License-Identifier: MIT */
/* test_runqueue.c: the run queue's membership test (ukernel/kernel/runqueue.h) against threads queued on an endpoint, which share its links. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/runqueue.h"
#include "object/endpoint.h"

struct run_queue sched_queues[CONFIG_MAX_CPUS];

static struct tcb a, b, c;
static struct endpoint ep;

static int setup(void **state)
{
    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    memset(&ep, 0, sizeof(ep));
    memset(&sched_queues[0], 0, sizeof(sched_queues[0]));
    a.priority = b.priority = c.priority = 100;
    return 0;
}

/* Two vCPU threads blocked sending to one exit endpoint: the second has q_prev set, yet it
 * is on no run queue (the SMP vmm's case: sched_exit_to_user once took it for queued). */
static void test_blocked_senders_not_on_run_queue(void **state)
{
    (void)state;
    struct run_queue *q = &sched_queues[0];
    a.state = b.state = THREAD_BLOCKED_SEND;
    endpoint_enqueue(&ep, &a, EP_SENDERS);
    endpoint_enqueue(&ep, &b, EP_SENDERS);
    assert_ptr_equal(b.q_prev, &a);
    assert_false(runqueue_contains(q, &a));
    assert_false(runqueue_contains(q, &b));
    /* A runnable thread on the run queue is found, at the head and behind it. */
    c.state = THREAD_RUNNABLE;
    runqueue_append(q, &c);
    assert_true(runqueue_contains(q, &c));
    struct tcb d;
    memset(&d, 0, sizeof(d));
    d.priority = 100;
    d.state = THREAD_RUNNABLE;
    runqueue_append(q, &d);
    assert_true(runqueue_contains(q, &d));
    runqueue_unlink(q, &d);
    assert_false(runqueue_contains(q, &d));
    /* The endpoint queue is untouched by all this. */
    assert_ptr_equal(ep.head, &a);
    assert_ptr_equal(ep.tail, &b);
    endpoint_dequeue(&ep, &a);
    endpoint_dequeue(&ep, &b);
    assert_int_equal(ep.state, EP_IDLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_blocked_senders_not_on_run_queue, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
