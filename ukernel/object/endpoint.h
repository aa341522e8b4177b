/* SPDX-License-Identifier: MIT */
/* endpoint: synchronous IPC rendezvous with badges: call / reply-recv / send / recv. */
#ifndef HV_OBJECT_ENDPOINT_H
#define HV_OBJECT_ENDPOINT_H

#include <stddef.h>

#include "../kernel/assert.h"
#include "kobj.h"
#include "tcb.h"

enum endpoint_state { EP_IDLE = 0, EP_SENDERS, EP_RECEIVERS };

/* Invariant: the queue holds only senders or only receivers, FIFO; empty iff EP_IDLE. */
struct endpoint {
    struct kobj hdr;
    uint32_t state;
    uint32_t reserved;
    struct tcb *head;
    struct tcb *tail;
};

static inline struct endpoint *endpoint_of(const struct cap *c)
{
    return (struct endpoint *)(uintptr_t)c->object;
}

/* Appends `t` (on no queue) as a sender or a receiver; the endpoint holds only that kind. */
static inline void endpoint_enqueue(struct endpoint *ep, struct tcb *t, enum endpoint_state as)
{
    kassert(ep->state == EP_IDLE || ep->state == (uint32_t)as);
    t->blocked_ep = ep;
    t->q_next = NULL;
    t->q_prev = ep->tail;
    if (ep->tail != NULL)
        ep->tail->q_next = t;
    else
        ep->head = t;
    ep->tail = t;
    ep->state = as;
}

/* Takes `t` (queued here) off the endpoint. */
static inline void endpoint_dequeue(struct endpoint *ep, struct tcb *t)
{
    kassert(t->blocked_ep == ep);
    if (t->q_prev != NULL)
        t->q_prev->q_next = t->q_next;
    else
        ep->head = t->q_next;
    if (t->q_next != NULL)
        t->q_next->q_prev = t->q_prev;
    else
        ep->tail = t->q_prev;
    t->q_next = NULL;
    t->q_prev = NULL;
    t->blocked_ep = NULL;
    if (ep->head == NULL)
        ep->state = EP_IDLE;
}

/* Wakes every queued thread with HV_ERR_CANCELLED (the endpoint is going away). */
void endpoint_finalize(struct endpoint *ep);

#endif
