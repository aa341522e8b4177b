/* SPDX-License-Identifier: MIT */
/* notification: an asynchronous signal word; signals OR their badge in, a wait takes the word. */
#ifndef HV_OBJECT_NOTIFICATION_H
#define HV_OBJECT_NOTIFICATION_H

#include <stdbool.h>

#include "kobj.h"
#include "tcb.h"

struct notification {
    struct kobj hdr;
    uint32_t active;        /* signalled since the last wait (even with badge 0) */
    uint64_t word;          /* pending bits */
    struct tcb *head;       /* waiters, FIFO */
    struct tcb *tail;
    struct tcb *bound_tcb;  /* a thread that also receives it while blocked in recv */
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
void notification_finalize(struct notification *n);

#endif
