/* SPDX-License-Identifier: MIT */
/* notification: an asynchronous signal word; signals OR their badge in, a wait takes the word. */
#ifndef HV_OBJECT_NOTIFICATION_H
#define HV_OBJECT_NOTIFICATION_H

#include <stdbool.h>

#include "../include/hv/errors.h"
#include "../include/hv/syscall.h"
#include "cap.h"
#include "kobj.h"
#include "tcb.h"

/*
 * The timer (NOTIFICATION_SET_TIMER) lives inside the object, so arming needs no
 * memory: a deadline, the bits it signals, and the links of the core's one list of
 * armed notifications, sorted by deadline (earliest first) and guarded by the
 * kernel lock. Invariant: timer_deadline != 0 iff the notification is on that list.
 */
struct notification {
    struct kobj hdr;
    uint32_t active;        /* signalled since the last wait (even with badge 0) */
    uint64_t word;          /* pending bits */
    struct tcb *head;       /* waiters, FIFO */
    struct tcb *tail;
    struct tcb *bound_tcb;  /* a thread that also receives it while blocked in recv */
    uint64_t timer_deadline;            /* TSC value; 0 = not armed */
    uint64_t timer_bits;                /* signalled when it expires (never 0 while armed) */
    struct notification *timer_next;    /* the armed list, by deadline */
    struct notification *timer_prev;
};

static inline struct notification *notification_of(const struct cap *c)
{
    return (struct notification *)(uintptr_t)c->object;
}

/* Signals with `badge` (from the cap, or the IRQ); wakes one waiter or the bound receiver. */
void notification_signal(struct notification *n, uint64_t badge);
/*
 * Takes a pending signal: true (word in *bits, possibly 0 for an unbadged signal) if
 * there was one since the last take, as seL4's active state; false otherwise.
 */
bool notification_take(struct notification *n, uint64_t *bits);
void notification_dequeue(struct notification *n, struct tcb *t);
/* The last cap is gone: waiters cancelled, binding cut, timer disarmed (off the list). */
void notification_finalize(struct notification *n);

/* NOTIFICATION_SET_TIMER (the only invocation; `call` with label 0 signals instead). */
enum hv_error notification_invoke(struct cte *slot, uint64_t label, const uint64_t *args, unsigned nargs);

/*
 * Signals, in deadline order, every armed notification whose deadline is <= now and
 * disarms it. Called with the kernel lock held, from the timer tick of every CPU.
 */
void notification_timers_expire(uint64_t now);

#endif
